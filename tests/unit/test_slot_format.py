"""`shared.slot_format.format_slots` writes exactly what `astimezone(zone).isoformat()` writes, cached or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import slot_format
from shared.slot_format import format_slots
from shared.slots import Interval

# DST zones both sides of the equator, non-hour offsets (Kolkata +05:30, Lord Howe +10:30/+11 with a 30-minute DST,
# St John's -03:30/-02:30, Kathmandu +05:45, Chatham +12:45/+13:45), a zone that skipped a whole day (Apia, 2011),
# and the historical local mean times before 1900 (offsets with seconds, such as Kolkata's +05:53:28).
ZONES = [ZoneInfo(name) for name in (
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Australia/Lord_Howe",
    "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia", "America/Sao_Paulo", "Africa/Casablanca",
    "Europe/Dublin", "Antarctica/Troll",
)]
FIXED = [timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3, minutes=-30)), UTC]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(intervals: list[Interval], zone: ZoneInfo | timezone) -> list[dict[str, str]]:
    """The expression BookingService.slots used before format_slots."""
    return [{"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()}
            for s in intervals]


def utc_instants(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=low.replace(tzinfo=None), max_value=high.replace(tzinfo=None)).map(
        lambda naive: naive.replace(tzinfo=UTC))


def slot_lists(instants: st.SearchStrategy[datetime]) -> st.SearchStrategy[list[Interval]]:
    lengths = st.sampled_from([timedelta(minutes=m) for m in (15, 30, 45, 60, 90)]) | st.timedeltas(
        min_value=timedelta(0), max_value=timedelta(days=2))
    return st.lists(st.tuples(instants, lengths).map(lambda p: Interval(p[0], p[0] + p[1])), max_size=30)


@settings(max_examples=600, deadline=None)
@given(slot_lists(utc_instants(datetime(1850, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))),
       st.sampled_from(ZONES + FIXED))
def test_random_instants_match_isoformat(intervals: list[Interval], zone: ZoneInfo | timezone) -> None:
    assert format_slots(intervals, zone) == reference(intervals, zone)
    assert format_slots(intervals, zone) == reference(intervals, zone)  # the second time from the cache


@st.composite
def near_transitions(draw: st.DrawFn) -> tuple[ZoneInfo, list[Interval]]:
    """Grid slots within a day of one of the zone's offset changes, found by bisection in 2000-2040."""
    zone = draw(st.sampled_from(ZONES[1:]))
    year = draw(st.integers(2000, 2040))
    low, high = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    changes = [t for t in _changes(zone, low, high)]
    if not changes:
        return zone, []
    change = draw(st.sampled_from(changes))
    step = draw(st.sampled_from([timedelta(minutes=m) for m in (5, 15, 30)]))
    first = change - timedelta(hours=draw(st.integers(0, 24)))
    starts = [first + k * step for k in range(int(timedelta(hours=36) / step))]
    return zone, [Interval(s, s + timedelta(minutes=30)) for s in starts]


def _changes(zone: ZoneInfo, low: datetime, high: datetime) -> list[datetime]:
    """The first instants (to the second) of a new UTC offset between low and high, sampled every 6 hours."""
    found: list[datetime] = []
    probe = low
    while probe < high:
        after = probe + timedelta(hours=6)
        if probe.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            a, b = probe, after
            while b - a > timedelta(seconds=1):
                middle = a + (b - a) / 2
                if middle.astimezone(zone).utcoffset() == a.astimezone(zone).utcoffset():
                    a = middle
                else:
                    b = middle
            found.append(b.replace(microsecond=0))
        probe = after
    return found


@settings(max_examples=150, deadline=None)
@given(near_transitions())
def test_grid_slots_across_offset_changes_match_isoformat(case: tuple[ZoneInfo, list[Interval]]) -> None:
    zone, intervals = case
    assert format_slots(intervals, zone) == reference(intervals, zone)
    assert format_slots(intervals, zone) == reference(intervals, zone)


@pytest.mark.parametrize(("zone_name", "utc", "expected"), [
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC), "2026-10-04T02:30:00+11:00"),  # DST begins
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 29, tzinfo=UTC), "2026-10-04T01:59:00+10:30"),
    ("America/St_Johns", datetime(2026, 11, 1, 4, 30, tzinfo=UTC), "2026-11-01T01:00:00-03:30"),  # DST ends
    ("America/St_Johns", datetime(2026, 11, 1, 3, 30, tzinfo=UTC), "2026-11-01T01:00:00-02:30"),  # the first 1:00
    ("Asia/Kolkata", datetime(2026, 12, 7, 3, 45, tzinfo=UTC), "2026-12-07T09:15:00+05:30"),
    ("Asia/Kolkata", datetime(1850, 1, 1, tzinfo=UTC), "1850-01-01T05:53:28+05:53:28"),  # local mean time
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, 0, 250, tzinfo=UTC), "2026-03-29T03:00:00.000250+02:00"),
])
def test_examples(zone_name: str, utc: datetime, expected: str) -> None:
    zone = ZoneInfo(zone_name)
    assert format_slots([Interval(utc, utc)], zone) == [{"start": expected, "end": expected}]
    assert utc.astimezone(zone).isoformat() == expected


def test_fold_pairs_in_a_zone_are_not_confused() -> None:
    """Two ZoneInfo-aware instants with one wall time (the two 01:30s of a fall-back night) compare equal as
    datetimes; the formatter must not serve one's text for the other."""
    new_york = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=new_york)
    second = first.replace(fold=1)
    intervals = [Interval(first, first), Interval(second, second)]
    assert format_slots(intervals, ZoneInfo("UTC")) == reference(intervals, ZoneInfo("UTC"))
    assert format_slots(intervals, ZoneInfo("UTC"))[0] != format_slots(intervals, ZoneInfo("UTC"))[1]


def test_tables_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slot_format, "MAX_PER_ZONE", 10)
    monkeypatch.setattr(slot_format, "_tables", {})
    zone = ZoneInfo("Europe/Berlin")
    intervals = [Interval(EPOCH + timedelta(hours=k), EPOCH + timedelta(hours=k, minutes=30)) for k in range(40)]
    for chunk in range(0, 40, 5):
        assert format_slots(intervals[chunk:chunk + 5], zone) == reference(intervals[chunk:chunk + 5], zone)
        assert len(slot_format._tables[zone]) <= 10 + 10
