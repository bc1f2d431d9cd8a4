"""Who is calling an IAM-protected function: the `email` of a Google ID token.

Cloud Run verifies ID tokens for IAM-protected services and strips their signature before the request arrives.
A token that still carries a signature is verified here (issuer, audience, expiry, signature against the
issuer's published certificates); a stripped one is accepted only where the config says IAM is in front.
Time claims (`exp`, `iat`, `nbf`) are judged on the instance's clock, not the library's, so that a pinned clock
and a pinned emulator agree; google-auth checks the signature.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .errors import Unauthenticated

_STRIPPED_SIGNATURES = ("", "SIGNATURE_REMOVED_BY_GOOGLE")
_CERTS_TTL = 3600.0
_CLOCK_SKEW = 10


class IdentityVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        certs_url: str,
        audiences: Sequence[str] = (),
        iam_protected: bool,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        self.issuer = issuer.rstrip("/")
        self.certs_url = certs_url
        self.audiences = tuple(audiences)
        self.iam_protected = iam_protected
        self._lock = threading.Lock()
        self._certs: tuple[float, dict[str, str]] | None = None

    def caller_email(self, authorization: str | None, *, own_url: str) -> str:
        """The verified caller email, or `Unauthenticated` saying what is wrong."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send `Authorization: Bearer <Google ID token>`.")
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise Unauthenticated("The bearer token is not a JWT.")
        if parts[2] in _STRIPPED_SIGNATURES:
            if not self.iam_protected:
                raise Unauthenticated("The ID token carries no signature; send a signed Google ID token.")
            claims = _unverified_claims(parts[1])
            self._check_times(claims)
        else:
            claims = self._verified_claims(token.strip(), own_url)
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise Unauthenticated("The ID token has no `email` claim; mint it with the email included.")
        if claims.get("email_verified") is False:
            raise Unauthenticated("The ID token's email is not verified.")
        return email.lower()

    def _verified_claims(self, token: str, own_url: str) -> dict[str, Any]:
        from google.auth import crypt

        header_part, payload_part, signature_part = token.split(".")
        header = _unverified_claims(header_part)
        claims = _unverified_claims(payload_part)
        if header.get("alg") != "RS256":
            raise Unauthenticated("The ID token was refused: it is not signed with RS256, as Google signs ID tokens.")
        certs = self._fetch_certs()
        key_id = header.get("kid")
        candidates = [certs[key_id]] if isinstance(key_id, str) and key_id in certs else []
        try:
            signature = base64.urlsafe_b64decode(signature_part + "=" * (-len(signature_part) % 4))
            valid = bool(candidates) and crypt.verify_signature(  # type: ignore[no-untyped-call]
                f"{header_part}.{payload_part}".encode(), signature, candidates
            )
        except ValueError:
            valid = False
        if not valid:
            raise Unauthenticated("The ID token was refused: its signature does not verify.")
        audiences = list(self.audiences) or _own_audiences(own_url)
        if claims.get("aud") not in audiences:
            raise Unauthenticated("The ID token was refused: it is meant for another audience.")
        self._check_times(claims)
        issuer = str(claims.get("iss", "")).rstrip("/")
        google_alias = self.issuer == "https://accounts.google.com" and issuer == "accounts.google.com"
        if issuer != self.issuer and not google_alias:
            raise Unauthenticated("The ID token was issued by an issuer this function does not trust.")
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock.now().timestamp()
        try:
            expires, issued = float(claims["exp"]), float(claims.get("iat", 0))
            not_before = float(claims.get("nbf", issued))
        except (KeyError, TypeError, ValueError):
            raise Unauthenticated("The ID token was refused: it carries no valid `exp`.") from None
        if expires < now - _CLOCK_SKEW:
            raise Unauthenticated("The ID token was refused: it has expired.")
        if max(issued, not_before) > now + _CLOCK_SKEW:
            raise Unauthenticated("The ID token was refused: it is not valid yet.")

    def _fetch_certs(self) -> dict[str, str]:
        with self._lock:
            if self._certs is not None and self._clock.monotonic() - self._certs[0] < _CERTS_TTL:
                return self._certs[1]
        import requests

        try:
            response = requests.get(self.certs_url, timeout=5)
            response.raise_for_status()
            certs = response.json()
        except (requests.RequestException, ValueError):
            message = "The ID token cannot be checked now: the issuer's certificates are unreachable."
            raise Unauthenticated(message) from None
        if not isinstance(certs, dict) or "keys" in certs:
            raise Unauthenticated("The configured certs_url must serve PEM certificates by key id (oauth2/v1/certs).")
        with self._lock:
            self._certs = (self._clock.monotonic(), {str(k): str(v) for k, v in certs.items()})
        return self._certs[1]


def _own_audiences(own_url: str) -> list[str]:
    base = own_url.rstrip("/")
    return [base, base + "/"]


def _unverified_claims(payload: str) -> dict[str, Any]:
    try:
        padded = payload + "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        raise Unauthenticated("The ID token's payload cannot be read.") from None
    if not isinstance(claims, dict):
        raise Unauthenticated("The ID token's payload cannot be read.")
    return claims

