"""What the sync asks Google: every bookable calendar's busy time by free/busy, grouped by the identity that asks
(one when `sync.act_as` is set), and this product's bookings by batched events.list when they change the slot math.
How and why is `shared.sync`'s module docstring; the answer is the calendars part of a `shared.snapshot`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Any

from . import count_plan
from . import snapshot as snapshot_format
from .availability import bookings_per_day, identity_for
from .calendar_client import (
    FREEBUSY_MAX_CALENDARS,
    CalendarClient,
    FreeBusy,
    Identity,
    events_list_request,
    split_range,
)
from .clock import parse_rfc3339
from .config import CalendarConfig, Config
from .credentials import BOOKING_SCOPES, SYNC_SCOPES
from .errors import GoogleApiError
from .events import MARKER, event_interval
from .logs import log
from .slots import Interval, merge_intervals

BATCH_MAX_PARTS = 50
SYNC_PARALLEL = 10  # concurrent requests of one kind (free/busy groups, batches): within a user's rate


@dataclass
class Collected:
    """The calendars part of a snapshot and what it cost to ask for it."""

    calendars: dict[str, dict[str, Any]]
    freebusy_calls: int
    batch_calls: int
    counts_listed: int = 0  # calendars whose bookings were listed this run
    counts_pending: int = 0  # calendars whose listing the run's budget did not allow (answered live)

    @property
    def unavailable(self) -> list[dict[str, str]]:
        return snapshot_format.unavailable(self.calendars)


@dataclass(frozen=True)
class _Bookings:
    """One calendar's bookings by this product: how many on each local day, and their spans."""

    per_day: dict[date, int]
    spans: list[Interval]


