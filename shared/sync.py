"""The availability sync: every bookable calendar's busy time, asked of Google in as few queries as it allows,
written as one snapshot that booking's `GET /slots` serves from while it is fresh.

What the snapshot holds, and why: the inputs of the slot math (each calendar's busy intervals, and its bookings'
times and counts per local day), not the slot lists. Slot lists multiply by calendars x durations x days (1,000
calendars, three durations and 28 days of 15-minute steps come to tens of MB), while the inputs are a few KB per
calendar and `/slots` turns them into slots per request in well under a millisecond (`shared.slots`). The format is
`shared.snapshot`'s (written here, read by `shared.availability`).

How it is asked: free/busy over [now - 1 day, now + `sync_horizon_days`), as one identity when `sync.act_as` is
set (any user of a Workspace domain sees everyone's free/busy), so that 50 calendars share a query; without it,
each calendar as its own identity, grouped. The Calendar client splits into <= 50 calendars and <= 90 days per
query and runs them in parallel. The day before `now` costs no extra query (29 days are one window): booking's
`/slots` pads the window it asks for by a day and more (duration, buffers), and `Availability.fresh_snapshot`
uses a snapshot only if it covers that padding to within a day, so without it every `/slots?from=<today>` would
go live. When bookings change the slot math (a `booking.max_per_day` cap, or buffers before and after that
differ so that a booking is padded), this product's bookings are also listed (events.list filtered on the private
`wcbBooking=1`, over whole local days, <= 50 lists per batch request), but only for calendars whose free/busy
changed or that were never counted, at most `sync.max_booking_lists_per_run` a run (`shared.count_plan`: the
others' counts carry forward, and those left over are answered live); calendars never counted are listed beside
the free/busy queries. Without a cap or padding, bookings are just part of the busy time and no list is asked for.

Failure: a calendar Google reports an error for is written `unavailable` (fail closed: `/slots` then asks Google
live for it) and listed in the answer; the others proceed. A sync that fails as a whole (Google unavailable after
retries, storage refusing the write) raises before anything is written, so the last good snapshot stays.

At-least-once delivery: Cloud Scheduler may deliver one scheduled run more than once and sends the run's time in
`X-CloudScheduler-ScheduleTime`, constant across its retries. The snapshot records the latest schedule time it
accounts for (`scheduleTime`); a delivery for a time it already covers answers `duplicate` without calling Google.
Within one instance a lock serialises syncs, so a concurrent duplicate waits and then sees the first one's
snapshot. Across instances the write is a compare-and-swap on the snapshot's generation (Cloud Storage
`ifGenerationMatch`): two instances may both ask Google, but only one writes; the other finds the schedule time
covered and answers `duplicate`. Runs without the header (manual runs, the local stack's first sync) always sync
and keep the recorded schedule time. Per Google, a manually forced run may carry the *next* schedule time, and
the scheduled run at that time is then skipped as a duplicate.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from . import snapshot as snapshot_format
from .availability import SnapshotReader
from .calendar_client import CalendarClient
from .clock import Clock, parse_rfc3339
from .config import Config
from .errors import (
    Forbidden,
    InvalidRequest,
    PreconditionFailed,
    SyncNotConfigured,
    UpstreamUnavailable,
)
from .logs import log
from .snapshot import utc_text
from .store import SnapshotStore
from .sync_collect import SYNC_PARALLEL, Collected, Collector

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"
SYNC_LOOKBACK = timedelta(days=1)  # see the module docstring: lets `/slots?from=<today>` use the snapshot
_WRITE_ATTEMPTS = 3
_LOCK_WAIT_SECONDS = 120.0

_locks_guard = threading.Lock()
_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()


@dataclass
class SyncReport:
    """What one sync did; `to_json()` is the body of the sync function's 200 answer."""

    calendars: int
    freebusy_calls: int
    batch_calls: int
    start: datetime
    end: datetime
    snapshot: str
    duration_ms: int
    unavailable: list[dict[str, str]] = field(default_factory=list)
    schedule_time: datetime | None = None
    duplicate: bool = False
    as_of: datetime | None = None
    swept_claims: int = 0
    counts_listed: int = 0
    counts_pending: int = 0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "calendars": self.calendars,
            "freebusyCalls": self.freebusy_calls,
            "batchCalls": self.batch_calls,
            "from": utc_text(self.start),
            "to": utc_text(self.end),
            "snapshot": self.snapshot,
            "durationMs": self.duration_ms,
            "unavailable": self.unavailable,
            "duplicate": self.duplicate,
            "sweptClaims": self.swept_claims,
            "countsListed": self.counts_listed,
            "countsPending": self.counts_pending,
        }
        if self.as_of is not None:
            body["asOf"] = utc_text(self.as_of)
        if self.schedule_time is not None:
            body["scheduleTime"] = utc_text(self.schedule_time)
        return body


