"""The days the suite runs on: every test reads "now" from a pinned clock, never from the machine.

`WCB_TODAY` picks the day the whole suite runs on: a name below or an RFC 3339 instant with offset
(`WCB_TODAY=2027-03-28T00:30:00+01:00 make test`). Tests marked `every_day` run once on each day below.
The instants are local times in the zone that makes the day interesting (before 02:00 on a DST Sunday, so
that "today" spans the change).
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.clock import PinnedClock, parse_instant

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

PINNED_DAYS: dict[str, datetime] = {
    "monday": datetime(2026, 12, 7, 9, 30, tzinfo=BERLIN),
    "thursday": datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN),
    "friday-after-17": datetime(2026, 12, 4, 17, 30, tzinfo=BERLIN),
    "saturday": datetime(2026, 12, 5, 11, 0, tzinfo=BERLIN),
    "berlin-dst-start": datetime(2027, 3, 28, 0, 30, tzinfo=BERLIN),
    "berlin-dst-end": datetime(2027, 10, 31, 0, 30, tzinfo=BERLIN),
    "new-york-dst-start": datetime(2027, 3, 14, 0, 30, tzinfo=NEW_YORK),
    "new-york-dst-end": datetime(2027, 11, 7, 0, 30, tzinfo=NEW_YORK),
    "christmas-eve": datetime(2026, 12, 24, 9, 0, tzinfo=BERLIN),
    "new-years-eve": datetime(2026, 12, 31, 9, 0, tzinfo=BERLIN),
    "leap-day": datetime(2028, 2, 29, 9, 0, tzinfo=BERLIN),
}
DEFAULT_DAY = "thursday"

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def suite_day() -> datetime:
    """The instant the suite runs at, from `WCB_TODAY` (a name of PINNED_DAYS or an instant), else the default."""
    chosen = os.environ.get("WCB_TODAY", "").strip() or DEFAULT_DAY
    if chosen in PINNED_DAYS:
        return PINNED_DAYS[chosen]
    return parse_instant(chosen)


_current = PinnedClock(suite_day())


def current_clock() -> PinnedClock:
    """The clock the running test pinned (the shared side's; the emulator's is pinned to the same instant)."""
    return _current


def install(clock: PinnedClock) -> None:
    global _current
    _current = clock


def today(zone: ZoneInfo = BERLIN) -> date:
    return _current.now().astimezone(zone).date()


@cache
def overridden_dates() -> frozenset[date]:
    """Every date the example config overrides for some calendar (holidays, short days)."""
    config = tomllib.loads(EXAMPLE_CONFIG.read_text())
    return frozenset(
        date.fromisoformat(day) for calendar in config.get("calendars", []) for day in calendar.get("overrides", {})
    )
