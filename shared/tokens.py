"""Signed, expiring capabilities for one booking: whoever holds the token may look it up, cancel or move it.

No database: the token is the booking's event id signed with a key only the functions know (itsdangerous,
HMAC-SHA256, timestamped). The key is derived from the credentials secret, so there is nothing extra to
provision; rotating the credentials key therefore also invalidates outstanding tokens (a documented trade-off).
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

        self._serializer = URLSafeTimedSerializer(key, salt=_SALT, signer=ClockedSigner)
        self._max_age = max_age_seconds

    def issue(self, booking_id: str, calendar_slug: str) -> str:
        return str(self._serializer.dumps({"b": booking_id, "c": calendar_slug}))

    def check(self, token: str | None, booking_id: str) -> str:
        """The calendar slug the token was issued for, if it is a live token for `booking_id`; else 403."""
        from itsdangerous import BadSignature, SignatureExpired

        if not token:
            raise Forbidden("This booking needs its `token` (from the booking confirmation).")
        try:
            claims = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise Forbidden("This booking token has expired.") from None
        except BadSignature:
            raise Forbidden("This booking token is not valid.") from None
        if not isinstance(claims, dict) or claims.get("b") != booking_id or not isinstance(claims.get("c"), str):
            raise Forbidden("This booking token is for another booking.")
        return str(claims["c"])
