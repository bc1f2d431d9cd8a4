"""The sync's sweep: settle what crashed or cut-off booking attempts left in the claims calendars.

A claim whose holders are all gone (their booking cancelled, or never written and the hold older than
`booking.claim_ttl_seconds`) is released by a conditional write, acting as each calendar's own identity, so the
cell is free again for the snapshot and for bookings without their having to read it. Booking never depends on
the sweep (it takes over such claims itself); the sweep keeps capacity from staying held for long.

It also finishes half-done moves (`events.move_verdict`, the rule bookings apply too): a booking marked as moving
to a new one that was written and never withdrawn is cancelled as moved (its move committed in all but the last
write); one whose new booking never appeared within the TTL, or was withdrawn, is unmarked and stands. One more
events.list per calendar (its bookings in the window). A moved booking whose visitor was never told (its mover
died after writing it and the old booking was deleted meanwhile) is announced: one read by id of its old booking.

With `booking.confirm_email`, the sync first expires pending bookings past their deadline (`sweep_pending`, one
events.list per calendar, before it reads availability): a conditional cancel that a racing confirmation either
beats or loses to (shared/booking/confirm.py), so their time is free again in the snapshot it writes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from .availability import identity_for
from .calendar_client import CalendarClient
from .claims import P_ALSO, P_CLAIM, P_CLAIM_CALENDAR, P_HOLDER, held_at, holder_is_live, holders, keys_needed
from .clock import parse_rfc3339
from .config import CalendarConfig, Config
from .errors import AppError, NotFound
from .events import (
    MARKER,
    P_CALENDAR,
    P_EMAIL,
    P_INVITED,
    P_MOVED_FROM,
    P_MOVED_TO,
    MoveVerdict,
    is_decided,
    move_verdict,
    private_properties,
)
from .logs import log


def sweep_claims(
    config: Config, client: CalendarClient, now: datetime, start: datetime, end: datetime, parallel: int = 10
) -> int:
    """Settle every half-done move and release every stale claim of every bookable calendar over [start, end);
    the number of claims released and moves settled."""

    def one(calendar: CalendarConfig) -> int:
        return _settle_moves(config, client, calendar, now, start, end) + _sweep_one(
            config, client, calendar, now, start, end
        )

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        released = list(pool.map(one, config.calendars))
    return sum(released)


def sweep_pending(
    config: Config, client: CalendarClient, now: datetime, start: datetime, end: datetime, parallel: int = 10
) -> int:
    """Expire every pending booking past its deadline over [start, end) (booking.confirm_email); how many."""
    from .booking.confirm import expire_listed

    def one(calendar: CalendarConfig) -> int:
        identity = identity_for(calendar)
        try:
            bookings = client.list_events(
                identity, calendar.calendar_id, time_min=start, time_max=end,
                private_properties={MARKER: "1", P_CALENDAR: calendar.slug},
            )
            return expire_listed(config, client, calendar, identity, bookings, now)
        except AppError as error:
            log("pending sweep skipped", severity="WARNING", calendar=calendar.slug, detail=error.message)
            return 0

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return sum(pool.map(one, config.calendars))


def _settle_moves(
    config: Config, client: CalendarClient, calendar: CalendarConfig, now: datetime, start: datetime, end: datetime
) -> int:
    """Finish or undo the moves of this calendar's bookings that a crashed or cut-off move left half done."""
    from .booking import send_updates_for, settle_move
    from .booking.moves import find

    identity = identity_for(calendar)
    ttl = timedelta(seconds=config.booking.claim_ttl_seconds)
    try:
        bookings = client.list_events(
            identity, calendar.calendar_id, time_min=start, time_max=end,
            private_properties={MARKER: "1", P_CALENDAR: calendar.slug},
        )
    except AppError as error:
        log("move sweep skipped", severity="WARNING", calendar=calendar.slug, detail=error.message)
        return 0
    from .booking.confirm import expire_listed

    # Pending bookings past their deadline, from the same list (also those left after confirm_email was turned off).
    settled = expire_listed(config, client, calendar, identity, bookings, now)
    settled += _announce_orphans(config, client, calendar, bookings, now)
    for old in bookings:
        props = private_properties(old)
        target = props.get(P_MOVED_TO)
        if not target or is_decided(old):
            continue
        try:
            new = find(client, identity, calendar, target)
            if move_verdict(old, new, now=now, ttl=ttl) in (None, MoveVerdict.WAIT):
                continue
            settle_move(client, calendar, identity, old, new, now=now, ttl=ttl,
                        send_updates=send_updates_for(config, calendar, props.get(P_EMAIL, "")))
            settled += 1
        except AppError as error:
            log("move not settled", severity="WARNING", calendar=calendar.slug, booking=old.get("id"),
                detail=error.message)
    return settled


