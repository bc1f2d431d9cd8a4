"""A repeated booking request: from the same client, answered by `replay` with the booking it made; from another
client, found, described, and answered without its token.

An Idempotency-Key is scoped to the client's address (`booking.idempotency_per_client`, on by default), so a
phone that changes networks between sending a request and reading the answer sends its retry from a new address:
the retry's ids differ and it meets the first attempt's booking as a taken slot. Answering that with
`slot_unavailable` tells the visitor they lost and invites them to book a second time.

So on that 409 path the booking is looked up by what the request is without its client: the booking records a
digest of the key and the whole body (`wcbKeyed`, `ids.keyed_digest`). It is found by ids, never by a list (no
read-after-write there): the claim of the request's first cell, read by id, names its holders; each is read by id.
A holder that is a standing booking with the same digest is this very request's booking.

The answer is a 409 `request_already_booked` that describes the booking (id, times, status, where the invitation
went, without the Meet link) but withholds the token: the token is the booking's capability, and handing it to a
new address on a key and a body alone is exactly what the per-client scope exists to prevent (a guessed or leaked
key plus a victim's known name, email and time). The visitor learns they are booked, and manages the booking from
Google's invitation (its manage links) or the first device. Operators whose keys are strong and who prefer the token
may set `booking.idempotency_per_client = false`: the key is then scoped to the calendar only, and a repeat of the
whole body from anywhere gets the token.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any
from zoneinfo import ZoneInfo

from ..availability import identity_for
from ..calendar_client import CalendarClient, Identity, event_get_request
from ..claims import claim_id, holders
from ..config import CalendarConfig, Config
from ..errors import AppError, RequestAlreadyBooked
from ..events import P_KEYED, P_OUTCOME, P_REQUEST, Outcome, is_booking, is_decided, pending_lapsed, private_properties
from ..slots import Interval
from . import confirm
from .event import view
from .ids import keyed_digest, request_digest, reused_key
from .model import BookingResult, NewBooking
from .parts import BookingParts
from .protocol import Claims


def booked_elsewhere(
    client: CalendarClient,
    claims: Claims,
    calendar: CalendarConfig,
    identity: Identity,
    request: NewBooking,
    key: str,
    span: Interval,
) -> dict[str, Any] | None:
    """The standing booking this very request (key and whole body) made from another client, or None. Two calls:
    the claim of the first cell, then its holders, each by id. Failures read as "none" (the 409 stands)."""
    cells, _ = claims.needs(calendar, span)
    if not cells:
        return None
    try:
        claim = client.get_event(identity, calendar.claims_calendar_id, claim_id(calendar.calendar_id, cells[0].key))
        names = holders(claim)
        if not names:
            return None
        answers = client.batch(identity, {name: event_get_request(calendar.calendar_id, name) for name in names})
    except AppError:  # NotFound included: nobody holds the cell, so no booking of ours is there
        return None
    wanted = keyed_digest(request, key)
    for name in names:
        event = answers.get(name)
        if (isinstance(event, dict) and is_booking(event) and not is_decided(event)
                and hmac.compare_digest(private_properties(event).get(P_KEYED, ""), wanted)):
            return event
    return None


def replay(
    parts: BookingParts, calendar: CalendarConfig, request: NewBooking, existing: dict[str, Any], scope: str,
    zone: ZoneInfo,
) -> BookingResult | None:
    """The answer to a repeated request (same Idempotency-Key, same client): the same booking as it stands now,
    a 409, or None when the earlier attempt was aborted and the next id should be tried. A booking event exists
    only once it held all its claims, so it is the answer whatever happened since. The booking's token is
    handed back only for the very same request: every field of the body, from the same client (`scope`)."""
    props = private_properties(existing)
    if not (is_booking(existing) and hmac.compare_digest(props.get(P_REQUEST, ""), request_digest(request, scope))):
        raise reused_key()
    if props.get(P_OUTCOME) == Outcome.ABORTED:
        return None
    if pending_lapsed(existing, parts.now()):  # a pending booking past its deadline is answered as expired
        existing = confirm.expire(parts.config, parts.client, calendar, identity_for(calendar), existing, parts.now())
    return parts.result(calendar, existing, zone, created=False)


def already_booked(config: Config, calendar: CalendarConfig, event: dict[str, Any], zone: ZoneInfo) -> AppError:
    """The answer to this very request sent from another client: the booking described, its token withheld."""
    described = dataclasses.replace(view(config, calendar, event, zone), meet_link=None)
    invited = bool(described.invitation and described.invitation.get("sent"))
    where = ("its links to manage it were sent with Google's invitation" if invited
             else "open it from the device that booked it")
    return RequestAlreadyBooked(
        f"This request was booked already, from another connection; {where}.",
        details={"booking": described.to_json(), "token": "withheld"},
    )


__all__ = ["already_booked", "booked_elsewhere", "replay"]
