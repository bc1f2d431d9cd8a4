"""Booking ids and request digests: what makes a repeat find its booking, and nobody else's."""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..claims import digest
from ..config import CalendarConfig
from ..errors import Conflict
from ..events import P_MOVE_CLIENT, P_REQUEST, private_properties
from .model import NewBooking

GENERATIONS = 5  # ids a request (or a move) may use in turn: an aborted attempt's id is never reused
_UTC = ZoneInfo("UTC")


def event_ids(calendar: CalendarConfig, request: NewBooking, key: str | None, scope: str = "") -> list[str]:
    """The event ids a request may use, in order. With an Idempotency-Key they follow from the key (the client's
    secret) and the client (`scope`), so a repeat finds its booking and another client's same key does not;
    without one the id is random, so nobody can guess it and claim the booking's token by repeating someone
    else's request."""
    if key is None:
        return ["b" + digest("auto", calendar.slug, secrets.token_hex(16))[:31]]
    return ["b" + digest("key", calendar.slug, scope, key, str(attempt))[:31] for attempt in range(GENERATIONS)]


def move_ids(booking_id: str, start: datetime, minutes: int) -> list[str]:
    """The ids a move of `booking_id` to `start` may use, in order (a withdrawn attempt moves on to the next)."""
    moment = start.astimezone(_UTC).isoformat()
    return ["b" + digest("move", booking_id, moment, str(minutes), str(n))[:31] for n in range(GENERATIONS)]


def request_digest(request: NewBooking, scope: str) -> str:
    """A digest of every field of a booking request and its client: what a replay must match exactly."""
    fields = {
        "calendar": request.calendar, "start": request.start.astimezone(_UTC).isoformat(),
        "duration": request.duration, "name": request.name, "email": request.email, "notes": request.notes,
        "timezone": request.timezone, "type": request.type, "client": scope,
    }
    return digest("request", json.dumps(fields, sort_keys=True, ensure_ascii=False))


def keyed_digest(request: NewBooking, key: str) -> str:
    """A digest of the Idempotency-Key and every field of the body, without the client: what recognises this very
    request sent again from another address (`repeats.booked_elsewhere`), which is answered without the token."""
    return digest("keyed", key, request_digest(request, ""))


def client_digest(client: str) -> str:
    return digest("client", client)


def reused_key() -> Conflict:
    return Conflict(
        "This Idempotency-Key was already used for a different booking; use a new key.",
        details={"idempotencyKey": "reused"},
    )


def check_same_request(existing: dict[str, Any], body: dict[str, Any]) -> None:
    """An event found under a request's id answers it only if it was written for that very request (same body,
    same client): a reused Idempotency-Key with another body gets 409, never another booking's token."""
    wanted = body.get("extendedProperties", {}).get("private", {}).get(P_REQUEST)
    if wanted is not None and not hmac.compare_digest(private_properties(existing).get(P_REQUEST, ""), wanted):
        raise reused_key()


def check_mover(moved: dict[str, Any], client: str) -> None:
    """A repeated move hands the moved booking's token only to the client that moved it: the token from before
    the move reads the old booking only (a move rotates the token)."""
    if not hmac.compare_digest(private_properties(moved).get(P_MOVE_CLIENT, ""), client_digest(client)):
        raise Conflict("This booking was moved; use the moved booking's link.", details={"movedTo": moved.get("id")})
