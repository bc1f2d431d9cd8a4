"""`format_slots`: the `slots` list of GET /slots, byte-identical to formatting each end with
`instant.astimezone(zone).isoformat()`, at a fraction of the cost.

That expression was about 35-40% of a /slots request's CPU: a zone lookup and an offset-aware `isoformat` (which
asks the zone for the offset again) per slot end, about 1.5 us each. Here each instant's text is computed once per
zone with exactly that expression and then reused: within one answer the end of a slot is usually the start of a
later one (the grid step divides the duration), and across answers the same grid instants come back for every
visitor of a calendar. A hit is one dict lookup keyed by the instant. Only instants with a fixed-offset tzinfo
(`datetime.timezone`, such as the UTC that `shared.slots.free_slots` answers in) are looked up: two of those
compare equal exactly when they are the same instant. Two datetimes sharing a zone like ZoneInfo compare by wall
time and ignore `fold`, so the two 01:30s of a fall-back night would share an entry; those are formatted directly.

Why not offsets per zone transition with string formatting: `zoneinfo` does not expose its transitions, and
finding them by probing cannot prove that no pair of transitions hides between two probes; the expression itself
is the only exact source on the public API, so it stays the source and is memoised instead. DST changes, non-hour
offsets (Asia/Kolkata, Australia/Lord_Howe's 30-minute DST, America/St_Johns) and sub-minute historical offsets
are therefore exact by construction (tests/unit/test_slot_format.py checks it against the plain expression).

Thread safety: a zone's table is a plain dict; `get` and item assignment are atomic, and a racing writer writes
the same text. Memory is bounded: a zone's table is dropped when it passes `MAX_PER_ZONE` instants, and all
tables when more than `MAX_ZONES` zones are held (zones come from the visitor's `timezone` parameter).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone, tzinfo
from typing import Final

MAX_PER_ZONE: Final = 1 << 16  # instants remembered per zone (a few MB at most)
MAX_ZONES: Final = 1024

_tables: dict[tzinfo, dict[datetime, str]] = {}


def _table(zone: tzinfo) -> dict[datetime, str]:
    table = _tables.get(zone)
    if table is None:
        if len(_tables) >= MAX_ZONES:
            _tables.clear()
        table = _tables.setdefault(zone, {})
    elif len(table) > MAX_PER_ZONE:
        table.clear()
    return table


def format_slots(intervals: Iterable[tuple[datetime, datetime]], zone: tzinfo) -> list[dict[str, str]]:
    """`[{"start": s.astimezone(zone).isoformat(), "end": e.astimezone(zone).isoformat()} for s, e in intervals]`,
    with each instant's text computed once per zone. The datetimes must be aware (slots always are)."""
    table = _table(zone)
    known = table.get
    answer: list[dict[str, str]] = []
    append = answer.append
    for start, end in intervals:
        if type(start.tzinfo) is timezone and type(end.tzinfo) is timezone:  # fixed offsets: see the docstring
            first = known(start)
            if first is None:
                first = table[start] = start.astimezone(zone).isoformat()
            last = known(end)
            if last is None:
                last = table[end] = end.astimezone(zone).isoformat()
        else:
            first, last = start.astimezone(zone).isoformat(), end.astimezone(zone).isoformat()
        append({"start": first, "end": last})
    return answer

