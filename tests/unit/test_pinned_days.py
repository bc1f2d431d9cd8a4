"""The pinned days are what they claim, both clocks agree, and the date bugs the suite once had are caught on
every day: a test that picks "another day" or walks over the calendar's holidays fails on some pinned day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.helpers.booking_support import workday, workdays
from tests.helpers.pinned_time import BERLIN, NEW_YORK, PINNED_DAYS, install, overridden_dates, suite_day, today


def _utc_offset_changes_on(day: date, zone: ZoneInfo) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.utcoffset() != (start + timedelta(days=1)).utcoffset()


def test_each_pinned_day_is_what_its_name_says() -> None:
    local = PINNED_DAYS
    assert local["monday"].weekday() == 0
    assert local["thursday"].weekday() == 3
    assert local["friday-after-17"].weekday() == 4 and local["friday-after-17"].hour >= 17
    assert local["saturday"].weekday() == 5
    for name, zone in (("berlin-dst-start", BERLIN), ("berlin-dst-end", BERLIN),
                       ("new-york-dst-start", NEW_YORK), ("new-york-dst-end", NEW_YORK)):
        day = local[name].date()
        assert day.weekday() == 6 and _utc_offset_changes_on(day, zone), name
        assert local[name].hour < 2, f"{name}: pinned before the change, so that today spans it"
    assert (local["christmas-eve"].month, local["christmas-eve"].day) == (12, 24)
    assert (local["new-years-eve"].month, local["new-years-eve"].day) == (12, 31)
    assert local["leap-day"].date() == date(2028, 2, 29)


def test_the_functions_clock_and_the_emulators_agree(emulator: Any, pinned_clock: Any) -> None:
    from emulator.clock import CLOCK

    assert abs(pinned_clock.now().timestamp() - CLOCK.now()) < 5
    assert abs(pinned_clock.now() - suite_day()) < timedelta(minutes=5)


def test_wcb_today_takes_a_day_name_or_an_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WCB_TODAY", "leap-day")
    assert suite_day() == PINNED_DAYS["leap-day"]
    monkeypatch.setenv("WCB_TODAY", "2030-06-03T08:15:00+02:00")
    assert suite_day().isoformat() == "2030-06-03T06:15:00+00:00"
    monkeypatch.setenv("WCB_TODAY", "June 3rd")
    with pytest.raises(ValueError, match="RFC 3339"):
        suite_day()


def _old_workday(days_ahead: int) -> date:
    """The helper the suite had: the first Monday-to-Thursday at least `days_ahead` days ahead."""
    day = today() + timedelta(days=days_ahead)
    while day.weekday() > 3:
        day += timedelta(days=1)
    return day


def _old_race_days(starts: int = 200, per_day: int = 14) -> list[date]:
    """The 200-booking race's old walk: every Monday-to-Thursday from `_old_workday(3)` until it has 200 starts."""
    days: list[date] = []
    day = _old_workday(3)
    while len(days) * per_day < starts:
        if day.weekday() < 4:
            days.append(day)
        day += timedelta(days=1)
    return days


@pytest.mark.parametrize("name", list(PINNED_DAYS))
def test_the_helpers_give_distinct_regular_days_on_every_pinned_day(name: str, pinned_clock: Any) -> None:
    pinned_clock.set(PINNED_DAYS[name])
    install(pinned_clock)
    days = workdays(15)
    assert len(set(days)) == 15 and days == sorted(days)
    assert all(day.weekday() < 4 and day not in overridden_dates() for day in days)
    assert days[0] >= today() + timedelta(days=3)
    assert days[-1] <= today() + timedelta(days=60), "inside the example config's horizon"
    assert workday() == days[0]


def test_the_two_date_bugs_would_be_caught_on_a_pinned_day(pinned_clock: Any) -> None:
    """On the Thursday, the old "another day" is the same Monday (the per-day cap test's 409 `day_full`), and
    from the Thursday the old walk books 24 December (the race test's 400 `outside_hours`): the every-day run
    holds both tests on those days, so either bug fails `make test` whatever today is."""
    collisions: set[str] = set()
    overrides: set[str] = set()
    for name, instant in PINNED_DAYS.items():
        pinned_clock.set(instant)
        install(pinned_clock)
        if _old_workday(3) == _old_workday(4):
            collisions.add(name)
        if set(_old_race_days()) & overridden_dates():
            overrides.add(name)
    assert "thursday" in collisions
    assert "thursday" in overrides


def test_the_date_sensitive_tests_run_on_every_pinned_day() -> None:
    import subprocess
    import sys

    from tests.helpers.support import ROOT

    wanted = [
        "tests/integration/test_booking_function.py::test_per_day_cap_is_409",
        "tests/integration/test_booking_races.py::test_two_hundred_bookings_under_twenty_percent_faults_each_booked_once",
        "tests/integration/test_booking_lifecycle.py::test_a_token_lives_its_ttl_and_no_longer",
    ]
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *wanted],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    for test in wanted:
        days = {line.split("[", 1)[1].rstrip("]") for line in ids if line.startswith(test + "[")}
        assert days == set(PINNED_DAYS), test


def test_only_the_clocks_read_the_machines_time() -> None:
    import re

    from tests.helpers.support import ROOT

    reads = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|time\.time_ns)\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("shared", "emulator", "functions")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "clock.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == [], "read the time through shared.clock / emulator.clock"
