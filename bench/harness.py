"""The bench's local Google: an in-process emulator with the demo domain, a config pointing at it, and the
control-API helpers (latency, request log) the measurements use."""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.toml"
BASELINE_SOURCE = ROOT / "bench" / "baseline.py"
BOOKING_SOURCE = ROOT / "functions" / "booking" / "main.py"
CALENDARS = {"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com"}
LATENCY_METHODS = ("calendar.*", "oauth2.token", "secretmanager.*")
SYNC_AS = "admin@example.com"  # the sync's act_as in bench_config


def config_text(emulator_url: str, snapshot_dir: Path) -> str:
    """The example config, pointed at this emulator and this snapshot directory."""
    text = EXAMPLE_CONFIG.read_text().replace("http://127.0.0.1:8090", emulator_url)
    old = 'location = "file://.local/snapshot"'
    if old not in text:
        raise RuntimeError(f"{old!r} is not in {EXAMPLE_CONFIG}; update bench/harness.py")
    return text.replace(old, f'location = "file://{snapshot_dir}"')


@dataclass
class Calls:
    """Google calls in a stretch of the request log: round trips (a batch is one) and, for quotas, Calendar
    requests as Google counts them (each part of a batch is one request: GUIDES/batch)."""

    round_trips: int
    calendar: int
    token_mints: int
    secret_reads: int
    storage: int
    methods: dict[str, int]
    calendar_requests: int = 0  # what Calendar's per-minute quotas count: every part of a batch, no batch itself

    @classmethod
    def of(cls, entries: Iterable[dict[str, Any]]) -> Calls:
        entries = list(entries)
        outer = [e for e in entries if not e.get("inner")]
        return cls(
            methods=dict(Counter(e["method"] for e in outer)),
            round_trips=len(outer),
            calendar=sum(1 for e in outer if e["method"].startswith("calendar.")),
            token_mints=sum(1 for e in outer if e["method"] == "oauth2.token"),
            secret_reads=sum(1 for e in outer if e["method"].startswith("secretmanager.versions.access")),
            storage=sum(1 for e in outer if e["method"].startswith("storage.")),
            calendar_requests=sum(1 for e in entries
                                  if e["method"].startswith("calendar.") and e["method"] != "calendar.batch"),
        )