def _announce_orphans(
    config: Config, client: CalendarClient, calendar: CalendarConfig, bookings: list[dict[str, Any]], now: datetime
) -> int:
    """Invite the visitor to a moved booking whose move never told them: its mover died after writing it, and the
    old booking was then cancelled by someone else (the employee deleting it), so no settle of the old one will
    ever announce it. Written, it stands (a writer may withdraw only what it never answered, and its mover may have
    answered 200 after a failed commit): only its visitor must learn of it. Only past the TTL (`created`, whole
    seconds, is enough for an age): a live mover still decides itself. One read by id of each such old booking;
    one whose move is still pending is left to the settle below."""
    from .booking import send_updates_for
    from .booking.moves import announce, find

    identity = identity_for(calendar)
    written_before = now - timedelta(seconds=config.booking.claim_ttl_seconds)
    announced = 0
    for new in bookings:
        props = private_properties(new)
        old_id = props.get(P_MOVED_FROM)
        if not old_id or is_decided(new) or props.get(P_INVITED) \
                or send_updates_for(config, calendar, props.get(P_EMAIL, "")) != "all" \
                or not _created_before(new, written_before):
            continue
        try:
            old = find(client, identity, calendar, old_id)
            if old is not None and not is_decided(old) and private_properties(old).get(P_MOVED_TO) == new["id"]:
                continue  # still marked for it: the move's own settle finishes it and announces it
            current = client.get_event(identity, calendar.calendar_id, new["id"])  # lists lag behind
            if is_decided(current) or private_properties(current).get(P_INVITED):
                continue
            if announce(client, calendar, identity, current):
                log("orphaned move announced", calendar=calendar.slug, booking=new["id"], replaces=old_id)
                announced += 1
        except AppError as error:
            log("move not announced", severity="WARNING", calendar=calendar.slug, booking=new.get("id"),
                detail=error.message)
    return announced


def _created_before(event: dict[str, Any], moment: datetime) -> bool:
    try:
        return parse_rfc3339(str(event.get("created"))) <= moment
    except ValueError:
        return True  # no readable stamp: old enough


def _sweep_one(
    config: Config, client: CalendarClient, calendar: CalendarConfig, now: datetime, start: datetime, end: datetime
) -> int:
    identity = identity_for(calendar)
    ttl = timedelta(seconds=config.booking.claim_ttl_seconds)
    rules = config.slot_rules(calendar.slug)
    try:
        claims = client.list_events(
            identity, calendar.claims_calendar_id, time_min=start, time_max=end,
            private_properties={P_CLAIM: "1", P_CLAIM_CALENDAR: calendar.slug},
        )
        old = [c for c in claims if holders(c) and (held_at(c) or now) <= now - ttl]
        wanted = sorted({h for c in old for h in holders(c)})
        bookings: dict[str, dict[str, Any] | None] = {}
        for booking_id in wanted:
            try:
                bookings[booking_id] = client.get_event(identity, calendar.calendar_id, booking_id)
            except NotFound:
                bookings[booking_id] = None
    except AppError as error:
        log("sweep skipped", severity="WARNING", calendar=calendar.slug, detail=error.message)
        return 0

    def keys_of(event: dict[str, Any]) -> set[str]:
        return keys_needed(event, calendar.zone, rules)

    released = 0
    for claim in old:
        key = private_properties(claim).get("wcbCell", "")
        if any(holder_is_live(claim, bookings.get(h), now=now, ttl=ttl, key=key, keys_of=keys_of)
               for h in holders(claim)):
            continue
        try:
            client.patch_event(
                identity, calendar.claims_calendar_id, claim["id"],
                {"extendedProperties": {"private": {P_HOLDER: "", P_ALSO: ""}}}, etag=claim.get("etag"),
            )
            released += 1
        except AppError as error:  # a 412: someone took it over meanwhile, which settles it too
            log("claim not released", severity="INFO", calendar=calendar.slug, claim=claim["id"], detail=error.message)
    if released:
        log("claims released", calendar=calendar.slug, count=released)
    return released


