"""Slot math: which start times a calendar offers, and why a given start is refused.

Pure functions and immutable values; no I/O, no clock reads (callers pass ``now``).

Vocabulary
----------
* Opening hours are wall-clock ranges in the calendar's IANA time zone: weekly hours (several ranges per
  weekday) and date overrides (a date with its own ranges, or ``()`` for closed).
* A *slot* is ``[start, start + duration)``. It is offered when it lies wholly inside one hours range, its
  start is on that range's grid (range start + k * step), it starts at or after ``now + minimum_notice`` and
  before ``now + horizon``, its day is under ``max_per_day`` bookings, and ``[start - buffer_before,
  end + buffer_after)`` overlaps no busy interval. The day of a slot is the local date of its start.
* Every datetime in and out is timezone-aware (naive ones raise ``ValueError``). Results are in UTC.

Problem codes returned by :func:`check_slot` (stable; callers map them to HTTP statuses)
---------------------------------------------------------------------------------------
====================  ======  ==========================================================
code                  HTTP    meaning
====================  ======  ==========================================================
``bad_duration``      400     the duration is not one the calendar offers
``too_soon``          400     the start is inside the minimum notice
``beyond_horizon``    400     the start is at or after ``now + horizon``
``outside_hours``     400     the slot is not wholly inside one hours range of its day
``off_grid``          400     the start is inside hours but not on the step grid
``day_full``          409     the local day already has ``max_per_day`` bookings
``busy``              409     the slot plus buffers overlaps busy time
====================  ======  ==========================================================
When several apply, the first in this order is reported.

Daylight saving time
--------------------
Step arithmetic is done in UTC from the range start converted to UTC, so consecutive starts are exactly
``step`` apart in elapsed time, also across a clock change inside a range: no start repeats and a slot is
always ``duration`` long in elapsed time. Ranges without a change in them (``09:00-17:00`` on any change day)
keep their wall-clock grid.

* A wall time that does not exist (inside the spring-forward gap) stands for the instant the clocks jump:
  a range ``02:30-05:00`` on the day Berlin skips 02:00-03:00 is ``03:00-05:00`` CEST; a range lying wholly
  in the gap is empty that day.
* A wall time that occurs twice (the fall-back repeat) means its first occurrence (``fold=0``): a range
  ``01:30-03:00`` on the day New York repeats 01:00-02:00 runs from 01:30 EDT to 03:00 EST (2.5 hours), and a
  range ending at 01:30 ends at the first 01:30. Slots in the repeated hour are distinct instants.
* An end of ``time(0)`` means the end of the day (the next local midnight); config writes it ``24:00``.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from itertools import accumulate, pairwise, repeat
from operator import add
from types import MappingProxyType
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "MIDNIGHT",
    "Interval",
    "SlotProblem",
    "SlotRules",
    "TimeRange",
    "check_slot",
    "days_window",
    "free_slots",
    "hours_on",
    "merge_intervals",
]

TimeRange = tuple[time, time]
"""A wall-clock hours range ``(start, end)``; ``end == time(0)`` means the end of the day."""

MIDNIGHT: Final = time(0)
_ONE_DAY: Final = timedelta(days=1)
_NO_BOOKINGS: Final[Mapping[date, int]] = MappingProxyType({})
_UtcSpan = tuple[datetime, datetime]


class Interval(NamedTuple):
    """A half-open span of time ``[start, end)`` with aware datetimes.

    A NamedTuple rather than a dataclass: :func:`free_slots` builds hundreds of thousands of these per
    second and a frozen dataclass costs about twice as much to construct.
    """

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


class SlotProblem(enum.StrEnum):
    """Why a requested slot cannot be booked; the value is the stable code."""

    BAD_DURATION = "bad_duration"
    TOO_SOON = "too_soon"
    BEYOND_HORIZON = "beyond_horizon"
    OUTSIDE_HOURS = "outside_hours"
    OFF_GRID = "off_grid"
    DAY_FULL = "day_full"
    BUSY = "busy"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def is_conflict(self) -> bool:
        """True when the slot is valid but taken (HTTP 409), False when the request is wrong (400)."""
        return self in (SlotProblem.DAY_FULL, SlotProblem.BUSY)


_MESSAGES: Final = {
    SlotProblem.BAD_DURATION: "This duration is not offered for this calendar.",
    SlotProblem.TOO_SOON: "This start is too soon; bookings need more notice.",
    SlotProblem.BEYOND_HORIZON: "This start is too far in the future to book yet.",
    SlotProblem.OUTSIDE_HOURS: "This time is outside the calendar's bookable hours.",
    SlotProblem.OFF_GRID: "Slots start on a fixed grid; pick one of the offered start times.",
    SlotProblem.DAY_FULL: "This day is fully booked.",
    SlotProblem.BUSY: "This time is no longer free; pick another slot.",
}


@dataclass(frozen=True)
class SlotRules:
    """How one calendar offers slots. Validated on construction (``ValueError``); mappings are frozen.

    ``weekly_hours`` maps ``date.weekday()`` (0 = Monday .. 6 = Sunday) to ranges; ``overrides`` maps a local
    date to ranges that replace that day's weekly hours (``()`` = closed). ``durations`` lists the offered
    durations; empty means any positive duration. ``max_per_day`` of ``None`` means no cap.
    """

    timezone: ZoneInfo
    weekly_hours: Mapping[int, tuple[TimeRange, ...]]
    overrides: Mapping[date, tuple[TimeRange, ...]] = field(default_factory=dict)
    step: timedelta = timedelta(minutes=15)
    durations: tuple[timedelta, ...] = ()
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    minimum_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    max_per_day: int | None = None

    def __post_init__(self) -> None:
        if self.step <= timedelta(0):
            raise ValueError("step must be positive")
        for name in ("buffer_before", "buffer_after", "minimum_notice"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative")
        if self.horizon <= timedelta(0):
            raise ValueError("horizon must be positive")
        if self.max_per_day is not None and self.max_per_day < 1:
            raise ValueError("max_per_day must be at least 1 (or None for no cap)")
        if any(d <= timedelta(0) for d in self.durations):
            raise ValueError("durations must be positive")
        if set(self.weekly_hours) - set(range(7)):
            raise ValueError("weekly_hours keys must be weekday numbers 0 (Monday) to 6 (Sunday)")
        weekly = {day: _normalize_ranges(rs, f"weekday {day}") for day, rs in self.weekly_hours.items()}
        overrides = {day: _normalize_ranges(rs, str(day)) for day, rs in self.overrides.items()}
        # Frozen dataclass: freeze the mappings too, so shared rules cannot be changed under a caller.
        object.__setattr__(self, "weekly_hours", MappingProxyType(weekly))
        object.__setattr__(self, "overrides", MappingProxyType(overrides))

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """The wall-clock hours ranges of a local date, overrides first."""
        ranges = self.overrides.get(day)
        if ranges is None:
            ranges = self.weekly_hours.get(day.weekday(), ())
        return ranges

    def allows_duration(self, duration: timedelta) -> bool:
        if duration <= timedelta(0):
            return False
        return not self.durations or duration in self.durations


def _end_key(end: time) -> tuple[int, time]:
    """Sort key that puts ``time(0)`` as an end (end of day) after every other time."""
    return (1, end) if end == MIDNIGHT else (0, end)


def _normalize_ranges(ranges: Iterable[TimeRange], where: str) -> tuple[TimeRange, ...]:
    result = sorted(ranges)
    for start, end in result:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"hours on {where}: times must be naive wall-clock times")
        if end != MIDNIGHT and not start < end:
            raise ValueError(f"hours on {where}: range {start}-{end} must start before it ends")
    for (_, prev_end), (start, _) in pairwise(result):
        if _end_key(prev_end) > (0, start):
            raise ValueError(f"hours on {where}: ranges ending {prev_end} and starting {start} overlap")
    return tuple(result)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort, drop empty intervals, and merge overlapping or touching ones; results are in UTC."""
    spans = sorted(
        i if i.start.tzinfo is UTC and i.end.tzinfo is UTC else Interval(_utc(i.start), _utc(i.end))
        for i in intervals
        if i.start < i.end
    )
    merged: list[Interval] = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def days_window(tz: ZoneInfo, first_day: date, last_day: date) -> Interval:
    """The UTC span from local midnight of ``first_day`` to local midnight after ``last_day``."""
    return Interval(_wall_to_utc(tz, first_day, MIDNIGHT), _wall_to_utc(tz, last_day + _ONE_DAY, MIDNIGHT))


