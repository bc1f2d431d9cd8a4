"""Claims: events with ids Google itself keeps unique, one per bookable calendar and slot cell (or day token).

A claim is an ordinary Calendar event in the calendar's claims calendar (`claims_calendar` in the config; the
bookable calendar itself when unset), transparent and private, with an id derived from the bookable calendar and
the cell: `events.insert` with that id succeeds for exactly one writer and answers every other `409 duplicate`,
so whoever inserted it holds the cell. A claim is never deleted (Google forgets deleted ids eventually); it is
handed on by a conditional write (`If-Match`), which exactly one of several racing writers wins.

Its private properties name the booking event(s) holding it (`wcbHolder`, and `wcbAlso` while a move carries the
cell over to the moved booking) and when the hold was taken (`wcbHeldAt`, the holder's clock). Pure functions
only: the booking module does the I/O.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .clock import parse_rfc3339
from .events import event_interval, is_booking, is_decided, private_properties
from .slots import Interval, SlotRules

P_CLAIM = "wcbClaim"  # "1" on every claim
P_CLAIM_CALENDAR = "wcbClaimFor"  # the bookable calendar's slug
P_CELL = "wcbCell"  # the cell key the id was derived from
P_HOLDER = "wcbHolder"  # the booking event holding the claim; "" when released
P_ALSO = "wcbAlso"  # a second holder: the booking a move of the holder writes
P_HELD_AT = "wcbHeldAt"  # when the hold was taken (RFC 3339, the holder's clock)
P_ATTEMPT = "wcbAttempt"  # the attempt (one request on one instance) that last wrote the hold
# On a booking event under a per-day cap: the one day token it keeps. A booking may come to hold more (a retry of
# the same request re-writes every hold of the attempt before it as its own, and never releases those), but only
# this one is live for it: the rest are free to take over or to sweep.
P_DAY_TOKEN = "wcbDayToken"  # noqa: S105 (a property name, not a secret)


@dataclass(frozen=True)
class Cell:
    key: str
    start: datetime
    end: datetime


def is_day_token(key: str) -> bool:
    """Whether a claim key is one of a day's tokens (a per-day cap) rather than a cell of the slot grid."""
    return "/day" in key


def digest(*parts: str) -> str:
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    # base32hex, lower-cased: exactly the alphabet Calendar event ids allow ([a-v0-9]).
    return base64.b32hexencode(raw).decode().lower().rstrip("=")


def claim_id(calendar_id: str, key: str) -> str:
    return "c" + digest("claim", calendar_id, key)[:31]