class RuntimeParts(Protocol):
    """What `AvailabilitySync.from_runtime` reads of a `shared.runtime.Runtime` (which imports this module)."""

    @property
    def config(self) -> Config: ...
    @property
    def calendar(self) -> CalendarClient: ...
    @property
    def store(self) -> SnapshotStore | None: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def snapshots(self) -> SnapshotReader | None: ...


class AvailabilitySync:
    def __init__(
        self,
        config: Config,
        client: CalendarClient,
        store: SnapshotStore | None,
        clock: Clock,
        *,
        reader: SnapshotReader | None = None,
        parallel: int = SYNC_PARALLEL,
    ) -> None:
        self._config = config
        self._client = client
        self._store = store
        self._clock = clock
        self._now = clock.now
        self._reader = reader
        self._parallel = parallel
        self._collector = Collector(config, client, self._now, parallel)

    @classmethod
    def from_runtime(cls, runtime: RuntimeParts) -> AvailabilitySync:
        """A sync of its own over `runtime`'s objects (the entry point uses `runtime.sync`, built the same way)."""
        return cls(runtime.config, runtime.calendar, runtime.store, runtime.clock, reader=runtime.snapshots)

    # --- the use case -------------------------------------------------------------------------------------------
    def run(self, *, schedule_time: datetime | None = None, horizon: timedelta | None = None) -> SyncReport:
        """Sync once and write the snapshot; or, for a schedule time the snapshot already covers, do nothing.

        `horizon` (how far ahead of now; default `config.sync_horizon_days`) may exceed the 90 days the config
        allows: the client splits the range into windows."""
        store = self._require_store()
        began = self._clock.monotonic()
        lock = _lock_for(store)
        if not lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            raise UpstreamUnavailable("Another sync is still running on this instance; try again later.")
        try:
            raw, generation = store.read_versioned()
            previous = _parse(raw)
            if schedule_time is not None and _covers(previous, schedule_time):
                return self._duplicate(previous, schedule_time, store, began)

            as_of = self._now().astimezone(UTC).replace(microsecond=0)
            start = as_of - SYNC_LOOKBACK
            end = as_of + (horizon or timedelta(days=self._config.sync_horizon_days))
            if self._config.booking.confirm_email:  # lapsed pending bookings free their time before it is read
                from .sweep import sweep_pending

                sweep_pending(self._config, self._client, self._now(), start, end, self._parallel)
            collected = self.collect(start, end, previous)
            recorded = _later(schedule_time, _schedule_time_of(previous))
            for _ in range(_WRITE_ATTEMPTS):
                data = self.document(collected, as_of=as_of, start=start, end=end, schedule_time=recorded)
                try:
                    store.replace(data, generation)
                    break
                except PreconditionFailed:
                    raw, generation = store.read_versioned()  # another instance wrote in between
                    if raw == data:
                        break  # already what we meant to write (e.g. our own upload, retried after it landed)
                    current = _parse(raw)
                    if schedule_time is not None and _covers(current, schedule_time):
                        log("sync superseded", schedule_time=utc_text(schedule_time), snapshot=store.location)
                        return self._duplicate(current, schedule_time, store, began, spent=collected)
                    recorded = _later(recorded, _schedule_time_of(current))
            else:
                raise UpstreamUnavailable("The snapshot kept changing while it was written; try again.")
        finally:
            lock.release()
        if self._reader is not None:
            self._reader.forget()
        from .sweep import sweep_claims

        swept = (
            sweep_claims(self._config, self._client, self._now(), start, end, self._parallel)
            if self._config.sync.sweep_claims else 0
        )
        report = SyncReport(
            calendars=len(collected.calendars),
            freebusy_calls=collected.freebusy_calls,
            batch_calls=collected.batch_calls,
            start=start,
            end=end,
            snapshot=store.location,
            duration_ms=round((self._clock.monotonic() - began) * 1000),
            unavailable=collected.unavailable,
            schedule_time=schedule_time,
            as_of=as_of,
            swept_claims=swept,
            counts_listed=collected.counts_listed,
            counts_pending=collected.counts_pending,
        )
        log("sync done", **{k: v for k, v in report.to_json().items() if k != "unavailable"},
            unavailableCount=len(report.unavailable))
        return report

    def collect(self, start: datetime, end: datetime, previous: dict[str, Any] | None = None) -> Collected:
        """Ask Google for every bookable calendar's busy time over [start, end) and, when bookings matter, list
        the bookings of the calendars whose counts cannot carry forward from `previous` (`shared.count_plan`)."""
        return self._collector.collect(start, end, previous)

    @staticmethod
    def document(
        collected: Collected, *, as_of: datetime, start: datetime, end: datetime, schedule_time: datetime | None
    ) -> bytes:
        return snapshot_format.encode(
            collected.calendars, as_of=as_of, start=start, end=end, schedule_time=schedule_time
        )

    # --- helpers ------------------------------------------------------------------------------------------------
    def _require_store(self) -> SnapshotStore:
        if self._store is None:
            raise SyncNotConfigured("No [snapshot] location is configured: the sync has nowhere to write.")
        return self._store

    def _duplicate(
        self,
        snapshot: dict[str, Any] | None,
        schedule_time: datetime,
        store: SnapshotStore,
        began: float,
        *,
        spent: Collected | None = None,
    ) -> SyncReport:
        """The answer for a run the snapshot already covers: its numbers, and the calls this delivery made (none,
        unless it lost a race with another instance after asking Google)."""
        assert snapshot is not None
        calendars = snapshot.get("calendars") or {}
        report = SyncReport(
            calendars=len(calendars),
            freebusy_calls=spent.freebusy_calls if spent else 0,
            batch_calls=spent.batch_calls if spent else 0,
            start=parse_rfc3339(snapshot["from"]),
            end=parse_rfc3339(snapshot["to"]),
            snapshot=store.location,
            duration_ms=round((self._clock.monotonic() - began) * 1000),
            unavailable=snapshot_format.unavailable(calendars),
            schedule_time=schedule_time,
            duplicate=True,
            as_of=parse_rfc3339(snapshot["asOf"]),
        )
        log("sync duplicate delivery", schedule_time=utc_text(schedule_time), snapshot=store.location)
        return report


