"""Slot math: examples, DST change days in several zones, properties, and the 1,000-calendar budget."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.slots import (
    Interval,
    SlotProblem,
    SlotRules,
    check_slot,
    days_window,
    free_slots,
    hours_on,
    merge_intervals,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
MIN = timedelta(minutes=1)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
MONDAY = date(2026, 11, 23)  # an ordinary Monday, no clock change near it


def rules_for(tz: ZoneInfo = BERLIN, **overrides: object) -> SlotRules:
    settings_: dict[str, object] = {
        "timezone": tz,
        "weekly_hours": {day: ((time(9), time(12)), (time(13), time(17))) for day in range(5)},
        "step": 15 * MIN,
        "horizon": timedelta(days=3650),
    }
    settings_.update(overrides)
    return SlotRules(**settings_)  # type: ignore[arg-type]


def slots_on(rules: SlotRules, day: date, duration: timedelta, **kwargs: object) -> list[Interval]:
    window = days_window(rules.timezone, day, day)
    options: dict[str, object] = {"busy": [], "now": LONG_AGO}
    options.update(kwargs)
    return free_slots(
        rules,
        window_start=window.start,
        window_end=window.end,
        duration=duration,
        **options,  # type: ignore[arg-type]
    )


def local_labels(slots: list[Interval], tz: ZoneInfo) -> list[str]:
    return [s.start.astimezone(tz).strftime("%H:%M %Z") for s in slots]


def at(tz: ZoneInfo, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=tz)


# --- examples -------------------------------------------------------------------------------------------


def test_two_ranges_on_a_plain_day() -> None:
    slots = slots_on(rules_for(), MONDAY, 30 * MIN)
    labels = local_labels(slots, BERLIN)
    # 09:00-12:00 offers 09:00..11:30 (11 starts), 13:00-17:00 offers 13:00..16:30 (15 starts).
    assert len(slots) == 11 + 15
    assert labels[0] == "09:00 CET"
    assert labels[10] == "11:30 CET"
    assert labels[11] == "13:00 CET"
    assert labels[-1] == "16:30 CET"
    assert all(s.end - s.start == 30 * MIN for s in slots)
    assert all(s.start.tzinfo is UTC for s in slots)


def test_weekend_and_overrides() -> None:
    rules = rules_for(
        overrides={MONDAY: (), MONDAY + timedelta(days=1): ((time(10), time(11)),)},
    )
    assert slots_on(rules, MONDAY, 30 * MIN) == []
    assert local_labels(slots_on(rules, MONDAY + timedelta(days=1), 30 * MIN), BERLIN) == [
        "10:00 CET",
        "10:15 CET",
        "10:30 CET",
    ]
    assert slots_on(rules, date(2026, 11, 28), 30 * MIN) == []  # Saturday


def test_range_to_end_of_day() -> None:
    rules = rules_for(weekly_hours={0: ((time(22), time(0)),)}, step=60 * MIN)
    assert local_labels(slots_on(rules, MONDAY, 60 * MIN), BERLIN) == ["22:00 CET", "23:00 CET"]


def test_busy_time_with_buffers() -> None:
    rules = rules_for(buffer_before=15 * MIN, buffer_after=10 * MIN)
    busy = [Interval(at(BERLIN, MONDAY, 10), at(BERLIN, MONDAY, 11))]
    labels = local_labels(slots_on(rules, MONDAY, 30 * MIN, busy=busy)[:6], BERLIN)
    # 09:15-09:45 plus 10 min after ends 09:55: fine; 09:30-10:00 plus 10 min reaches into the busy hour.
    # After it, a start needs 15 free minutes before: 11:15 is the first.
    assert labels == ["09:00 CET", "09:15 CET", "11:15 CET", "11:30 CET", "13:00 CET", "13:15 CET"]


def test_busy_intervals_in_any_zone_and_order() -> None:
    busy = [
        Interval(at(NEW_YORK, MONDAY, 8), at(NEW_YORK, MONDAY, 9)),  # 14:00-15:00 Berlin
        Interval(at(BERLIN, MONDAY, 9), at(BERLIN, MONDAY, 11, 30)),
        Interval(at(BERLIN, MONDAY, 10), at(BERLIN, MONDAY, 10)),  # empty: ignored
    ]
    labels = local_labels(slots_on(rules_for(step=60 * MIN), MONDAY, 60 * MIN, busy=busy), BERLIN)
    assert labels == ["13:00 CET", "15:00 CET", "16:00 CET"]


def test_minimum_notice_rounds_up_to_the_grid() -> None:
    rules = rules_for(minimum_notice=timedelta(hours=2))
    now = at(BERLIN, MONDAY, 8, 7) + timedelta(seconds=3)
    slots = slots_on(rules, MONDAY, 30 * MIN, now=now)
    assert local_labels(slots, BERLIN)[0] == "10:15 CET"
    assert check_slot(rules, start=at(BERLIN, MONDAY, 10), duration=30 * MIN, busy=[], now=now) == (
        SlotProblem.TOO_SOON
    )
    assert check_slot(rules, start=at(BERLIN, MONDAY, 10, 15), duration=30 * MIN, busy=[], now=now) is None


def test_horizon_is_exclusive() -> None:
    now = at(BERLIN, MONDAY, 10)
    rules = rules_for(horizon=timedelta(days=1))
    slots = slots_on(rules, MONDAY + timedelta(days=1), 30 * MIN, now=now)
    assert local_labels(slots, BERLIN) == ["09:00 CET", "09:15 CET", "09:30 CET", "09:45 CET"]
    start = at(BERLIN, MONDAY + timedelta(days=1), 10)
    assert check_slot(rules, start=start, duration=30 * MIN, busy=[], now=now) == SlotProblem.BEYOND_HORIZON


def test_day_cap_omits_full_days_only() -> None:
    rules = rules_for(max_per_day=2)
    window = days_window(BERLIN, MONDAY, MONDAY + timedelta(days=1))
    slots = free_slots(
        rules,
        window_start=window.start,
        window_end=window.end,
        duration=30 * MIN,
        busy=[],
        now=LONG_AGO,
        bookings_per_day={MONDAY: 2, MONDAY + timedelta(days=1): 1},
    )
    assert {s.start.astimezone(BERLIN).date() for s in slots} == {MONDAY + timedelta(days=1)}


def test_window_bounds_slot_starts() -> None:
    rules = rules_for()
    slots = free_slots(
        rules,
        window_start=at(BERLIN, MONDAY, 9, 10),
        window_end=at(BERLIN, MONDAY, 10),
        duration=60 * MIN,
        busy=[],
        now=LONG_AGO,
    )
    assert local_labels(slots, BERLIN) == ["09:15 CET", "09:30 CET", "09:45 CET"]


def test_duration_longer_than_any_range_gives_nothing() -> None:
    assert slots_on(rules_for(), MONDAY, 5 * 60 * MIN) == []


def test_check_slot_codes() -> None:
    rules = rules_for(durations=(30 * MIN, 60 * MIN), max_per_day=3, buffer_after=10 * MIN)
    busy = [Interval(at(BERLIN, MONDAY, 15), at(BERLIN, MONDAY, 16))]

    def check(hh: int, mm: int = 0, minutes: int = 30, bookings: int = 0) -> SlotProblem | None:
        return check_slot(
            rules,
            start=at(BERLIN, MONDAY, hh, mm),
            duration=minutes * MIN,
            busy=busy,
            now=LONG_AGO,
            bookings_that_day=bookings,
        )

    assert check(9) is None
    assert check(9, minutes=45) == SlotProblem.BAD_DURATION
    assert check(8, 30) == SlotProblem.OUTSIDE_HOURS
    assert check(11, 45) == SlotProblem.OUTSIDE_HOURS  # would run into the lunch break
    assert check(12, 15) == SlotProblem.OUTSIDE_HOURS
    assert check(16, 45) == SlotProblem.OUTSIDE_HOURS
    assert check(9, 10) == SlotProblem.OFF_GRID
    assert check(9, bookings=3) == SlotProblem.DAY_FULL
    assert check(14, 30) == SlotProblem.BUSY  # its 10-minute buffer after reaches 15:10
    assert check(14, 15) is None
    assert check(16) is None


def test_problem_codes_are_stable_and_classified() -> None:
    assert {p.value for p in SlotProblem} == {
        "bad_duration",
        "too_soon",
        "beyond_horizon",
        "outside_hours",
        "off_grid",
        "day_full",
        "busy",
    }
    assert {p for p in SlotProblem if p.is_conflict} == {SlotProblem.BUSY, SlotProblem.DAY_FULL}
    assert all(p.message.endswith(".") for p in SlotProblem)


def test_merge_intervals() -> None:
    a = datetime(2026, 1, 1, 9, tzinfo=UTC)
    merged = merge_intervals(
        [
            Interval(a + 5 * MIN * 12, a + 6 * MIN * 12),  # 10:00-10:12
            Interval(a, a + 30 * MIN),
            Interval(a + 30 * MIN, a + 40 * MIN),  # touching: merged
            Interval(a + 10 * MIN, a + 20 * MIN),  # inside: swallowed
            Interval(a + 50 * MIN, a + 50 * MIN),  # empty: dropped
            Interval((a + 61 * MIN).astimezone(BERLIN), (a + 90 * MIN).astimezone(BERLIN)),
        ]
    )
    assert merged == [Interval(a, a + 40 * MIN), Interval(a + 60 * MIN, a + 90 * MIN)]
    assert all(i.start.tzinfo is UTC for i in merged)


def test_rules_are_validated_and_frozen() -> None:
    with pytest.raises(ValueError, match="overlap"):
        rules_for(weekly_hours={0: ((time(9), time(12)), (time(11), time(13)))})
    with pytest.raises(ValueError, match="start before"):
        rules_for(weekly_hours={0: ((time(12), time(9)),)})
    with pytest.raises(ValueError, match="step"):
        rules_for(step=timedelta(0))
    with pytest.raises(ValueError, match="weekday"):
        rules_for(weekly_hours={7: ()})
    rules = rules_for(weekly_hours={0: ((time(13), time(17)), (time(9), time(12)))})
    assert rules.weekly_hours[0] == ((time(9), time(12)), (time(13), time(17)))  # sorted
    with pytest.raises(TypeError):
        rules.weekly_hours[1] = ()  # type: ignore[index]


def test_naive_datetimes_and_unoffered_durations_are_refused() -> None:
    rules = rules_for(durations=(30 * MIN,))
    naive = datetime(2026, 11, 23, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        check_slot(rules, start=naive, duration=30 * MIN, busy=[], now=LONG_AGO)
    with pytest.raises(ValueError, match="timezone-aware"):
        free_slots(rules, window_start=naive, window_end=naive, duration=30 * MIN, busy=[], now=LONG_AGO)
    with pytest.raises(ValueError, match="not offered"):
        slots_on(rules, MONDAY, 45 * MIN)


# --- daylight saving time ----------------------------------------------------------------------------------

# (zone, spring-forward day, fall-back day)
DST_DAYS = [
    (BERLIN, date(2026, 3, 29), date(2026, 10, 25)),
    (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
    (SYDNEY, date(2026, 10, 4), date(2026, 4, 5)),
]


@pytest.mark.parametrize(("tz", "spring", "autumn"), DST_DAYS, ids=["Berlin", "New_York", "Sydney"])
def test_office_hours_stay_wall_clock_on_change_days(tz: ZoneInfo, spring: date, autumn: date) -> None:
    for day in (spring, autumn, spring - timedelta(days=1), autumn + timedelta(days=1)):
        rules = rules_for(tz, weekly_hours={day.weekday(): ((time(9), time(17)),)}, step=30 * MIN)
        slots = slots_on(rules, day, 30 * MIN)
        local = [s.start.astimezone(tz) for s in slots]
        assert [t.strftime("%H:%M") for t in local] == [f"{h:02}:{m:02}" for h in range(9, 17) for m in (0, 30)]
        assert all(s.end - s.start == 30 * MIN for s in slots)
        assert slots[-1].end.astimezone(tz).time() == time(17)


@pytest.mark.parametrize(("tz", "spring", "autumn"), DST_DAYS, ids=["Berlin", "New_York", "Sydney"])
def test_local_days_are_23_and_25_hours(tz: ZoneInfo, spring: date, autumn: date) -> None:
    spring_day = days_window(tz, spring, spring)
    autumn_day = days_window(tz, autumn, autumn)
    assert spring_day.end - spring_day.start == timedelta(hours=23)
    assert autumn_day.end - autumn_day.start == timedelta(hours=25)


@pytest.mark.parametrize(("tz", "spring", "autumn"), DST_DAYS, ids=["Berlin", "New_York", "Sydney"])
def test_a_range_across_the_change_steps_in_elapsed_time(tz: ZoneInfo, spring: date, autumn: date) -> None:
    for day, elapsed_hours in ((spring, 7), (autumn, 9)):
        rules = rules_for(tz, weekly_hours={day.weekday(): ((time(0), time(8)),)}, step=30 * MIN)
        slots = slots_on(rules, day, 60 * MIN)
        assert len(slots) == 2 * elapsed_hours - 1
        assert all(b.start - a.start == 30 * MIN for a, b in pairwise(slots))
        assert len({s.start for s in slots}) == len(slots)


def test_berlin_spring_gap_start_means_the_jump() -> None:
    day = date(2026, 3, 29)  # 02:00 CET jumps to 03:00 CEST
    rules = rules_for(weekly_hours={day.weekday(): ((time(2, 30), time(5)),)}, step=30 * MIN)
    assert local_labels(slots_on(rules, day, 60 * MIN), BERLIN) == ["03:00 CEST", "03:30 CEST", "04:00 CEST"]
    assert hours_on(rules, day) == (
        Interval(datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 3, tzinfo=UTC)),
    )


def test_a_range_inside_the_gap_is_empty_that_day_only() -> None:
    day = date(2026, 3, 29)
    rules = rules_for(weekly_hours={6: ((time(2), time(2, 30)),)}, step=30 * MIN)
    assert slots_on(rules, day, 30 * MIN) == []
    assert local_labels(slots_on(rules, day + timedelta(days=7), 30 * MIN), BERLIN) == ["02:00 CEST"]


def test_berlin_hour_across_the_gap_is_one_elapsed_hour() -> None:
    day = date(2026, 3, 29)
    rules = rules_for(weekly_hours={6: ((time(1), time(5)),)}, step=60 * MIN)
    slots = slots_on(rules, day, 60 * MIN)
    assert local_labels(slots, BERLIN) == ["01:00 CET", "03:00 CEST", "04:00 CEST"]
    assert slots[0].end.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"


def test_new_york_repeated_hour_gives_distinct_non_overlapping_slots() -> None:
    day = date(2026, 11, 1)  # 02:00 EDT falls back to 01:00 EST
    rules = rules_for(NEW_YORK, weekly_hours={6: ((time(0), time(3)),)}, step=60 * MIN)
    slots = slots_on(rules, day, 60 * MIN)
    assert local_labels(slots, NEW_YORK) == ["00:00 EDT", "01:00 EDT", "01:00 EST", "02:00 EST"]
    assert all(a.end <= b.start for a, b in pairwise(slots))
    for slot in slots:
        assert check_slot(rules, start=slot.start, duration=60 * MIN, busy=[], now=LONG_AGO) is None


def test_new_york_range_starting_in_repeated_hour_starts_at_first_occurrence() -> None:
    day = date(2026, 11, 1)
    rules = rules_for(NEW_YORK, weekly_hours={6: ((time(1, 30), time(3)),)}, step=30 * MIN)
    slots = slots_on(rules, day, 30 * MIN)
    assert local_labels(slots, NEW_YORK) == [
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
        "02:00 EST",
        "02:30 EST",
    ]


def test_sydney_fall_back_repeats_two_oclock_once_each() -> None:
    day = date(2026, 4, 5)  # 03:00 AEDT falls back to 02:00 AEST
    rules = rules_for(SYDNEY, weekly_hours={6: ((time(1), time(4)),)}, step=60 * MIN)
    slots = slots_on(rules, day, 60 * MIN)
    assert local_labels(slots, SYDNEY) == ["01:00 AEDT", "02:00 AEDT", "02:00 AEST", "03:00 AEST"]


def test_check_slot_accepts_a_wall_time_with_the_right_fold() -> None:
    rules = rules_for(NEW_YORK, weekly_hours={6: ((time(0), time(3)),)}, step=60 * MIN)
    first = datetime(2026, 11, 1, 1, tzinfo=NEW_YORK)
    second = datetime(2026, 11, 1, 1, fold=1, tzinfo=NEW_YORK)
    for start in (first, second):
        assert check_slot(rules, start=start, duration=60 * MIN, busy=[], now=LONG_AGO) is None
    assert check_slot(rules, start=first + 30 * MIN, duration=60 * MIN, busy=[], now=LONG_AGO) == (SlotProblem.OFF_GRID)


# --- properties -----------------------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/London", "Asia/Kolkata", "UTC"]
# A start instant near some clock changes of 2026 so DST days come up often.
ANCHORS = [
    datetime(2026, 3, 6, tzinfo=UTC),
    datetime(2026, 3, 27, tzinfo=UTC),
    datetime(2026, 4, 3, tzinfo=UTC),
    datetime(2026, 10, 2, tzinfo=UTC),
    datetime(2026, 10, 23, tzinfo=UTC),
    datetime(2026, 10, 30, tzinfo=UTC),
    datetime(2026, 6, 15, tzinfo=UTC),
]


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    bounds = sorted(draw(st.sets(st.integers(0, 96).map(lambda q: q * 15), max_size=6)))
    pairs = list(zip(bounds[::2], bounds[1::2], strict=False))
    return tuple((_wall(a), _wall(b)) for a, b in pairs if a < b)


def _wall(minutes: int) -> time:
    return time(0) if minutes == 1440 else time(minutes // 60, minutes % 60)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    now = draw(st.sampled_from(ANCHORS)) + timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    first_day = now.astimezone(tz).date()
    weekly = {day: draw(day_ranges()) for day in range(7)}
    override_days = draw(st.sets(st.integers(0, 9), max_size=3))
    overrides = {first_day + timedelta(days=d): draw(day_ranges()) for d in override_days}
    rules = SlotRules(
        timezone=tz,
        weekly_hours=weekly,
        overrides=overrides,
        step=draw(st.sampled_from([5, 10, 15, 20, 30, 60])) * MIN,
        buffer_before=draw(st.sampled_from([0, 5, 15, 30])) * MIN,
        buffer_after=draw(st.sampled_from([0, 10, 25])) * MIN,
        minimum_notice=draw(st.sampled_from([0, 30, 120, 24 * 60])) * MIN,
        horizon=timedelta(days=draw(st.integers(1, 8))),
        max_per_day=draw(st.none() | st.integers(1, 3)),
    )
    busy = [
        Interval(start, start + draw(st.integers(1, 240)) * MIN)
        for start in draw(
            st.lists(st.integers(-86400, 10 * 86400).map(lambda s: now + timedelta(seconds=s)), max_size=12)
        )
    ]
    return {
        "rules": rules,
        "now": now,
        "duration": draw(st.sampled_from([10, 15, 30, 45, 60, 90])) * MIN,
        "busy": busy,
        "bookings": {first_day + timedelta(days=d): draw(st.integers(0, 3)) for d in range(10)},
        "window_start": now - timedelta(hours=draw(st.integers(0, 48))),
        "window_end": now + timedelta(hours=draw(st.integers(1, 240))),
    }


def _free(s: dict[str, object]) -> list[Interval]:
    return free_slots(
        s["rules"],  # type: ignore[arg-type]
        window_start=s["window_start"],  # type: ignore[arg-type]
        window_end=s["window_end"],  # type: ignore[arg-type]
        duration=s["duration"],  # type: ignore[arg-type]
        busy=s["busy"],  # type: ignore[arg-type]
        now=s["now"],  # type: ignore[arg-type]
        bookings_per_day=s["bookings"],  # type: ignore[arg-type]
    )


def _no_change_on(tz: ZoneInfo, day: date) -> bool:
    window = days_window(tz, day, day)
    return window.end - window.start == timedelta(days=1)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_slot_obeys_every_rule(s: dict[str, object]) -> None:
    rules: SlotRules = s["rules"]  # type: ignore[assignment]
    now: datetime = s["now"]  # type: ignore[assignment]
    duration: timedelta = s["duration"]  # type: ignore[assignment]
    busy: list[Interval] = s["busy"]  # type: ignore[assignment]
    bookings: dict[date, int] = s["bookings"]  # type: ignore[assignment]
    slots = _free(s)
    tz = rules.timezone
    assert [x.start for x in slots] == sorted({x.start for x in slots})  # in order, no duplicates
    for slot in slots:
        assert slot.end - slot.start == duration
        assert s["window_start"] <= slot.start < s["window_end"]  # type: ignore[operator]
        assert now + rules.minimum_notice <= slot.start < now + rules.horizon
        guarded = Interval(slot.start - rules.buffer_before, slot.end + rules.buffer_after)
        assert not any(guarded.overlaps(b) for b in busy)
        day = slot.start.astimezone(tz).date()
        if rules.max_per_day is not None:
            assert bookings.get(day, 0) < rules.max_per_day
        containing = [r for r in hours_on(rules, day) if r.start <= slot.start and slot.end <= r.end]
        assert len(containing) == 1
        assert (slot.start - containing[0].start) % rules.step == timedelta(0)
        if _no_change_on(tz, day):  # independent wall-clock check where no clock change muddles it
            local_start, local_end = slot.start.astimezone(tz), slot.end.astimezone(tz)
            assert any(
                datetime.combine(day, a, tzinfo=tz) <= local_start
                and local_end <= (datetime.combine(day, b, tzinfo=tz) if b != time(0) else _next_midnight(tz, day))
                and (local_start.hour * 60 + local_start.minute - a.hour * 60 - a.minute) % (rules.step // MIN) == 0
                for a, b in rules.ranges_on(day)
            )


def _next_midnight(tz: ZoneInfo, day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


@PROPERTY_SETTINGS
@given(scenarios())
def test_check_slot_agrees_with_free_slots_on_every_grid_start(s: dict[str, object]) -> None:
    rules: SlotRules = s["rules"]  # type: ignore[assignment]
    duration: timedelta = s["duration"]  # type: ignore[assignment]
    window_start: datetime = s["window_start"]  # type: ignore[assignment]
    window_end: datetime = s["window_end"]  # type: ignore[assignment]
    bookings: dict[date, int] = s["bookings"]  # type: ignore[assignment]
    offered = set(_free(s))
    tz = rules.timezone
    day = window_start.astimezone(tz).date()
    checked = 0
    while day <= window_end.astimezone(tz).date():
        for hours in hours_on(rules, day):
            start = hours.start
            while start + duration <= hours.end:
                if window_start <= start < window_end:
                    problem = check_slot(
                        rules,
                        start=start.astimezone(tz),
                        duration=duration,
                        busy=s["busy"],  # type: ignore[arg-type]
                        now=s["now"],  # type: ignore[arg-type]
                        bookings_that_day=bookings.get(day, 0),
                    )
                    assert (problem is None) == (Interval(start, start + duration) in offered), (start, problem)
                    checked += 1
                start += rules.step
        day += timedelta(days=1)
    assert checked >= len(offered)


@settings(max_examples=100, deadline=None)
@given(
    starts=st.lists(st.integers(0, 10_000), max_size=20),
    lengths=st.lists(st.integers(0, 500), min_size=20, max_size=20),
)
def test_merge_intervals_covers_the_same_time(starts: list[int], lengths: list[int]) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    spans = [Interval(base + s * MIN, base + (s + n) * MIN) for s, n in zip(starts, lengths, strict=False)]
    merged = merge_intervals(spans)
    assert all(a.end < b.start for a, b in pairwise(merged))  # disjoint, not touching
    for minute in range(0, 10_600, 7):
        t = base + minute * MIN
        assert any(i.start <= t < i.end for i in spans) == any(i.start <= t < i.end for i in merged)


# --- performance ------------------------------------------------------------------------------------------


def test_thousand_calendars_over_28_days_give_every_slot() -> None:
    """Scale, not speed: how fast this runs is `make bench`'s slot-computation figure."""
    rng = random.Random(7)
    zones = [ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo")]
    now = datetime(2026, 3, 2, 7, tzinfo=UTC)  # the 28 days include the US and EU spring changes
    calendars = []
    for i in range(1000):
        hours = ((time(9), time(12)), (time(13), time(17))) if i % 2 else ((time(8, 30), time(16, 30)),)
        rules = SlotRules(
            timezone=zones[i % len(zones)],
            weekly_hours=dict.fromkeys(range(5), hours),
            step=15 * MIN,
            durations=(30 * MIN, 60 * MIN),
            buffer_after=10 * MIN,
            minimum_notice=120 * MIN,
            horizon=timedelta(days=60),
            max_per_day=8,
        )
        busy = []
        for day in range(28):
            for _ in range(rng.randint(0, 5)):
                start = now + timedelta(days=day, minutes=15 * rng.randint(0, 95))
                busy.append(Interval(start, start + rng.choice([30, 45, 60, 90, 120]) * MIN))
        calendars.append((rules, busy))

    total = 0
    for rules, busy in calendars:
        total += len(
            free_slots(
                rules,
                window_start=now,
                window_end=now + timedelta(days=28),
                duration=30 * MIN,
                busy=busy,
                now=now,
            )
        )
    assert total > 300_000