class Collector:
    """Asks for the busy time of `config`'s calendars through `client`, `parallel` requests of a kind at a time;
    `now` stamps the booking counts it lists."""

    def __init__(
        self, config: Config, client: CalendarClient, now: Callable[[], datetime], parallel: int = SYNC_PARALLEL
    ) -> None:
        self._config = config
        self._client = client
        self._now = now
        self._parallel = parallel

    def collect(self, start: datetime, end: datetime, previous: dict[str, Any] | None = None) -> Collected:
        """Ask Google for every bookable calendar's busy time over [start, end) and, when bookings matter, list
        the bookings of the calendars whose counts cannot carry forward from `previous` (`shared.count_plan`)."""
        calendars = list(self._config.calendars)
        freebusy_groups = _group(calendars, self._freebusy_identity)
        booking = self._config.booking
        list_bookings = booking.max_per_day is not None or booking.buffer_before_minutes != booking.buffer_after_minutes
        windows = len(list(split_range(start, end)))
        freebusy_calls = sum(math.ceil(len(_unique_ids(m)) / FREEBUSY_MAX_CALENDARS) for m in freebusy_groups.values())

        previous_entries = (previous or {}).get("calendars") or {}
        budget = self._config.sync.max_booking_lists_per_run if list_bookings else 0
        # Calendars never counted need a list whatever free/busy says (unless it shows no busy time, which this
        # costs a list to learn): those are listed beside free/busy, so a first run takes one round trip, not two.
        early = [c for c in calendars if count_plan.counted_of(previous_entries.get(c.slug)) is None][:budget]
        busy: dict[str, FreeBusy] = {}
        listed: dict[str, _Bookings | str] = {}
        booking_batches = 0
        with ThreadPoolExecutor(max_workers=self._parallel) as pool, ThreadPoolExecutor(
            max_workers=self._parallel
        ) as batch_pool:
            freebusy_jobs: list[tuple[list[CalendarConfig], Future[dict[str, FreeBusy]]]] = [
                (members, pool.submit(self._client.free_busy, identity, _unique_ids(members), start, end))
                for identity, members in freebusy_groups.items()
            ]
            early_jobs = self._submit_lists(batch_pool, early, start, end)
            for members, job in freebusy_jobs:
                answer = job.result()  # an AppError here fails the whole sync: nothing is written
                for calendar in members:
                    busy[calendar.slug] = answer.get(calendar.calendar_id) or FreeBusy(error="missing")
            merged = {slug: merge_intervals(Interval(*span) for span in result.busy)  # windows meet at their edges
                      for slug, result in busy.items() if result.error is None}
            entries: dict[str, dict[str, Any]] = {
                slug: snapshot_format.unavailable_entry(str(result.error))
                for slug, result in busy.items() if result.error is not None
            }
            if not list_bookings:
                entries.update({slug: snapshot_format.ok_entry(spans) for slug, spans in merged.items()})
                return Collected({c.slug: entries[c.slug] for c in calendars}, freebusy_calls * windows, 0)
            by_slug = {calendar.slug: calendar for calendar in calendars}
            ranges = {slug: _whole_days(by_slug[slug], start, end) for slug in merged}
            listing = {calendar.slug for calendar in early}
            counts = count_plan.plan({slug: spans for slug, spans in merged.items() if slug not in listing}, ranges,
                                     (start, end), previous_entries, _window_of(previous), now=self._now(),
                                     budget=budget - len(early))
            late_jobs = self._submit_lists(batch_pool, [by_slug[slug] for slug in counts.listed], start, end)
            for list_job in early_jobs + late_jobs:
                listed.update(list_job.result())
            booking_batches = len(early_jobs) + len(late_jobs)
            counts.listed += [slug for slug in listing if slug in merged]
        counted_at = self._now()
        for slug, spans in merged.items():
            result_of = listed.get(slug)
            if isinstance(result_of, str):
                entries[slug] = snapshot_format.unavailable_entry(result_of)
            elif result_of is not None:
                entries[slug] = snapshot_format.ok_entry(spans, (result_of.per_day, result_of.spans),
                                                         (*ranges[slug], counted_at))
            elif slug in counts.carried:
                entries[slug] = snapshot_format.carried_entry(spans, counts.carried[slug])
            else:
                entries[slug] = snapshot_format.pending_entry(spans)
        if counts.pending:
            log("booking counts deferred", severity="INFO", calendars=len(counts.pending), budget=budget)
        return Collected({c.slug: entries[c.slug] for c in calendars}, freebusy_calls * windows,
                         booking_batches, counts_listed=len(counts.listed), counts_pending=len(counts.pending))

    def _submit_lists(
        self, pool: ThreadPoolExecutor, calendars: Sequence[CalendarConfig], start: datetime, end: datetime
    ) -> list[Future[dict[str, _Bookings | str]]]:
        """The bookings of `calendars` listed in batches of up to 50, grouped by identity."""
        return [
            pool.submit(self._list_bookings, identity, chunk, start, end)
            for identity, members in _group(calendars, self._bookings_identity).items()
            for chunk in _chunks(members, BATCH_MAX_PARTS)
        ]

    # --- identities ---------------------------------------------------------------------------------------------
    def _freebusy_identity(self, calendar: CalendarConfig) -> Identity:
        return self._shared_identity(SYNC_SCOPES) or identity_for(calendar, SYNC_SCOPES)

    def _bookings_identity(self, calendar: CalendarConfig) -> Identity:
        # events.list needs calendar.events (BOOKING_SCOPES), which the domain-wide delegation grant includes.
        return self._shared_identity(BOOKING_SCOPES) or identity_for(calendar, BOOKING_SCOPES)

    def _shared_identity(self, scopes: tuple[str, ...]) -> Identity | None:
        sync = self._config.sync
        if sync.act_as is None:
            return None
        return Identity(sync.mode, sync.act_as if sync.mode == "delegated" else None, scopes)

    # --- bookings -----------------------------------------------------------------------------------------------
    def _list_bookings(
        self, identity: Identity, calendars: Sequence[CalendarConfig], start: datetime, end: datetime
    ) -> dict[str, _Bookings | str]:
        """This product's bookings on up to 50 calendars, in one batch request; a calendar whose list failed
        maps to Google's reason instead (and is then written unavailable: its cap cannot be vouched for)."""
        ranges = {calendar.slug: _whole_days(calendar, start, end) for calendar in calendars}
        requests = {
            calendar.slug: events_list_request(calendar.calendar_id, *ranges[calendar.slug],
                                               private_properties={MARKER: "1"})
            for calendar in calendars
        }
        answers = self._client.batch(identity, requests)
        found: dict[str, _Bookings | str] = {}
        for calendar in calendars:
            answer = answers.get(calendar.slug)
            if isinstance(answer, GoogleApiError):
                found[calendar.slug] = answer.reason
            elif isinstance(answer, Exception) or answer is None:
                found[calendar.slug] = "unavailable"
            else:
                items = list(answer.get("items", []))
                if answer.get("nextPageToken"):  # more than one page of bookings: read them all
                    time_min, time_max = ranges[calendar.slug]
                    items = self._client.list_events(
                        identity, calendar.calendar_id, time_min=time_min, time_max=time_max,
                        private_properties={MARKER: "1"},
                    )
                items = [event for event in items if event.get("status") != "cancelled"]
                spans = sorted(event_interval(event, calendar.zone) for event in items)
                found[calendar.slug] = _Bookings(bookings_per_day(items, calendar), spans)
        return found


def _group(
    calendars: Iterable[CalendarConfig], identity: Callable[[CalendarConfig], Identity]
) -> dict[Identity, list[CalendarConfig]]:
    groups: dict[Identity, list[CalendarConfig]] = {}
    for calendar in calendars:
        groups.setdefault(identity(calendar), []).append(calendar)
    return groups


def _unique_ids(calendars: Iterable[CalendarConfig]) -> list[str]:
    return list(dict.fromkeys(calendar.calendar_id for calendar in calendars))


def _chunks(items: Sequence[CalendarConfig], size: int) -> list[list[CalendarConfig]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _window_of(document: dict[str, Any] | None) -> tuple[datetime, datetime] | None:
    try:
        return (parse_rfc3339(document["from"]), parse_rfc3339(document["to"])) if document else None
    except (KeyError, TypeError, ValueError):
        return None


def _whole_days(calendar: CalendarConfig, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole local days of the calendar: a per-day count needs the whole day."""
    zone = calendar.zone
    first = datetime.combine(start.astimezone(zone).date(), wall_time(0), zone)
    last = datetime.combine(end.astimezone(zone).date() + timedelta(days=1), wall_time(0), zone)
    return first.astimezone(UTC), last.astimezone(UTC)