def cells_for(span: Interval, gap: timedelta, zone: ZoneInfo, step: timedelta) -> list[Cell]:
    """The cells a booking over `span` holds: every cell of the calendar's wall-clock grid (`step` long, from local
    midnight) that [start, end + gap) touches, `gap` being max(buffer before, buffer after).

    Two bookings whose times come closer than `gap` always share a cell: the later one's start lies inside the
    earlier one's [start, end + gap), and both hold the cell of that instant. The cell of an instant is read from
    its local wall time minute by minute, so days with a clock change are right (a repeated hour maps two
    instants to one cell, which only ever refuses more)."""
    minutes = int(step.total_seconds() // 60) or 1
    found: dict[str, Cell] = {}
    moment = span.start.astimezone(UTC)
    last = (span.end + gap).astimezone(UTC)
    while moment < last:
        local = moment.astimezone(zone)
        index = (local.hour * 60 + local.minute) // minutes
        key = f"{local.date().isoformat()}#{index}"
        if key not in found:
            cell_start = datetime.combine(local.date(), time(0), zone) + timedelta(minutes=index * minutes)
            found[key] = Cell(key, cell_start, cell_start + timedelta(minutes=minutes))
        moment += timedelta(minutes=1)
    return list(found.values())


def day_tokens(day: date, cap: int, zone: ZoneInfo) -> list[Cell]:
    """The `cap` tokens of a local day: a booking holds one, so no more than `cap` bookings stand that day."""
    start = datetime.combine(day, time(0), zone)
    return [Cell(f"{day.isoformat()}/day{n}", start, start + timedelta(minutes=1)) for n in range(cap)]


def keys_needed(event: dict[str, Any], zone: ZoneInfo, rules: SlotRules) -> set[str]:
    """The claim keys a booking event needs as it stands now (the employee may have moved it): every cell its time
    touches and, under a per-day cap, the day token it records (`P_DAY_TOKEN`; any of its day's tokens for a
    booking written before the record was kept)."""
    span = event_interval(event, zone)
    gap = max(rules.buffer_before, rules.buffer_after)
    keys = {cell.key for cell in cells_for(span, gap, zone, rules.step)}
    if rules.max_per_day:
        tokens = {token.key for token in day_tokens(span.start.astimezone(zone).date(), rules.max_per_day, zone)}
        kept = private_properties(event).get(P_DAY_TOKEN)
        keys |= (tokens & {kept}) if kept else tokens
    return keys


def claim_body(
    calendar_id: str, slug: str, cell: Cell, holder: str, held_at: datetime, attempt: str = ""
) -> dict[str, Any]:
    """The claim of `cell` for the bookable calendar `calendar_id` (its id derives from that calendar, so that
    several bookable calendars may share one claims calendar)."""
    return {
        "id": claim_id(calendar_id, cell.key),
        "summary": "Booking claim (do not edit)",
        "start": {"dateTime": cell.start.astimezone(UTC).isoformat()},
        "end": {"dateTime": cell.end.astimezone(UTC).isoformat()},
        "transparency": "transparent",
        "visibility": "private",
        "extendedProperties": {"private": hold_properties(slug, cell.key, holder, held_at, attempt=attempt)},
    }


def hold_properties(
    slug: str, key: str, holder: str, held_at: datetime, also: str = "", *, attempt: str = ""
) -> dict[str, str]:
    """A hold's properties. `attempt` names the attempt that wrote it: two attempts of one request (a retry on
    another instance) share the holder id, and each re-writes the hold as its own before relying on it, so an
    attempt giving up releases (conditionally, by etag) only a hold no other attempt relies on."""
    return {
        P_ATTEMPT: attempt,
        P_CLAIM: "1",
        P_CLAIM_CALENDAR: slug,
        P_CELL: key,
        P_HOLDER: holder,
        P_ALSO: also,
        P_HELD_AT: held_at.astimezone(UTC).isoformat(),
    }


def is_claim(event: dict[str, Any]) -> bool:
    return private_properties(event).get(P_CLAIM) == "1"


def holders(claim: dict[str, Any]) -> list[str]:
    """The bookings a claim names; none when it is released or was deleted (a deleted claim holds nothing)."""
    if claim.get("status") == "cancelled":
        return []
    props = private_properties(claim)
    return [value for value in (props.get(P_HOLDER), props.get(P_ALSO)) if value]


def held_at(claim: dict[str, Any]) -> datetime | None:
    try:
        return parse_rfc3339(private_properties(claim)[P_HELD_AT])
    except (KeyError, ValueError):
        return None


def holder_is_live(
    claim: dict[str, Any],
    booking: dict[str, Any] | None,
    *,
    now: datetime,
    ttl: timedelta,
    key: str,
    keys_of: Any,
) -> bool:
    """Whether one holder of `claim` still needs it.

    `booking` is the holder's event read by id (None: it does not exist). A holder that does not exist yet is
    live while the hold is younger than `ttl` (its writer may still be on its way to writing it); a cancelled one,
    or one marked with an outcome (the placeholder that withdraws a move's unwritten booking), is not; a confirmed
    one is live when it still needs the cell (`keys_of(booking)`, normally `keys_needed`: the employee may have
    moved the event). Anything unreadable counts as live."""
    if booking is None:
        taken = held_at(claim)
        return taken is None or now - taken < ttl
    if is_decided(booking):
        return False
    if not is_booking(booking):
        return True  # not ours to judge: keep away from it
    try:
        needed: set[str] = keys_of(booking)
    except (KeyError, TypeError, ValueError):
        return True
    return key in needed


__all__ = [
    "P_ALSO",
    "P_ATTEMPT",
    "P_CELL",
    "P_CLAIM",
    "P_CLAIM_CALENDAR",
    "P_DAY_TOKEN",
    "P_HELD_AT",
    "P_HOLDER",
    "Cell",
    "cells_for",
    "claim_body",
    "claim_id",
    "day_tokens",
    "digest",
    "hold_properties",
    "holder_is_live",
    "holders",
    "is_claim",
    "is_day_token",
]
