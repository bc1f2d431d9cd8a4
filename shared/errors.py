"""The project's own error family: every failure a caller can see, each with its HTTP status and code.

    AppError                    500 internal        the base; never raised as such
    ├── InvalidRequest          400 invalid_request   the request is malformed (details.fields names each bad field)
    ├── Unauthenticated         401 unauthenticated   no or bad ID token / booking token (WWW-Authenticate)
    ├── Forbidden               403 forbidden         authenticated, but not allowed (or a policy refuses it)
    ├── NotFound                404 not_found         no such route, calendar, booking or rule
    ├── MethodNotAllowed        405 method_not_allowed  the path exists, the method does not (Allow)
    ├── Conflict                409 conflict          the request contradicts the current state
    │   ├── SlotUnavailable     409 slot_unavailable  the slot is taken (or was lost in a race)
    │   ├── RequestAlreadyBooked 409 request_already_booked  this very request was booked from another client
    │   └── PreconditionFailed  409 conflict          a compare-and-swap lost: the object changed since it was read
    ├── Gone                    410 gone              the thing existed and is deleted for good
    │   └── ConfirmationExpired 410 confirmation_expired  a pending booking was not confirmed in time
    ├── PayloadTooLarge         413 payload_too_large the body is over the limit
    ├── UnsupportedMediaType    415 unsupported_media_type  the body is not `application/json`
    ├── TooManyRequests         429 rate_limited      a client or visitor limit (Retry-After)
    ├── NotConfigured           500 not_configured    the deployment lacks a setting it needs (operator's fix)
    │   └── SyncNotConfigured   500 not_configured    the sync has no [snapshot] location to write to
    ├── UpstreamError           502 upstream_error    Google answered something we cannot use
    │   ├── SecretError         502 upstream_error    the credentials secret is missing, disabled or malformed
    │   └── DelegationError     502 upstream_error    domain-wide delegation is not set up as needed (Admin console)
    └── UpstreamUnavailable     503 upstream_unavailable  retry later (Retry-After)

`NotConfigured` is a 500, not a 503 and not a 502: nothing upstream failed and retrying will not help until the
operator changes the deployment (an env variable or a config key); 503 would tell clients and Cloud Scheduler to
retry, and 502 would blame Google.

`GoogleApiError` carries what Google said (`status`, `reason`) when a Google call failed for good; it maps onto
the family by status so that use cases can catch e.g. `NotFound` whatever its source:

    GoogleApiError
    ├── GoogleBadRequest      (also InvalidRequest)       Google 400
    ├── GoogleForbidden       (also Forbidden)            Google 403 (not a rate limit)
    ├── GoogleNotFound        (also NotFound)             Google 404
    ├── GoogleConflict        (also Conflict)             Google 409, 412
    ├── GoogleGone            (also Gone)                 Google 410
    ├── GoogleUnavailable     (also UpstreamUnavailable)  Google 429, 5xx
    └── GoogleUpstreamError   (also UpstreamError)        any other Google status

Messages never contain secrets, tokens or keys.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(AppError):
    status, code = 400, "invalid_request"

    def __init__(
        self, message: str, *, fields: dict[str, str] | None = None, details: dict[str, Any] | None = None
    ) -> None:
        merged = dict(details or {})
        if fields:
            merged["fields"] = fields
        super().__init__(message, details=merged)


class Unauthenticated(AppError):
    status, code = 401, "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class MethodNotAllowed(AppError):
    status, code = 405, "method_not_allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Use one of {', '.join(sorted(set(allowed)))} here.", details={"allowed": sorted(allowed)})
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(sorted(set(self.allowed)))}


class Conflict(AppError):
    status, code = 409, "conflict"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class RequestAlreadyBooked(Conflict):
    """This very request (same Idempotency-Key, same body) was booked from another client: the booking is
    described, its token withheld (shared/booking/repeats.py)."""

    code = "request_already_booked"


class PreconditionFailed(Conflict):
    """The snapshot changed since it was read: another writer won the race."""


class Gone(AppError):
    status, code = 410, "gone"


class ConfirmationExpired(Gone):
    """A pending booking (booking.confirm_email) was not confirmed in time: its time was released."""

    code = "confirmation_expired"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class _RetryLater(AppError):
    """An answer that says when to try again (`Retry-After`, in seconds; `default_retry_after` unless given)."""

    default_retry_after = 5

    def __init__(self, message: str, *, retry_after: int | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = self.default_retry_after if retry_after is None else retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyRequests(_RetryLater):
    status, code = 429, "rate_limited"
    default_retry_after = 60


class NotConfigured(AppError):
    """The deployment lacks a setting it needs; the message names the env variable or config key to set."""

    status, code = 500, "not_configured"


class SyncNotConfigured(NotConfigured):
    """The sync has nowhere to write: no [snapshot] location."""


class UpstreamError(AppError):
    status, code = 502, "upstream_error"


class SecretError(UpstreamError):
    """The credentials secret cannot be used. The message names the secret, never its content."""


class DelegationError(UpstreamError):
    """Google refused to let the service account act as a user: a domain-wide delegation setup problem."""


class UpstreamUnavailable(_RetryLater):
    status, code = 503, "upstream_unavailable"


class GoogleApiError(AppError):
    """What Google said when a call failed for good: its HTTP status and `reason`, kept in `details`.

    Built with `google_api_error()`, which picks the subclass that also belongs to the matching family member,
    so that `except NotFound` catches a Google 404 as well.
    """

    def __init__(self, google_status: int, reason: str, message: str) -> None:
        super().__init__(message, details={"reason": reason, "googleStatus": google_status})
        self.google_status = google_status
        self.reason = reason


class GoogleBadRequest(GoogleApiError, InvalidRequest):
    pass


class GoogleForbidden(GoogleApiError, Forbidden):
    pass


class GoogleNotFound(GoogleApiError, NotFound):
    pass


class GoogleConflict(GoogleApiError, Conflict):
    pass


class GoogleGone(GoogleApiError, Gone):
    pass


class GoogleUnavailable(GoogleApiError, UpstreamUnavailable):
    retry_after = 5


class GoogleUpstreamError(GoogleApiError, UpstreamError):
    pass


_BY_STATUS: dict[int, type[GoogleApiError]] = {
    400: GoogleBadRequest,
    403: GoogleForbidden,
    404: GoogleNotFound,
    409: GoogleConflict,
    412: GoogleConflict,
    410: GoogleGone,
    429: GoogleUnavailable,
}


def google_api_error(google_status: int, reason: str, message: str) -> GoogleApiError:
    cls = _BY_STATUS.get(google_status)
    if cls is None:
        cls = GoogleUnavailable if google_status >= 500 else GoogleUpstreamError
    return cls(google_status, reason, message)
