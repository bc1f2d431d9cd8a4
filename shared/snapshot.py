"""The availability snapshot's format, version 1: written by the sync (`shared.sync`), read by `/slots`
(`shared.availability`). This module alone knows its fields. All times are RFC 3339 UTC::

    {"version": 1, "asOf": "...", "from": "...", "to": "...", "scheduleTime": "..." | null,
     "calendars": {"<slug>": {"status": "ok", "busy": [["<start>", "<end>"], ...],
                              "bookingsPerDay": {"YYYY-MM-DD": n}, "bookings": [["<start>", "<end>"], ...]}
                   | {"status": "unavailable", "error": "<Google's reason>"}}}

`bookings` is there only when the sync counted bookings; `bookingsPerDay` is then complete, else empty. Counted
entries also say over which whole-day range and when they were listed (`countedFrom`, `countedTo`, `countedAt`:
the sync carries them forward while free/busy shows nothing changed, `shared.count_plan`); an entry whose counts
the sync could not afford this run says `"countsPending": true` and is answered live.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .clock import parse_rfc3339
from .count_plan import Counted
from .events import padded_booking
from .slots import Interval, SlotRules

SNAPSHOT_VERSION = 1


def utc_text(moment: datetime) -> str:
    """`moment` as RFC 3339 in UTC with `Z`, as the snapshot and the sync's answer write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class BusyView:
    busy: list[Interval]
    bookings_per_day: dict[date, int]
    source: str  # "snapshot" | "live"
    as_of: datetime
    error: str | None = None
    bookings: list[Interval] = field(default_factory=list)  # this product's bookings (already inside `busy`)
    local: bool = False  # the snapshot plus bookings this instance made since (it may have missed cancellations)

    def blocked(self, rules: SlotRules) -> list[Interval]:
        """Busy time for the slot math: free/busy, plus each booking padded so buffers hold between bookings."""
        return self.busy + [padded_booking(span, rules) for span in self.bookings]


@dataclass
class Snapshot:
    as_of: datetime
    start: datetime
    end: datetime
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each calendar's view, parsed on first use: a snapshot never changes, and one of 10,000 calendars is asked
    # for at a time. Shared between threads: a view is built whole before it is stored, and never changed.
    _views: dict[str, BusyView | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> Snapshot:
        data = json.loads(raw)
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError("unknown snapshot version")
        return cls(
            as_of=parse_rfc3339(data["asOf"]),
            start=parse_rfc3339(data["from"]),
            end=parse_rfc3339(data["to"]),
            calendars=data["calendars"],
        )

    def view(self, slug: str) -> BusyView | None:
        try:
            return self._views[slug]
        except KeyError:
            view = self._views[slug] = self._parse_view(slug)
            return view

    def _parse_view(self, slug: str) -> BusyView | None:
        entry = self.calendars.get(slug)
        if entry is None or entry.get("status") != "ok" or entry.get("countsPending"):
            return None
        busy = [Interval(parse_rfc3339(s), parse_rfc3339(e)) for s, e in entry.get("busy", [])]
        bookings = [Interval(parse_rfc3339(s), parse_rfc3339(e)) for s, e in entry.get("bookings", [])]
        counts = {date.fromisoformat(d): int(n) for d, n in entry.get("bookingsPerDay", {}).items()}
        return BusyView(busy, counts, "snapshot", self.as_of, bookings=bookings)


def ok_entry(
    busy: Iterable[Interval],
    bookings: tuple[Mapping[date, int], Iterable[Interval]] | None = None,
    counted: tuple[datetime, datetime, datetime] | None = None,
) -> dict[str, Any]:
    """One calendar's entry: its busy time, and (when bookings were listed) its bookings per day and their spans,
    with `counted` = (from, to, at): the whole-day range the listing covered and when it was made."""
    entry: dict[str, Any] = {"status": "ok", "busy": [[utc_text(s), utc_text(e)] for s, e in busy]}
    entry["bookingsPerDay"] = {}
    if bookings is not None:
        per_day, spans = bookings
        entry["bookingsPerDay"] = {day.isoformat(): n for day, n in sorted(per_day.items())}
        entry["bookings"] = [[utc_text(span.start), utc_text(span.end)] for span in spans]
    if counted is not None:
        entry.update(countedFrom=utc_text(counted[0]), countedTo=utc_text(counted[1]), countedAt=utc_text(counted[2]))
    return entry


def carried_entry(busy: Iterable[Interval], counted: Counted) -> dict[str, Any]:
    """An entry whose counts carry forward from the last snapshot (as written there)."""
    entry = ok_entry(busy, counted=(counted.counted_from, counted.counted_to, counted.counted_at))
    entry["bookingsPerDay"] = dict(sorted(counted.per_day.items()))
    entry["bookings"] = counted.spans
    return entry


def pending_entry(busy: Iterable[Interval]) -> dict[str, Any]:
    """An entry whose bookings need a listing this run could not afford: `/slots` answers it live."""
    return {**ok_entry(busy), "countsPending": True}


def unavailable_entry(error: str) -> dict[str, Any]:
    """A calendar Google gave an error for: `/slots` asks Google live for it (fail closed)."""
    return {"status": "unavailable", "error": error}


def unavailable(calendars: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """The calendars a snapshot has no busy time for, with Google's reason."""
    return [
        {"calendar": slug, "error": str(entry.get("error"))}
        for slug, entry in calendars.items()
        if entry.get("status") != "ok"
    ]


def encode(
    calendars: Mapping[str, Any], *, as_of: datetime, start: datetime, end: datetime, schedule_time: datetime | None
) -> bytes:
    """The snapshot document, as stored."""
    body = {
        "version": SNAPSHOT_VERSION,
        "asOf": utc_text(as_of),
        "from": utc_text(start),
        "to": utc_text(end),
        "scheduleTime": utc_text(schedule_time) if schedule_time is not None else None,
        "calendars": calendars,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes | None) -> dict[str, Any] | None:
    """The stored document as JSON, None when absent, unreadable or of another version."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("version") == SNAPSHOT_VERSION else None


def schedule_time_of(document: Mapping[str, Any] | None) -> datetime | None:
    """The latest scheduled run the document accounts for, None when it records none."""
    value = (document or {}).get("scheduleTime")
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None
