"""Who is calling an IAM-protected function (sharing, sync): the `email` of a Google ID token, or of IAP's assertion.

The rule: authorize only on a token whose signature was verified, here or by Google in front of the function.

- A token that carries a signature is verified here against the issuer's published keys (RS256 only).
- Cloud Run verifies the ID token of an IAM-protected service and hands it on with its signature replaced by
  `SIGNATURE_REMOVED_BY_GOOGLE`. It verifies `X-Serverless-Authorization` when that header is present, else
  `Authorization`, and passes the other header on untouched. So a stripped token proves something only where
  config says Cloud Run IAM is in front (`iam_protected`) and only in the header Cloud Run verified; the claims
  it carries are then Google's, checked again here. A stripped token anywhere else, or in the header Cloud Run
  did not verify, is refused: it is exactly what a caller could have written.
- Every token, signed or stripped: `iss` is the configured issuer, `aud` one of the configured audiences (never
  derived from request headers such as Host or X-Forwarded-Proto), `exp`, `iat` and `nbf` hold against the
  injected clock within a small skew, and `email_verified` is the JSON value `true`.
- With IAP in front (`sharing.iap_audience`), the identity is read from `x-goog-iap-jwt-assertion` only: an
  ES256 JWT from `https://cloud.google.com/iap` whose `aud` names the protected backend, verified against IAP's
  published keys. Headers a caller can set (Authorization, X-Goog-Authenticated-User-Email) are not believed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from .clock import Clock
from .errors import Unauthenticated
from .jwt_keys import KeySet, unverified_parts

STRIPPED_SIGNATURE = "SIGNATURE_REMOVED_BY_GOOGLE"
SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization"
IAP_ASSERTION = "x-goog-iap-jwt-assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
_GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class RequestHeaders(Protocol):
    """What the identity checks read of a request's headers: werkzeug's case-insensitive `Headers` or a mapping."""

    def get(self, key: str) -> str | None: ...


class IdentityVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        keys: KeySet,
        audiences: Sequence[str],
        iam_protected: bool,
        clock: Clock,
        skew_seconds: int = 30,
        iap: IapVerifier | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.keys = keys
        self.audiences = tuple(audiences)
        self.iam_protected = iam_protected
        self._clock = clock
        self._skew = skew_seconds
        self._iap = iap

    def caller_email(self, headers: RequestHeaders) -> str:
        """The verified caller email (lower-case), or `Unauthenticated` saying what is wrong."""
        if self._iap is not None:
            return self._iap.caller_email(headers)
        serverless = (headers.get(SERVERLESS_AUTHORIZATION) or "").strip()
        authorization = (headers.get("Authorization") or "").strip()
        if serverless:
            if _is_unsigned_jwt(authorization):
                raise Unauthenticated(
                    "An unsigned token in `Authorization` is refused: the identity is read from "
                    "`X-Serverless-Authorization`, the header Google verified."
                )
            token = _bearer(serverless, SERVERLESS_AUTHORIZATION)
        else:
            token = _bearer(authorization, "Authorization")
        _, claims, signature = unverified_parts(token)
        if signature == STRIPPED_SIGNATURE:
            if not self.iam_protected:
                raise Unauthenticated("The ID token carries no signature; send a signed Google ID token.")
        elif not signature:
            raise Unauthenticated("The ID token carries no signature; send a signed Google ID token.")
        else:
            _, claims = self.keys.verify(token)
        return self._checked(claims)

    def _checked(self, claims: dict[str, Any]) -> str:
        if not self.audiences:
            raise Unauthenticated("This function has no configured ID-token audience, so it accepts no token.")
        issuer = str(claims.get("iss", "")).rstrip("/")
        trusted = (self.issuer,) if self.issuer not in _GOOGLE_ISSUERS else _GOOGLE_ISSUERS
        if issuer not in trusted:
            raise Unauthenticated("The ID token was issued by an issuer this function does not trust.")
        if not _audience_ok(claims.get("aud"), self.audiences):
            raise Unauthenticated("The ID token is meant for another audience.")
        check_times(claims, self._clock.now(), self._skew)
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise Unauthenticated("The ID token has no `email` claim; mint it with the email included.")
        if claims.get("email_verified") is not True:
            raise Unauthenticated("The ID token's email is not verified.")
        return email.lower()


class IapVerifier:
    """The caller as Identity-Aware Proxy asserts it, in `x-goog-iap-jwt-assertion` (ES256, IAP's own keys)."""

    def __init__(self, *, keys: KeySet, audience: str, clock: Clock, skew_seconds: int = 30) -> None:
        self.keys = keys
        self.audience = audience
        self._clock = clock
        self._skew = skew_seconds

    def caller_email(self, headers: RequestHeaders) -> str:
        assertion = (headers.get(IAP_ASSERTION) or "").strip()
        if not assertion:
            raise Unauthenticated("This function is behind Identity-Aware Proxy: sign in through IAP.")
        _, claims = self.keys.verify(assertion)
        if claims.get("iss") != IAP_ISSUER:
            raise Unauthenticated("The IAP assertion was issued by an issuer this function does not trust.")
        if not _audience_ok(claims.get("aud"), (self.audience,)):
            raise Unauthenticated("The IAP assertion is meant for another backend.")
        check_times(claims, self._clock.now(), self._skew)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise Unauthenticated("The IAP assertion has no `email` claim.")
        return email.removeprefix("accounts.google.com:").lower()


def check_times(claims: Mapping[str, Any], now: datetime, skew: int) -> None:
    """`exp` and `iat` required, `nbf` honoured, each within `skew` seconds of `now`."""
    moment = now.timestamp()

    def number(name: str) -> float | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Unauthenticated(f"The token's `{name}` claim is not a number.")
        return float(value)

    expires, issued, not_before = number("exp"), number("iat"), number("nbf")
    if expires is None or issued is None:
        raise Unauthenticated("The token has no `exp` or `iat` claim.")
    if expires < moment - skew:
        raise Unauthenticated("The token has expired.")
    if issued > moment + skew:
        raise Unauthenticated("The token was issued in the future; check the clocks.")
    if not_before is not None and not_before > moment + skew:
        raise Unauthenticated("The token is not valid yet (`nbf`).")


def _audience_ok(audience: object, accepted: Sequence[str]) -> bool:
    values = audience if isinstance(audience, list) else [audience]
    wanted = {a.rstrip("/") for a in accepted}
    return any(isinstance(value, str) and value and value.rstrip("/") in wanted for value in values)


def _bearer(value: str, header: str) -> str:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(f"Send `{header}: Bearer <Google ID token>`.")
    return token.strip()


def _is_unsigned_jwt(value: str) -> bool:
    scheme, _, token = value.partition(" ")
    parts = token.strip().split(".")
    return scheme.lower() == "bearer" and len(parts) == 3 and parts[2] in ("", STRIPPED_SIGNATURE)
