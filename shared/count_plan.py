"""Which calendars' bookings the sync lists this run, and whose per-day booking counts it carries forward.

Counts matter when bookings change the slot math (a per-day cap, or padding). Listing every calendar's bookings
on every run costs one request per calendar: 10,000 calendars would be 10,000 requests a run, over Calendar's
quotas (600 requests a minute per user for a shared `sync.act_as`, 10,000 a minute per project). But a calendar's
bookings cannot change without its free/busy changing: a booking is opaque busy time written only into free time,
and cancelling or moving it frees or moves that time. So a calendar's counts are carried forward from the last
snapshot when its busy time over the range they were counted for is unchanged and nothing is busy beyond that
range; a calendar with no busy time at all has no bookings. The others are listed, at most
`sync.max_booking_lists_per_run` a run: calendars whose busy time changed first, then those never counted, then
counts older than `REFRESH_AFTER` (which keep carrying if the budget is spent). A calendar left over has no counts
in the snapshot (`countsPending`): `/slots` answers it live until a later run lists it.

The reading this rests on, and its one blind spot: an employee's meeting laid over a booking hides that booking's
cancellation from free/busy, so its count is carried until the next refresh. That errs towards offering less (a day
may look full a booking early), never more; the cap itself is enforced at booking time by the day's claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import parse_rfc3339
from .slots import Interval

REFRESH_AFTER = timedelta(hours=24)  # counts carried this long are listed again when the budget allows


@dataclass(frozen=True)
class Counted:
    """A calendar's bookings as the last listing found them: per local day, their spans, what range and when."""

    per_day: dict[str, int]
    spans: list[list[str]]
    counted_from: datetime
    counted_to: datetime
    counted_at: datetime


@dataclass
class CountPlan:
    listed: list[str] = field(default_factory=list)  # slugs to list now
    carried: dict[str, Counted] = field(default_factory=dict)  # slugs whose counts carry forward
    pending: list[str] = field(default_factory=list)  # slugs that need a list the budget did not allow


def counted_of(entry: Mapping[str, Any] | None) -> Counted | None:
    """The counts a snapshot entry carries, None when it has none (never listed, pending, or unavailable)."""
    if not entry or entry.get("status") != "ok" or "countedAt" not in entry:
        return None
    try:
        return Counted(
            dict(entry.get("bookingsPerDay") or {}), list(entry.get("bookings") or []),
            parse_rfc3339(entry["countedFrom"]), parse_rfc3339(entry["countedTo"]), parse_rfc3339(entry["countedAt"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _clip(spans: Sequence[Interval], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(max(s.start, start), min(s.end, end)) for s in spans if s.start < end and s.end > start]


def _busy_of(entry: Mapping[str, Any] | None) -> list[Interval]:
    return [Interval(parse_rfc3339(s), parse_rfc3339(e)) for s, e in (entry or {}).get("busy", [])]


def plan(
    busy: Mapping[str, Sequence[Interval]],
    ranges: Mapping[str, tuple[datetime, datetime]],
    window: tuple[datetime, datetime],
    previous: Mapping[str, Mapping[str, Any]],
    previous_window: tuple[datetime, datetime] | None,
    *,
    now: datetime,
    budget: int,
) -> CountPlan:
    """Decide for each calendar (by slug, in the given order) whether to list, carry or defer.

    `busy`: this run's merged busy time per calendar over `window`; `ranges`: the whole-day range a listing of
    each one covers; `previous`: the last snapshot's entries and `previous_window` its [from, to) (None: none)."""
    result = CountPlan()
    changed: list[str] = []
    never: list[str] = []
    stale: list[str] = []
    for slug, spans in busy.items():
        first, last = ranges[slug]
        if not spans:
            result.carried[slug] = Counted({}, [], first, last, now)  # no busy time: no bookings
            continue
        counted = counted_of(previous.get(slug))
        if counted is None or previous_window is None:
            never.append(slug)
            continue
        # Where both runs saw free/busy and the counts were taken: the same busy time there means the same
        # bookings; busy time anywhere else in this window may be a booking nobody counted.
        seen_from = max(previous_window[0], window[0], counted.counted_from)
        seen_to = min(previous_window[1], window[1], counted.counted_to)
        same = seen_from < seen_to and (
            _clip(spans, seen_from, seen_to) == _clip(_busy_of(previous.get(slug)), seen_from, seen_to)
        )
        if not same or _clip(spans, window[0], seen_from) or _clip(spans, seen_to, window[1]):
            changed.append(slug)
            continue
        result.carried[slug] = Counted(counted.per_day, counted.spans, counted.counted_from,
                                       max(counted.counted_to, window[1]), counted.counted_at)
        if now - counted.counted_at >= REFRESH_AFTER:
            stale.append(slug)
    for slug in changed + never:
        (result.listed if len(result.listed) < budget else result.pending).append(slug)
    for slug in sorted(stale, key=lambda s: result.carried[s].counted_at):
        if len(result.listed) >= budget:
            break
        result.listed.append(slug)
        del result.carried[slug]
    return result