class Stack:
    """An emulator on a free port, seeded with the demo domain, and a booking config in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        from emulator.demo import build_demo_state
        from emulator.server import EmulatorServer

        self.server = EmulatorServer().start()
        self.server.emulator.replace_state(build_demo_state(self.server.url))
        self.url = self.server.url
        self.workdir = workdir
        self.snapshot_dir = workdir / "snapshot"
        self.config_path = workdir / "booking.toml"
        self.config_path.write_text(config_text(self.url, self.snapshot_dir))
        self._session = requests.Session()
        # Called after bookings are deleted behind the functions' back: an in-process instance forgets the bookings
        # it made (else it would take their slots for taken, and re-check each booking live: one more round trip).
        self.forget_hooks: list[Callable[[], None]] = []

    def stop(self) -> None:
        self._session.close()
        self.server.stop()

    # --- control API ------------------------------------------------------------------------------------------
    def control(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        answer = self._session.request(
            method, f"{self.url}/_emulator/{path}", json=body, params=params, timeout=30
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def set_latency(self, ms: float, methods: Iterable[str] = LATENCY_METHODS) -> None:
        if ms:
            self.control("PUT", "latency", {"latency": [{"method": m, "ms": ms} for m in methods]})
        else:
            self.control("DELETE", "latency")

    def clear_log(self) -> None:
        self.control("DELETE", "requests")

    def log(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "requests")["requests"])

    def calls(self) -> Calls:
        return Calls.of(self.log())

    # --- calendars --------------------------------------------------------------------------------------------
    def remove_bookings(self, calendar_ids: Iterable[str] = CALENDARS.values()) -> None:
        """Forget every event but the demo's own (ids `demo...`), so the next phase books the same free slots; and
        the bookings' claims, in each owner's "Booking claims" calendar."""
        from emulator.demo_calendars import claims_calendar_id

        state = self.server.emulator.state
        with state.lock:
            for calendar_id in calendar_ids:
                events = state.calendars[calendar_id].events
                for event_id in [e for e in events if not e.startswith("demo")]:
                    del events[event_id]
                claims = state.calendars.get(claims_calendar_id(calendar_id))
                if claims is not None:
                    claims.events.clear()
        for forget in self.forget_hooks:
            forget()

    def events_at(self, calendar_id: str, start_utc: str) -> list[dict[str, Any]]:
        """Live (not cancelled) non-demo bookings on `calendar_id` starting at that UTC instant (RFC 3339)."""
        from datetime import datetime

        wanted = datetime.fromisoformat(start_utc)
        state = self.server.emulator.state
        with state.lock:
            events = [dict(e) for k, e in state.calendars[calendar_id].events.items() if not k.startswith("demo")]
        found = []
        for event in events:
            if ((event.get("extendedProperties") or {}).get("private") or {}).get("wcbClaim") == "1":
                continue  # a booking's claim (shared/claims.py), not a booking
            if event.get("status") == "cancelled":
                continue
            when = (event.get("start") or {}).get("dateTime")
            if when and datetime.fromisoformat(when.replace("Z", "+00:00")) == wanted:
                found.append(event)
        return found


def percentile(values: list[float], q: float) -> float:
    """The q-quantile with linear interpolation between ranks (numpy's default method)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Sizes:
    bookings: int = 40  # per side and latency
    latency_ms: float = 50.0
    slot_requests: int = 30
    baseline_slot_requests: int = 10
    cold_runs: int = 3
    race: int = 50
    slot_calendars: int = 1000
    slot_days: int = 28
    slot_baseline_cap: int = 50
    sync_calendars: int = 1000
    sync_days: int = 28
    sync_latency_ms: float = 100.0
    sync_baseline_cap: int = 20
    load_seconds: float = 15.0  # each locust run against one gunicorn instance (bench/load.py)
    load_rate: float = 600.0  # GET /slots offered per second
    load_users: int = 30
    mixed_users: int = 30
    mixed_pool: int = 8  # popular slots per calendar the visitors race for
    scale_calendars: int = 10_000
    scale_slot_requests: int = 200


QUICK = Sizes(
    bookings=4, latency_ms=20.0, slot_requests=4, baseline_slot_requests=2, cold_runs=1, race=8,
    slot_calendars=20, slot_baseline_cap=5, sync_calendars=60, sync_latency_ms=20.0, sync_baseline_cap=3,
    load_seconds=3.0, load_rate=50.0, load_users=5, mixed_users=5, mixed_pool=3, scale_calendars=200,
    scale_slot_requests=20,
)


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The functions' structured log lines go to stdout; the table is this command's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def bench_config(
    emulator_url: str, snapshot_dir: Path, emails: list[str], *, days: int, max_per_day: int | None,
    lists_per_run: int | None = None, extra: str = "",
) -> Any:
    """A config for `emails` (tests/helpers/many_calendars.py) on this emulator, the sync acting as SYNC_AS: the sync,
    scale and teams scenarios' domain (`extra`: more TOML after the calendars, such as `[[teams]]`)."""
    from shared.config import parse_config
    from tests.helpers.many_calendars import calendars_toml

    per_day = f"max_per_day = {max_per_day}\n" if max_per_day is not None else ""
    text = f"""
[google]
emulator_url = "{emulator_url}"

[credentials]
secret = "projects/demo-project/secrets/calendar-credentials/versions/latest"

[booking]
durations = [30, 60]
{per_day}
[sync]
scheduler_identity = "scheduler@demo-project.iam.gserviceaccount.com"
act_as = "{SYNC_AS}"
horizon_days = {days}
{f"max_booking_lists_per_run = {lists_per_run}" if lists_per_run is not None else ""}

[snapshot]
location = "file://{snapshot_dir}"

[identity]
issuer = "{emulator_url}"
certs_url = "{emulator_url}/oauth2/v1/certs"
""" + calendars_toml(emails) + extra
    return parse_config(text, "bench config")