# --- for the entry point ------------------------------------------------------------------------------------------
def check_caller(config: Config, email: str) -> None:
    """Only the configured scheduler identity may run the sync (the caller is already authenticated)."""
    allowed = config.sync.scheduler_identity
    if allowed is None:
        raise Forbidden("No sync.scheduler_identity is configured, so nobody may run the sync.")
    if email.lower() != allowed.lower():
        raise Forbidden(f"{email} may not run the sync; only the configured scheduler identity may.")


def parse_schedule_time(
    value: str | None, *, now: datetime | None = None, max_skew: timedelta = timedelta(hours=1)
) -> datetime | None:
    """The scheduled run's time from `X-CloudScheduler-ScheduleTime` (RFC 3339), None when absent.

    With `now`, a time further than `max_skew` from it is refused: the snapshot records the latest schedule
    time it covers, so one far-future value would make every later run a duplicate."""
    if value is None or not value.strip():
        return None
    try:
        moment = parse_rfc3339(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidRequest(
            f"{SCHEDULE_TIME_HEADER} must be an RFC 3339 time with an offset, like 2026-10-16T12:00:00Z.",
            fields={SCHEDULE_TIME_HEADER: "an RFC 3339 time with an offset"},
        )
    if now is not None and abs(moment - now) > max_skew:
        minutes = int(max_skew.total_seconds() // 60)
        raise InvalidRequest(
            f"{SCHEDULE_TIME_HEADER} must be within {minutes} minutes of now; this run is refused.",
            fields={SCHEDULE_TIME_HEADER: f"a time within {minutes} minutes of now"},
        )
    return moment.astimezone(UTC)


# --- private ------------------------------------------------------------------------------------------------------
def _lock_for(store: SnapshotStore) -> threading.Lock:
    """One lock per store object, i.e. per instance (its runtime holds one store): one sync at a time there."""
    with _locks_guard:
        lock = _locks.get(store)
        if lock is None:
            lock = _locks[store] = threading.Lock()
        return lock


_parse = snapshot_format.decode
_schedule_time_of = snapshot_format.schedule_time_of


def _covers(snapshot: dict[str, Any] | None, schedule_time: datetime) -> bool:
    """Whether the snapshot already accounts for this scheduled run (or a later one)."""
    recorded = _schedule_time_of(snapshot)
    return recorded is not None and recorded >= schedule_time


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    present = [moment for moment in (first, second) if moment is not None]
    return max(present) if present else None
