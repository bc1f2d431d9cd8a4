"""Reading Calendar event resources: their times, whether they block time, and whether they are bookings."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from .clock import parse_rfc3339
from .slots import Interval, SlotRules

# Private extended properties on every event this product writes (visible only through this calendar).
MARKER = "wcbBooking"  # "1" on every booking
P_CALENDAR = "wcbCalendar"  # the public calendar slug
P_EMAIL = "wcbEmail"  # the visitor's email, lower-cased
P_OUTCOME = "wcbOutcome"  # an `Outcome`: why a booking event stopped counting
P_INVITED = "wcbInvited"  # "1" once the visitor was invited (with booking.confirm_before_inviting)
P_MOVED_FROM = "wcbMovedFrom"  # on a rescheduled booking: the id of the event it replaced
P_MOVED_TO = "wcbMovedTo"  # on a booking being (or having been) moved: the id of its replacement
P_REQUEST = "wcbRequest"  # digest of the whole request (body and client) an Idempotency-Key was first used with
P_KEYED = "wcbKeyed"  # digest of the Idempotency-Key and the whole body, not the client: finds it from a new address
P_MOVE_CLIENT = "wcbMoveClient"  # on a moved booking: digest of the client that moved it (who may repeat the move)
P_VISITOR = "wcbVisitor"  # digest of the visitor's normalized email: what per-visitor limits count
P_MOVING_AT = "wcbMovingAt"  # when the move named in wcbMovedTo began (RFC 3339, the mover's clock)
P_PENDING_UNTIL = "wcbPendingUntil"  # on a booking awaiting the visitor's email confirmation: until when (RFC 3339)
P_TEAM = "wcbTeam"  # on a booking made through a team (config [[teams]]): the team's slug


class Outcome(StrEnum):
    """Why a booking event stopped counting, as stored in `wcbOutcome` (a StrEnum: stored events stay plain text)."""

    CANCELLED = "cancelled"  # by the visitor (or anyone holding its token)
    MOVED = "moved"  # replaced by the booking named in wcbMovedTo
    LOST = "lost"  # yielded: a move that found its old booking cancelled or changed before it committed
    ABORTED = "aborted"  # withdrawn after a failure, before it was ever answered
    EXPIRED = "expired"  # a pending booking (booking.confirm_email) not confirmed in time


WITHDRAWN = (Outcome.ABORTED, Outcome.LOST)  # outcomes of a booking that never stood (never answered 201/200)


class MoveVerdict(StrEnum):
    """What a half-done move needs (`move_verdict`)."""

    FINISH = "finish"
    UNMARK = "unmark"
    WAIT = "wait"


def event_interval(event: dict[str, Any], zone: ZoneInfo) -> Interval:
    """An event's span; all-day events span whole local days of the calendar's time zone."""
    start, end = event.get("start", {}), event.get("end", {})
    if "dateTime" in start:
        return Interval(parse_rfc3339(start["dateTime"]), parse_rfc3339(end["dateTime"]))
    first = datetime.combine(datetime.fromisoformat(start["date"]).date(), time(0), zone)
    last = datetime.combine(datetime.fromisoformat(end["date"]).date(), time(0), zone)
    return Interval(first, max(last, first + timedelta(days=1)))


def private_properties(event: dict[str, Any]) -> dict[str, str]:
    return dict((event.get("extendedProperties") or {}).get("private") or {})


def is_booking(event: dict[str, Any]) -> bool:
    return private_properties(event).get(MARKER) == "1"


def is_decided(event: dict[str, Any]) -> bool:
    """Cancelled, or marked with an outcome (lost, aborted, cancelled, moved): its verdict is final."""
    return event.get("status") == "cancelled" or bool(private_properties(event).get(P_OUTCOME))


def pending_until(event: dict[str, Any]) -> datetime | None:
    """Until when a booking awaiting its visitor's email confirmation holds its time (booking.confirm_email), or
    None when it is not pending: confirmed, decided, or not a booking. An unreadable stamp lapsed long ago."""
    value = private_properties(event).get(P_PENDING_UNTIL)
    if not value or not is_booking(event) or is_decided(event):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def pending_lapsed(event: dict[str, Any], now: datetime) -> bool:
    """A pending booking past its confirmation deadline: it no longer counts, and anyone may expire it (a
    conditional cancel, which a racing confirmation either beats or loses to: shared/booking/confirm.py)."""
    until = pending_until(event)
    return until is not None and now >= until


def move_verdict(
    old: dict[str, Any], new: dict[str, Any] | None, *, now: datetime, ttl: timedelta
) -> MoveVerdict | None:
    """What a half-done move needs, judged from the two events alone (anyone applies it with the same verdict).

    `old` is a booking marked for a move (`wcbMovedTo`) and still undecided; `new` is the event that names, read
    by id (None: it does not exist). "finish": the new booking was written (it held all its claims) and was never
    withdrawn, whatever became of it since, so the move happened: cancel the old one as moved. "unmark": the new
    booking was withdrawn, or was not written within `ttl` of the mark (its mover is gone: the TTL outlives any
    request), so the old one stands and forgets the mark. "wait": the mover may still be writing. None: nothing
    to settle."""
    props = private_properties(old)
    target = props.get(P_MOVED_TO)
    if not target or not is_booking(old) or is_decided(old):
        return None
    if new is None:
        try:
            began = parse_rfc3339(props[P_MOVING_AT])
        except (KeyError, ValueError):
            return MoveVerdict.UNMARK
        return MoveVerdict.UNMARK if now - began >= ttl else MoveVerdict.WAIT
    new_props = private_properties(new)
    if not is_booking(new) or new_props.get(P_MOVED_FROM) != old.get("id"):
        return MoveVerdict.UNMARK  # not a booking moved from this one: nothing a move of ours wrote
    if new_props.get(P_OUTCOME) in WITHDRAWN:
        return MoveVerdict.UNMARK
    return MoveVerdict.FINISH  # confirmed, or cancelled/moved on since (also deleted by the employee): it stood


def blocks_time(event: dict[str, Any]) -> bool:
    """Whether an event makes its owner busy: confirmed or tentative, opaque, and not declined by the owner."""
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    return not any(
        attendee.get("self") and attendee.get("responseStatus") == "declined"
        for attendee in event.get("attendees") or []
    )


def priority_key(event: dict[str, Any]) -> tuple[datetime, str]:
    """The order in which overlapping bookings keep their slot: the one created first wins, the id breaks ties.

    `created` never changes (a reschedule is a new event), which keeps every verdict the same whenever taken."""
    return parse_rfc3339(str(event.get("created"))), str(event["id"])


def padded_booking(span: Interval, rules: SlotRules) -> Interval:
    """The time an existing booking keeps from a new one, so that their buffers are honoured both ways.

    A new slot is refused when `[start - before, end + after)` meets busy time. Between two bookings the
    buffers must hold whichever was booked first, which comes to a gap of max(before, after) on each side;
    padding the existing booking by the difference gives exactly that."""
    before, after = rules.buffer_before, rules.buffer_after
    zero = before - before
    return Interval(span.start - max(zero, before - after), span.end + max(zero, after - before))
