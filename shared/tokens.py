"""Signed, expiring capabilities for one booking: whoever holds the token may look it up, cancel or move it.

No database: the token is the booking's event id signed with a key only the functions know (itsdangerous,
HMAC-SHA256, timestamped). itsdangerous signs with HMAC-SHA1 unless told otherwise; the signer is given
`digest_method=hashlib.sha256` here, and its timestamps come from the injected clock. The key comes from the
booking-token key secret (`credentials.token_key_secret`, readable by the booking function only); without one it
is derived from the credentials secret, and rotating that key then also invalidates outstanding tokens.

A token names one event id. A move makes a new event with a new id, so the token from before the move reads
the old (cancelled, `movedTo`) booking only; the moved booking's token is handed out with the move.

A confirmation token (`booking.confirm_email`) confirms one pending booking and does nothing else. It is signed
with another salt, so neither kind passes for the other, and it travels only in Google's invitation (never in an
API answer): holding it proves the visitor read the invitation sent to the booking's email.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import SYSTEM_CLOCK
from .errors import Forbidden

_SALT = "booking-capability-v1"
_CONFIRM_SALT = "booking-confirmation-v1"
_MISSING_CAPABILITY = "This booking needs its `token` (from the booking confirmation)."
_MISSING_CONFIRMATION = "Confirming needs the token from the confirm link in the invitation."


def derive_signing_key(credentials_info: dict[str, Any]) -> bytes:
    """A key for booking tokens, derived (HMAC-SHA256) from the private material in the credentials JSON."""
    material = str(credentials_info.get("private_key") or credentials_info.get("client_secret", "")) + str(
        credentials_info.get("refresh_token", "")
    )
    if not material:
        raise ValueError("the credentials JSON holds no private material to derive a token key from")
    return hmac.new(material.encode(), b"workspace-calendar-booking/booking-token", hashlib.sha256).digest()


def key_from_secret(payload: bytes) -> bytes:
    """A key for booking tokens from the booking-token key secret (random bytes only the booking function reads)."""
    return hmac.new(payload, b"workspace-calendar-booking/booking-token", hashlib.sha256).digest()


class BookingTokens:
    def __init__(self, key: bytes, *, max_age_seconds: int, now: Callable[[], datetime] = SYSTEM_CLOCK.now) -> None:
        from itsdangerous import TimestampSigner, URLSafeTimedSerializer

        class ClockedSigner(TimestampSigner):
            """Stamps and ages tokens on the instance's clock (itsdangerous would read the machine's)."""

            def get_timestamp(self) -> int:
                return int(now().timestamp())

        self._serializer = URLSafeTimedSerializer(
            key, salt=_SALT, signer=ClockedSigner, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._confirmations = URLSafeTimedSerializer(
            key, salt=_CONFIRM_SALT, signer=ClockedSigner, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._max_age = max_age_seconds

    def issue(self, booking_id: str, calendar_slug: str) -> str:
        return self._issue(self._serializer, booking_id, calendar_slug)

    def check(self, token: str | None, booking_id: str) -> str:
        """The calendar slug the token was issued for, if it is a live token for `booking_id`; else 403."""
        return self._check(self._serializer, token, booking_id, _MISSING_CAPABILITY)

    def issue_confirmation(self, booking_id: str, calendar_slug: str) -> str:
        return self._issue(self._confirmations, booking_id, calendar_slug)

    def check_confirmation(self, token: str | None, booking_id: str) -> str:
        """The calendar slug of a confirmation token for `booking_id` (from the invitation's confirm link); else 403."""
        return self._check(self._confirmations, token, booking_id, _MISSING_CONFIRMATION)

    @staticmethod
    def _issue(serializer: Any, booking_id: str, calendar_slug: str) -> str:
        return str(serializer.dumps({"b": booking_id, "c": calendar_slug}))

    def _check(self, serializer: Any, token: str | None, booking_id: str, missing: str) -> str:
        from itsdangerous import BadSignature, SignatureExpired

        if not token:
            raise Forbidden(missing)
        try:
            claims = serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise Forbidden("This booking token has expired.") from None
        except BadSignature:
            raise Forbidden("This booking token is not valid.") from None
        if not isinstance(claims, dict) or claims.get("b") != booking_id or not isinstance(claims.get("c"), str):
            raise Forbidden("This booking token is for another booking.")
        return str(claims["c"])
