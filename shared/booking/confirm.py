"""Email confirmation before a booking is final (`booking.confirm_email`): a pending hold that lapses.

A booking whose visitor Google invites is written as today, holding all its claims, but *pending*: event status
`tentative` and `wcbPendingUntil` (now + `confirm_within_minutes`, at most its start). The invitation's
description carries a confirm link with a *confirmation token* (shared/tokens.py: another salt, so the booking
token answered to whoever booked does not confirm; only the reader of the invitation sent to that email can).
`POST /bookings/{id}/confirm` with it makes the booking `confirmed`; until then the slot stays held (the event
blocks time, its claims are held by a live booking), and it counts once, like any booking (per-day caps,
per-visitor limits).

Past its deadline a pending booking no longer counts: the live check ignores it (`events.pending_lapsed`), and
whoever meets it holding a claim *expires* it first (cancelled, `wcbOutcome: expired`) and then judges the claim
by the usual rule (a cancelled holder is not live). Confirming and expiring are both conditional writes on the
booking event (`If-Match`), so exactly one wins whatever the clocks say: a confirmation that lost answers 410
`confirmation_expired`; an expiry that lost finds a confirmed booking, which keeps its claims. So a pending
booking never leaves two confirmed bookings, and is never counted twice. The sync expires lapsed pending bookings
before it reads availability (`sweep.sweep_pending`), so their time is offered again; `GET`, `DELETE` and
confirm expire the booking they look at. Until one of those happens, free/busy (and so the snapshot and
`live=true` slots) still shows a lapsed booking's time as busy: the page offers it again after the next sync, and
a request for it that a fresh snapshot refuses is answered 409 without reaching the claims (the cheap refusal
stays cheap); one that reaches the claims expires the lapsed booking and wins.

Bookings that cannot be confirmed by mail (the visitor gets no invitation: company-domain visitors allowed by
`company_visitors`, calendars in `direct` mode) are final at once. A pending booking cannot be moved (409); it
may be cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..calendar_client import CalendarClient, Identity
from ..config import CalendarConfig, Config
from ..errors import ConfirmationExpired, Conflict
from ..events import (
    P_EMAIL,
    P_OUTCOME,
    P_PENDING_UNTIL,
    Outcome,
    is_decided,
    pending_lapsed,
    pending_until,
    private_properties,
)
from ..logs import log
from ..tokens import BookingTokens
from .event import invites, send_updates_for, with_links
from .writes import patch_if_unchanged


def deadline_for(
    config: Config, calendar: CalendarConfig, email: str, now: datetime, start: datetime
) -> datetime | None:
    """Until when a new booking by `email` stays pending, or None when it is final at once (no confirmation
    configured, or no invitation to carry the link)."""
    if not config.booking.confirm_email or not invites(config, calendar, email):
        return None
    return min(now + timedelta(minutes=config.booking.confirm_within_minutes), start)


def pending_body(body: dict[str, Any], until: datetime) -> dict[str, Any]:
    """The booking event `body` written as pending until `until`."""
    private = {**body["extendedProperties"]["private"], P_PENDING_UNTIL: until.astimezone(UTC).isoformat()}
    return {**body, "status": "tentative", "extendedProperties": {**body["extendedProperties"], "private": private}}


def expire(
    config: Config, client: CalendarClient, calendar: CalendarConfig, identity: Identity, event: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Cancel `event` as expired while it is pending and lapsed (a conditional write); the event as it then stands
    (confirmed, if a confirmation won). A failed write leaves it pending: it still holds its claims."""

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if not pending_lapsed(current, now):
            return None
        return {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: Outcome.EXPIRED}}}

    send = send_updates_for(config, calendar, private_properties(event).get(P_EMAIL, ""))
    result = patch_if_unchanged(client, identity, calendar.calendar_id, event, change, send_updates=send,
                                keep_errors=True)
    if result.wrote:
        log("pending booking expired", calendar=calendar.slug, booking=event.get("id"))
    elif result.error is not None:
        log("pending booking not expired", severity="WARNING", calendar=calendar.slug, booking=event.get("id"),
            detail=result.error.message)
    return result.event


def expire_lapsed(
    config: Config, client: CalendarClient, calendar: CalendarConfig, identity: Identity,
    found: dict[str, dict[str, Any] | None], now: datetime,
) -> dict[str, dict[str, Any] | None]:
    """`found` (claim holders read by id) with every lapsed pending booking expired first, so that the claim rule
    judges it as it then stands: cancelled (not live), or confirmed by a confirmation that came first."""
    return {holder: expire(config, client, calendar, identity, event, now)
            if event is not None and pending_lapsed(event, now) else event
            for holder, event in found.items()}


def expire_listed(
    config: Config, client: CalendarClient, calendar: CalendarConfig, identity: Identity,
    bookings: Iterable[dict[str, Any]], now: datetime,
) -> int:
    """Expire the lapsed pending bookings among `bookings`; how many were expired."""
    expired = 0
    for event in bookings:
        if pending_lapsed(event, now) and is_decided(expire(config, client, calendar, identity, event, now)):
            expired += 1
    return expired


def confirm(
    config: Config, client: CalendarClient, calendar: CalendarConfig, identity: Identity, event: dict[str, Any],
    now: Callable[[], datetime], tokens: Callable[[], BookingTokens],
) -> dict[str, Any]:
    """Make the pending booking `event` confirmed, in one conditional write; a confirmed one is answered as it is
    (a repeat). Past its deadline it is expired instead and 410 answered; a cancelled one is a 409."""

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if pending_until(current) is None or pending_lapsed(current, now()):
            return None
        links = with_links(config, calendar, {"id": current["id"], "description": current.get("description", "")},
                           tokens)
        return {"status": "confirmed", "description": links["description"],
                "extendedProperties": {"private": {P_PENDING_UNTIL: ""}}}

    current = event
    if pending_until(current) is not None:
        result = patch_if_unchanged(client, identity, calendar.calendar_id, current, change)
        if result.exhausted:
            raise Conflict("The booking kept changing meanwhile; try again.")
        current = result.event
        if result.wrote:
            log("booking confirmed by email", calendar=calendar.slug, booking=current.get("id"))
    if pending_lapsed(current, now()):
        current = expire(config, client, calendar, identity, current, now())
    _refuse_decided(current)
    if pending_until(current) is not None:  # not lapsed, not confirmed: the write failed on every try
        raise Conflict("The booking could not be confirmed; try again.")
    return current


def _refuse_decided(event: dict[str, Any]) -> None:
    if not is_decided(event):
        return
    if private_properties(event).get(P_OUTCOME) == Outcome.EXPIRED:
        raise ConfirmationExpired(
            "This booking was not confirmed in time and its time was released; please book again.",
            details={"reason": "confirmation_expired"},
        )
    raise Conflict("This booking is cancelled; book a new slot instead.", details={"status": "cancelled"})


__all__ = ["confirm", "deadline_for", "expire", "expire_lapsed", "expire_listed", "pending_body"]