def hours_on(rules: SlotRules, day: date) -> tuple[Interval, ...]:
    """The hours ranges of a local date as UTC intervals (empty ranges, e.g. inside a DST gap, dropped)."""
    return tuple(Interval(start, end) for start, end in _hours_utc(rules.timezone, day, rules.ranges_on(day)))


def free_slots(
    rules: SlotRules,
    *,
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    bookings_per_day: Mapping[date, int] = _NO_BOOKINGS,
) -> list[Interval]:
    """Every offered slot whose start lies in ``[window_start, window_end)``, in time order, in UTC.

    ``busy`` may be unsorted and overlapping. ``bookings_per_day`` counts existing bookings by local date
    (only consulted when ``rules.max_per_day`` is set). Raises ``ValueError`` for a duration the rules do not
    offer (check with ``rules.allows_duration`` first) or for naive datetimes.
    """
    _require_aware(window_start=window_start, window_end=window_end, now=now)
    if not rules.allows_duration(duration):
        raise ValueError(f"duration {duration} is not offered")
    lo = max(window_start, now + rules.minimum_notice).astimezone(UTC)
    hi = min(window_end, now + rules.horizon).astimezone(UTC)
    if lo >= hi:
        return []
    # A start s is refused by busy [b0, b1) iff b0 - duration - buffer_after < s < b1 + buffer_before.
    # Merged busy intervals are disjoint and sorted, so both the lower and upper ends stay sorted.
    ahead = duration + rules.buffer_after
    merged = merge_intervals(busy)
    blocked_from = [b.start - ahead for b in merged]
    blocked_to = [b.end + rules.buffer_before for b in merged]

    slots: list[Interval] = []
    tz, cap = rules.timezone, rules.max_per_day
    day, last_day = lo.astimezone(tz).date(), hi.astimezone(tz).date()
    while day <= last_day:
        if cap is None or bookings_per_day.get(day, 0) < cap:
            for range_start, range_end in _hours_utc(tz, day, rules.ranges_on(day)):
                _add_range_slots(slots, range_start, range_end, lo, hi, duration, rules.step, blocked_from, blocked_to)
        day += _ONE_DAY
    return slots


