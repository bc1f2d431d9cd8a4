"""The project's own error family: every failure a caller can see, each with its HTTP status and code.

    AppError
    ├── InvalidRequest        400 invalid_request   (details.fields names each bad field)
    ├── Unauthenticated       401 unauthenticated
    ├── Forbidden             403 forbidden
    ├── NotFound              404 not_found
    ├── Conflict              409 conflict
    │   └── SlotUnavailable   409 slot_unavailable
    ├── Gone                  410 gone
    ├── PayloadTooLarge       413 payload_too_large
    ├── UnsupportedMediaType  415 unsupported_media_type
    ├── TooManyRequests       429 rate_limited       (a client or visitor limit; Retry-After)
    ├── UpstreamError         502 upstream_error     (Google answered something we cannot use)
    │   ├── SecretError       the credentials secret is missing, disabled or malformed (operator's fix)
    │   └── DelegationError   domain-wide delegation is not set up as needed (Admin console fix)
    └── UpstreamUnavailable   503 upstream_unavailable (retry later; Retry-After)

`GoogleApiError` carries what Google said (`status`, `reason`) when a Google call failed for good; it maps onto
the family by status so that use cases can catch e.g. `NotFound` whatever its source.
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


class Conflict(AppError):
    status, code = 409, "conflict"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class Gone(AppError):
    status, code = 410, "gone"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(AppError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 60, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamError(AppError):
    status, code = 502, "upstream_error"


class SecretError(UpstreamError):
    """The credentials secret cannot be used. The message names the secret, never its content."""


class DelegationError(UpstreamError):
    """Google refused to let the service account act as a user: a domain-wide delegation setup problem."""


class UpstreamUnavailable(AppError):
    status, code = 503, "upstream_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


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
