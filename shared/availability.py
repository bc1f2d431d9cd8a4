"""Busy time and booking counts for a calendar: from a fresh snapshot when there is one, else live from Google.

Per-calendar free/busy errors count as busy over the whole range (fail closed).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from .calendar_client import CalendarClient, Identity, events_list_request, freebusy_request
from .clock import SYSTEM_CLOCK, parse_rfc3339
from .config import CalendarConfig, Config
from .credentials import BOOKING_SCOPES
from .errors import UpstreamUnavailable
from .events import MARKER, event_interval
from .logs import log
from .slots import Interval
from .snapshot import BusyView as BusyView  # re-exported: booking reads views through this module
from .snapshot import Snapshot as Snapshot
from .store import SnapshotStore

_SNAPSHOT_RECHECK_SECONDS = 5.0


def identity_for(calendar: CalendarConfig, scopes: tuple[str, ...] = BOOKING_SCOPES) -> Identity:
    return Identity(calendar.mode, calendar.act_as if calendar.mode == "delegated" else None, scopes)


def bookings_per_day(events: list[dict[str, Any]], calendar: CalendarConfig) -> dict[date, int]:
    zone = calendar.zone
    counts: Counter[date] = Counter()
    for event in events:
        if event.get("status") != "cancelled":
            counts[event_interval(event, zone).start.astimezone(zone).date()] += 1
    return dict(counts)


class SnapshotReader:
    """The last snapshot, parsed once and re-read from the store at most every few seconds.

    Safe under a threaded server: when the copy is due for a re-read, one thread reads while the others go on
    answering from the copy they have (a thread with no copy at all waits for that read), and an unchanged
    snapshot (same SHA-256) is not parsed again."""

    def __init__(self, store: SnapshotStore, clock: Callable[[], float] = SYSTEM_CLOCK.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # held by the one thread re-reading the store
        self._cached: tuple[float, Snapshot | None] | None = None
        self._digest: bytes | None = None
        self._seen: str | None = None  # the store's token (generation) for the bytes last read

    def current(self) -> Snapshot | None:
        with self._lock:
            cached = self._cached
        if cached is not None and self._clock() - cached[0] < _SNAPSHOT_RECHECK_SECONDS:
            return cached[1]
        if cached is not None and not self._reading.acquire(blocking=False):
            return cached[1]  # another thread is re-reading: the copy in hand is at most a few seconds old
        if cached is None:
            self._reading.acquire()
        try:
            with self._lock:
                again = self._cached
            if again is not None and again is not cached and self._clock() - again[0] < _SNAPSHOT_RECHECK_SECONDS:
                return again[1]  # read by the thread this one waited for
            snapshot = self._read(again[1] if again is not None else None)
            with self._lock:
                self._cached = (self._clock(), snapshot)
            return snapshot
        finally:
            self._reading.release()

    def _read(self, previous: Snapshot | None) -> Snapshot | None:
        try:
            read_changed = getattr(self._store, "read_changed", None)  # both stores have it; test fakes may not
            if read_changed is not None:
                fresh = read_changed(self._seen if previous is not None else None)
                if fresh is None:
                    return previous  # still the snapshot in hand: not even downloaded
                raw, self._seen = fresh
            else:
                raw = self._store.read()
            if not raw:
                self._digest = None
                return None
            digest = hashlib.sha256(raw).digest()
            if previous is not None and digest == self._digest:
                return previous
            snapshot = Snapshot.parse(raw)
            self._digest = digest
            return snapshot
        except (ValueError, KeyError, TypeError):
            self._digest = None
            return None
        except UpstreamUnavailable as error:  # slots are then answered live: slower, still right
            log("snapshot unreadable", severity="WARNING", location=self._store.location, detail=error.message)
            self._seen = None
            return None

    def forget(self) -> None:
        with self._lock:
            self._cached = None
            self._digest = None
            self._seen = None


class Availability:
    def __init__(
        self,
        config: Config,
        client: CalendarClient,
        snapshots: SnapshotReader | None,
        now: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._client = client
        self._snapshots = snapshots
        self._now = now
        self._lock = threading.Lock()
        # What this instance learnt after the snapshot was taken: bookings it made (by calendar), and calendars
        # where the snapshot proved wrong (answered live until a newer snapshot arrives).
        self._recent: dict[str, list[tuple[datetime, Interval, str]]] = {}
        self._distrusted: dict[str, datetime] = {}
        self._generation = 0  # counts the changes above: an answer computed before a change is out of date

    def state(self) -> tuple[Snapshot | None, int]:
        """What a snapshot answer depends on besides the query and the time: the snapshot in use and the
        generation of what this instance learnt since (bookings made or cancelled here, distrusted calendars)."""
        snapshot = self._snapshots.current() if self._snapshots is not None else None
        with self._lock:
            return snapshot, self._generation

    def note_booking(self, slug: str, span: Interval, booking_id: str) -> None:
        """A booking this instance made: the snapshot does not know it yet, so slots are read around it."""
        with self._lock:
            recent = self._recent.setdefault(slug, [])
            recent.append((self._now(), span, booking_id))
            del recent[:-500]
            self._generation += 1

    def forget_booking(self, slug: str, booking_id: str) -> None:
        """A booking this instance cancelled or moved away: its time is no longer taken by it."""
        with self._lock:
            self._recent[slug] = [entry for entry in self._recent.get(slug, []) if entry[2] != booking_id]
            self._generation += 1

    def forget(self) -> None:
        """Drop what this instance learnt since the snapshot, as a newly started instance knows nothing of it."""
        with self._lock:
            self._recent.clear()
            self._distrusted.clear()
            self._generation += 1

    def distrust_snapshot(self, slug: str) -> None:
        """The snapshot offered time that was taken: answer this calendar live until a newer snapshot."""
        with self._lock:
            self._distrusted[slug] = self._now()
            self._generation += 1

    def fresh_snapshot(self, slug: str, start: datetime, end: datetime) -> BusyView | None:
        """The snapshot's view of `slug` over [start, end) if the snapshot is fresh and covers that range, with
        the bookings this instance made since it was taken."""
        if self._snapshots is None or self._config.snapshot is None:
            return None
        snapshot = self._snapshots.current()
        if snapshot is None:
            return None
        age = self._now() - snapshot.as_of
        if age > timedelta(seconds=self._config.snapshot.max_age_seconds) or age < -timedelta(minutes=5):
            return None
        if start < snapshot.start - timedelta(days=1) or end > snapshot.end:
            return None
        with self._lock:
            distrusted = self._distrusted.get(slug)
            if distrusted is not None and distrusted >= snapshot.as_of:
                return None
            since = [span for noted, span, _ in self._recent.get(slug, []) if noted >= snapshot.as_of]
        view = snapshot.view(slug)
        if view is None:
            return None
        known = set(view.bookings)  # a booking made while the sync read may be in the snapshot already
        since = [span for span in since if span not in known]
        if not since:
            return view
        counts = dict(view.bookings_per_day)
        calendar = self._config.calendar_by_slug(slug)
        if calendar is not None:
            zone = calendar.zone
            for span in since:
                day = span.start.astimezone(zone).date()
                counts[day] = counts.get(day, 0) + 1
        return BusyView(
            view.busy + since, counts, view.source, view.as_of, bookings=view.bookings + since, local=True
        )

    def live(self, calendar: CalendarConfig, start: datetime, end: datetime) -> BusyView:
        """Free/busy and this product's bookings over [start, end), in one round trip to Google."""
        identity = identity_for(calendar)
        requests = {
            "freebusy": freebusy_request([calendar.calendar_id], start, end),
            "bookings": events_list_request(calendar.calendar_id, start, end, private_properties={MARKER: "1"}),
        }
        answers = self._client.batch(identity, requests)
        for answer in answers.values():
            if isinstance(answer, Exception):
                raise answer
        entry = answers["freebusy"].get("calendars", {}).get(calendar.calendar_id, {})
        errors = entry.get("errors") or []
        if errors or not entry:
            reason = str(errors[0].get("reason")) if errors else "missing"
            return BusyView([Interval(start, end)], {}, "live", self._now(), error=reason)
        busy = [Interval(parse_rfc3339(b["start"]), parse_rfc3339(b["end"])) for b in entry.get("busy", [])]
        items = [e for e in answers["bookings"].get("items", []) if e.get("status") != "cancelled"]
        spans = [event_interval(e, calendar.zone) for e in items]
        return BusyView(busy, bookings_per_day(items, calendar), "live", self._now(), bookings=spans)

    def view(self, calendar: CalendarConfig, start: datetime, end: datetime, *, live: bool = False) -> BusyView:
        snapshot = None if live else self.fresh_snapshot(calendar.slug, start, end)
        return snapshot or self.live(calendar, start, end)