# What Interval(start, end) does, minus the Python-level __new__ call: this is the hot loop of free_slots.
_new_interval: Final = partial(tuple.__new__, Interval)


def _add_range_slots(
    slots: list[Interval],
    range_start: datetime,
    range_end: datetime,
    lo: datetime,
    hi: datetime,
    duration: timedelta,
    step: timedelta,
    blocked_from: list[datetime],
    blocked_to: list[datetime],
) -> None:
    """Append the grid slots of one hours range that start in ``[lo, hi)`` and dodge the blocked spans.

    Works in grid indexes k (start = range_start + k * step) and jumps over each blocked span, so the cost is
    one step per emitted slot plus one per blocked span, never slots x busy.
    """
    if hi <= range_start:
        return
    k = 0 if lo <= range_start else _ceil_div(lo - range_start, step)
    k_last = min((range_end - duration - range_start) // step, _ceil_div(hi - range_start, step) - 1)
    i = bisect_right(blocked_to, range_start + k * step)
    n = len(blocked_to)
    while k <= k_last:
        start = range_start + k * step
        while i < n and blocked_to[i] <= start:
            i += 1
        if i < n and blocked_from[i] < start:
            k = _ceil_div(blocked_to[i] - range_start, step)
            continue
        run_last = k_last if i == n else min(k_last, (blocked_from[i] - range_start) // step)
        starts = list(accumulate(repeat(step, run_last - k), initial=start))
        slots.extend(map(_new_interval, zip(starts, map(add, starts, repeat(duration)), strict=True)))
        k = run_last + 1


def check_slot(
    rules: SlotRules,
    *,
    start: datetime,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    bookings_that_day: int = 0,
) -> SlotProblem | None:
    """``None`` when ``[start, start + duration)`` is bookable, else the first problem (see module doc).

    ``bookings_that_day`` counts the existing bookings on the slot's local date (the booking being
    rescheduled excluded). Agrees with :func:`free_slots`: a start is offered there iff this returns None.
    """
    _require_aware(start=start, now=now)
    if not rules.allows_duration(duration):
        return SlotProblem.BAD_DURATION
    start = start.astimezone(UTC)
    if start < now + rules.minimum_notice:
        return SlotProblem.TOO_SOON
    if start >= now + rules.horizon:
        return SlotProblem.BEYOND_HORIZON
    problem = _hours_problem(rules, start, duration)
    if problem is not None:
        return problem
    if rules.max_per_day is not None and bookings_that_day >= rules.max_per_day:
        return SlotProblem.DAY_FULL
    guarded = Interval(start - rules.buffer_before, start + duration + rules.buffer_after)
    if any(guarded.overlaps(b) for b in busy if b.start < b.end):
        return SlotProblem.BUSY
    return None


def _hours_problem(rules: SlotRules, start: datetime, duration: timedelta) -> SlotProblem | None:
    day = start.astimezone(rules.timezone).date()
    for range_start, range_end in _hours_utc(rules.timezone, day, rules.ranges_on(day)):
        if range_start <= start < range_end:
            if start + duration > range_end:
                return SlotProblem.OUTSIDE_HOURS
            if (start - range_start) % rules.step:
                return SlotProblem.OFF_GRID
            return None
    return SlotProblem.OUTSIDE_HOURS


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _ceil_div(a: timedelta, b: timedelta) -> int:
    return -(-a // b)


# Cached: 1,000 calendars usually share a few time zones and hours, and converting wall times costs more
# than the slot loop for a day. Keys are hashable (ZoneInfo, date, tuple of time pairs).
@lru_cache(maxsize=16384)
def _hours_utc(tz: ZoneInfo, day: date, ranges: tuple[TimeRange, ...]) -> tuple[_UtcSpan, ...]:
    result: list[_UtcSpan] = []
    for start, end in ranges:
        start_utc = _wall_to_utc(tz, day, start)
        end_day, end_wall = (day + _ONE_DAY, MIDNIGHT) if end == MIDNIGHT else (day, end)
        end_utc = _wall_to_utc(tz, end_day, end_wall)
        if start_utc < end_utc:
            result.append((start_utc, end_utc))
    return tuple(result)


def _wall_to_utc(tz: ZoneInfo, day: date, wall: time) -> datetime:
    """A local wall time as a UTC instant; first occurrence if repeated, the jump instant if skipped."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first of a repeated wall time
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc
    # Inside a spring-forward gap. With fold=1 the wall time is read with the offset after the change, giving
    # an instant before the change; with fold=0 one after it. The jump lies between: find it to the second.
    return _first_instant_with_offset(tz, local.replace(fold=1).astimezone(UTC), utc)


def _first_instant_with_offset(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    target = after.astimezone(tz).utcoffset()
    lo, hi = int(before.timestamp()), int(after.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
