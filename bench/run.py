"""`make bench` (`python -m bench`): DESIGN section 8, the project against the naive baseline in one run.

Everything runs against one in-process emulator (the demo domain). The project side is the booking function as
functions-framework serves it (`devserver.gateway.function_app("booking")`, called through werkzeug's test
client) with a warm runtime and a fresh availability snapshot written by `shared.sync`; the baseline side is
`bench/baseline.py`, a single-file function that reads the key, builds credentials and the service, mints a token,
asks freeBusy and inserts on every request, called the same way. Both book the same list of free slots (the
calendars are reset between phases, and the in-process instance forgets what it booked). Three steps run the
booking function as production does instead: `cold` (new `functions-framework` processes), `load` (one gunicorn
instance with 80 threads under locust, bench/load.py) and `scale` (10,000 calendars, bench/scale.py); `latency`
splits a warm booking at 50 ms into round trips, own CPU and waiting (bench/latency.py, with a pyinstrument
profile). Prints one table and writes `bench/out/latest.json`, `machine.json` and `booking-profile.txt`.

    .venv/bin/python -m bench [--quick] [--out DIR] [--only booking,latency,slots,race,cold,load,compute,sync,scale]

Exit status: 0 when every target is met, 3 when the table shows a FAIL (1 is a crash, 2 a usage error).
`--quick` uses tiny sizes to check that the harness works; its numbers mean nothing against the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .harness import (
    BASELINE_SOURCE,
    BOOKING_SOURCE,
    CALENDARS,
    LATENCY_METHODS,
    ROOT,
    Calls,
    Stack,
    median,
    percentile,
)
from .report import Row, machine, machine_line, table, write

OUT = ROOT / "bench" / "out"
EXIT_TARGET_MISSED = 3  # 1 is a crash (a traceback), 2 a usage error
DURATIONS = {"alice": 30, "bob": 30, "carol": 45}  # minutes; carol offers 45 only


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


# --- the two sides ------------------------------------------------------------------------------------------------
class Sides:
    def __init__(self, stack: Stack) -> None:
        import functions_framework

        from devserver.gateway import function_app
        from shared.config import load_config
        from shared.runtime import build_runtime, set_runtime

        self.stack = stack
        self.config = load_config(stack.config_path)
        self.runtime = build_runtime(self.config)
        set_runtime(self.runtime)
        stack.forget_hooks.append(self.runtime.availability.forget)
        self.ours_app = function_app("booking")
        self.baseline_app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped library
            target="booking", source=str(BASELINE_SOURCE)
        )
        self.ours = self.ours_app.test_client()
        self.baseline = self.baseline_app.test_client()

    def sync(self) -> Any:
        from shared.sync import AvailabilitySync

        with quiet():
            return AvailabilitySync.from_runtime(self.runtime).run()


def booking_body(slot: tuple[str, str], email: str) -> dict[str, Any]:
    slug, start = slot
    return {"calendar": slug, "start": start, "duration": DURATIONS[slug], "name": "Vera Visitor", "email": email}


def pick_slots(sides: Sides, count: int) -> list[tuple[str, str]]:
    """`count` free slots from the snapshot-backed `/slots`, spread over alice, bob and carol: at least an hour
    apart and at most three a day per calendar (clear of buffers and the per-day cap)."""
    first = datetime.now(UTC).date() + timedelta(days=1)
    last = first + timedelta(days=13)
    per_calendar: dict[str, list[str]] = {}
    for slug in CALENDARS:
        answer = sides.ours.get(
            "/slots", query_string={"calendar": slug, "from": first.isoformat(), "to": last.isoformat(),
                                    "duration": DURATIONS[slug]}
        )
        if answer.status_code != 200:
            raise RuntimeError(f"GET /slots for {slug} answered {answer.status_code}: {answer.get_json()}")
        offered = [datetime.fromisoformat(slot["start"]) for slot in answer.get_json()["slots"]]
        chosen: list[str] = []
        per_day: Counter[str] = Counter()
        last_start: datetime | None = None
        for start in offered:
            day = start.date().isoformat()
            if per_day[day] >= 3 or (last_start is not None and start - last_start < timedelta(minutes=75)):
                continue
            chosen.append(start.isoformat())
            per_day[day] += 1
            last_start = start
        per_calendar[slug] = chosen
    mixed: list[tuple[str, str]] = []
    for index in range(max(len(v) for v in per_calendar.values())):
        mixed += [(slug, slots[index]) for slug, slots in per_calendar.items() if index < len(slots)]
    if len(mixed) < count:
        raise RuntimeError(f"only {len(mixed)} free slots found, {count} needed")
    return mixed[:count]


@dataclass
class Phase:
    timings: list[float]
    statuses: Counter[int]
    calls: Calls
    count: int

    @property
    def ok(self) -> bool:
        return self.statuses.get(201, 0) == self.count

    def per_booking(self, attribute: str) -> float:
        return float(getattr(self.calls, attribute)) / self.count


def run_pair(sides: Sides, slots: list[tuple[str, str]], latency_ms: float) -> tuple[Phase, Phase]:
    """Each slot booked by both sides in turn (who goes first alternates), the calendars reset after each
    booking, so that a busier moment of the machine hits both sides alike. Returns (ours, baseline)."""
    stack = sides.stack
    clients = {"ours": sides.ours, "baseline": sides.baseline}
    timings: dict[str, list[float]] = {side: [] for side in clients}
    statuses: dict[str, Counter[int]] = {side: Counter() for side in clients}
    entries: dict[str, list[dict[str, Any]]] = {side: [] for side in clients}
    stack.remove_bookings()
    stack.set_latency(latency_ms)
    try:
        with quiet():
            for index, slot in enumerate(slots):
                order = ("ours", "baseline") if index % 2 == 0 else ("baseline", "ours")
                for side in order:
                    body = booking_body(slot, f"{side[0]}{int(latency_ms)}x{index}@visitor.test")
                    stack.clear_log()
                    began = time.perf_counter()
                    answer = clients[side].post("/bookings", json=body)
                    timings[side].append((time.perf_counter() - began) * 1000)
                    statuses[side][answer.status_code] += 1
                    entries[side] += stack.log()
                    stack.remove_bookings()
    finally:
        stack.set_latency(0)
    ours, base = (Phase(timings[s], statuses[s], Calls.of(entries[s]), len(slots)) for s in ("ours", "baseline"))
    return ours, base


def status_note(phase: Phase, side: str) -> str:
    if phase.ok:
        return ""
    return f"{side}: {dict(phase.statuses)} instead of {phase.count} x 201"


# --- metrics ----------------------------------------------------------------------------------------------------------
def warm_booking(sides: Sides, sizes: Sizes, slots: list[tuple[str, str]]) -> list[Row]:
    rows: list[Row] = []
    measured = slots[: sizes.bookings]
    for latency in (0.0, sizes.latency_ms):
        progress(f"warm bookings at {latency:g} ms: {len(measured)} per side")
        ours, base = run_pair(sides, measured, latency)
        notes = "; ".join(n for n in (status_note(ours, "ours"), status_note(base, "baseline")) if n)
        need = 5.0 if latency == 0 else 2.0
        p50 = Row(
            f"warm booking p50 @ {latency:g} ms",
            median(ours.timings), median(base.timings), f">= {need:g}x lower", None, "ms",
            note=notes or (f"{len(measured)} bookings per side on the same distinct free slots of alice, bob and "
                           "carol, the sides alternating slot by slot; both functions called through "
                           "functions-framework's app and werkzeug's test client; latency on "
                           f"{', '.join(LATENCY_METHODS)}"),
        )
        p50.passed = ours.ok and base.ok and p50.ratio is not None and p50.ratio >= need
        rows.append(p50)
        rows.append(Row(
            f"warm booking p95 @ {latency:g} ms",
            percentile(ours.timings, 0.95), percentile(base.timings, 0.95), "(no target)", None, "ms",
        ))
        if latency == 0:
            rows += call_rows(ours, base)
            rows += capped_day_rows(sides, slots)
    return rows


def _snapshot_refreshes(entries: list[dict[str, Any]]) -> int:
    """Batches in a request log that carry a freeBusy query (the availability view's refresh, not the booking)."""
    count, parts = 0, []
    for entry in entries:
        if entry.get("inner"):
            parts.append(entry["method"])
            continue
        if "calendar.freebusy.query" in parts or entry["method"] == "calendar.freebusy.query":
            count += 1
        parts = []
    return count


def capped_day_rows(sides: Sides, slots: list[tuple[str, str]]) -> list[Row]:
    """The booking's cost beyond the happy path (shared/booking.py, "Cost"): with a per-day cap, a later booking
    the same day finds the day's tokens taken (released by the first) and takes one over; a booking whose cell is
    held by a live booking reads the claim and its holder before its 409."""
    stack = sides.stack
    by_day: dict[tuple[str, str], list[str]] = {}
    for slug, start in slots:
        by_day.setdefault((slug, start[:10]), []).append(start)
    pair = next(((slug, starts) for (slug, _), starts in by_day.items() if len(starts) >= 2), None)
    if pair is None:
        return [Row("Google round trips, a later booking on a capped day", None, None, "<= 5", None, "",
                    note="no two free slots of one calendar on one day", compare=False)]
    slug, starts = pair
    rows: list[Row] = []
    stack.remove_bookings()
    with quiet():
        first = sides.ours.post("/bookings", json=booking_body((slug, starts[0]), "cap-first@visitor.test"))
        stack.clear_log()
        later = sides.ours.post("/bookings", json=booking_body((slug, starts[1]), "cap-later@visitor.test"))
        later_log = stack.log()
        later_calls = Calls.of(later_log)
        refresh = _snapshot_refreshes(later_log)
        stack.clear_log()
        taken = sides.ours.post("/bookings", json=booking_body((slug, starts[0]), "cap-taken@visitor.test"))
        taken_calls = stack.calls()
    stack.remove_bookings()
    ok = first.status_code == later.status_code == 201
    own = later_calls.round_trips - refresh
    rows.append(Row(
        "Google round trips, a later booking on a capped day", float(own), None, "<= 5",
        ok and own <= 5, "", compare=False,
        note=(f"{slug} on {starts[0][:10]}, its second booking that day (max_per_day): 2 round trips as on the "
              "happy path, plus 3 to take over a day token the first booking released (read the tokens, read "
              f"their holders, one conditional write); {later_calls.methods}, of which {refresh} the pre-check's "
              "refresh of this instance's view (freeBusy), not counted"),
    ))
    rows.append(Row(
        "Google round trips, a booking refused by a held claim (409)", float(taken_calls.round_trips), None,
        "<= 4", taken.status_code == 409 and taken_calls.round_trips <= 4, "", compare=False,
        note=(f"the same slot again (answered {taken.status_code}): one batch of its claims and the live check, "
              "which sees the booking; when the live read lags behind it, the held claims are read with their "
              f"holder (2 more) and what it took released (1 more); {taken_calls.methods}"),
    ))
    return rows


def call_rows(ours: Phase, base: Phase) -> list[Row]:
    trips = Row(
        "Google round trips per booking (warm)", ours.per_booking("round_trips"), base.per_booking("round_trips"),
        "<= 2", ours.ok and ours.per_booking("round_trips") <= 2, "",
        note=(f"{ours.count} bookings per side; ours {ours.calls.methods}; baseline {base.calls.methods} "
              "(from the emulator's request log; a batch counts once, its parts not again)"),
    )
    mints = Row("token mints per booking (warm)", ours.per_booking("token_mints"), base.per_booking("token_mints"),
                "0", ours.calls.token_mints == 0, "")
    secrets = Row("secret reads per booking (warm)", ours.per_booking("secret_reads"),
                  base.per_booking("secret_reads"), "0", ours.calls.secret_reads == 0, "")
    return [trips, mints, secrets]


def slots_from_snapshot(sides: Sides, sizes: Sizes) -> list[Row]:
    progress(f"GET /slots: {sizes.slot_requests} from the snapshot, {sizes.baseline_slot_requests} naive")
    stack = sides.stack
    first = datetime.now(UTC).date() + timedelta(days=1)
    slugs = list(CALENDARS)

    def query(index: int) -> dict[str, Any]:
        slug = slugs[index % len(slugs)]
        day = first + timedelta(days=index % 7)
        return {"calendar": slug, "from": day.isoformat(), "to": (day + timedelta(days=6)).isoformat(),
                "duration": str(DURATIONS[slug])}

    def measure(client: Any, count: int) -> tuple[list[float], Counter[str], Calls]:
        stack.clear_log()
        timings: list[float] = []
        sources: Counter[str] = Counter()
        with quiet():
            for index in range(count):
                began = time.perf_counter()
                answer = client.get("/slots", query_string=query(index))
                timings.append((time.perf_counter() - began) * 1000)
                body = answer.get_json() or {}
                sources[body.get("source", str(answer.status_code)) if answer.status_code == 200
                        else f"HTTP {answer.status_code}"] += 1
        return timings, sources, stack.calls()

    ours_t, ours_sources, ours_calls = measure(sides.ours, sizes.slot_requests)
    base_t, base_sources, base_calls = measure(sides.baseline, sizes.baseline_slot_requests)
    from_snapshot = ours_sources == Counter({"snapshot": sizes.slot_requests})
    p50 = Row(
        "GET /slots p50 (fresh snapshot, 7 days)", median(ours_t), median(base_t), "< 10 ms",
        from_snapshot and median(ours_t) < 10, "ms",
        note=(f"ours answered {dict(ours_sources)}, p95 {percentile(ours_t, 0.95):.2f} ms; baseline "
              f"{dict(base_sources)} (secret, key, service, token, freeBusy, naive slots per request)"),
    )
    calls = Row(
        "GET /slots Google calls per request", ours_calls.round_trips / sizes.slot_requests,
        base_calls.round_trips / sizes.baseline_slot_requests, "0", ours_calls.round_trips == 0, "",
    )
    return [p50, calls]


def race(sides: Sides, sizes: Sizes, slot: tuple[str, str]) -> list[Row]:
    progress(f"race: {sizes.race} parallel bookings of one slot, per side")
    stack = sides.stack
    calendar_id = CALENDARS[slot[0]]
    start_utc = datetime.fromisoformat(slot[1]).astimezone(UTC).isoformat()

    def run(app: Any, tag: str) -> tuple[Counter[int], int]:
        stack.remove_bookings()
        barrier = threading.Barrier(sizes.race)

        def one(index: int) -> int:
            client = app.test_client()
            body = booking_body(slot, f"{tag}{index}@visitor.test")
            barrier.wait()
            return int(client.post("/bookings", json=body).status_code)

        with quiet(), ThreadPoolExecutor(max_workers=sizes.race) as pool:
            statuses = Counter(pool.map(one, range(sizes.race)))
        events = len(stack.events_at(calendar_id, start_utc))
        stack.remove_bookings()
        return statuses, events

    ours_statuses, ours_events = run(sides.ours_app, "race-o")
    base_statuses, base_events = run(sides.baseline_app, "race-b")
    exact = ours_statuses == Counter({201: 1, 409: sizes.race - 1}) and ours_events == 1
    fives = sum(n for status, n in ours_statuses.items() if status >= 500)
    base_fives = sum(n for status, n in base_statuses.items() if status >= 500)
    return [
        Row(
            f"{sizes.race}-way race: events in Google", ours_events, base_events, "== 1", exact, "", compare=False,
            note=f"answers: ours {dict(sorted(ours_statuses.items()))}, baseline {dict(sorted(base_statuses.items()))}",
        ),
        Row(f"{sizes.race}-way race: 201 answers", ours_statuses.get(201, 0), base_statuses.get(201, 0), "== 1",
            ours_statuses.get(201, 0) == 1, "", compare=False),
        Row(f"{sizes.race}-way race: 5xx answers", fives, base_fives, "0", fives == 0, "", compare=False),
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _functions_framework() -> list[str]:
    script = Path(sys.executable).parent / "functions-framework"
    return [str(script)] if script.exists() else [sys.executable, "-m", "functions_framework"]


@dataclass
class Cold:
    seconds: float | None  # Popen to the first 201 of POST /bookings
    listening: float | None = None  # Popen to the port accepting connections (imports and module code done)
    problem: str = ""


def _wait_listening(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.perf_counter() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.005)
    return False


def cold_start_once(stack: Stack, source: Path, body: dict[str, Any], log_dir: Path) -> Cold:
    """Seconds from Popen to the first 201 of POST /bookings, and to the port accepting connections."""
    import requests

    port = _free_port()
    env = {**os.environ, "BOOKING_CONFIG": str(stack.config_path), "NO_GCE_CHECK": "true"}
    command = [*_functions_framework(), "--target", "booking", "--source", str(source),
               "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/bookings"
    stderr_path = log_dir / f"cold-{source.stem}-{port}.log"
    with stderr_path.open("wb") as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
        try:
            if not _wait_listening(port, process, began + 60):
                return Cold(None, problem=f"never listened (exit {process.poll()}): {stderr_path.read_text()[-300:]}")
            listening = time.perf_counter() - began
            try:
                answer = requests.post(url, json=body, timeout=30)
            except requests.RequestException as error:
                return Cold(None, listening, f"{type(error).__name__}: {stderr_path.read_text()[-300:]}")
            elapsed = time.perf_counter() - began
            if answer.status_code != 201:
                return Cold(None, listening, f"first answer was {answer.status_code}: {answer.text[:200]}")
            return Cold(elapsed, listening)
        finally:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (SIGTERM waits for a graceful one)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def cold_start(sides: Sides, sizes: Sizes, slot: tuple[str, str], log_dir: Path) -> list[Row]:
    progress(f"cold start: {sizes.cold_runs} new processes per side")
    stack = sides.stack
    results: dict[str, list[Cold]] = {"ours": [], "baseline": []}
    problems: list[str] = []
    for run in range(sizes.cold_runs):
        for side, source in (("ours", BOOKING_SOURCE), ("baseline", BASELINE_SOURCE)):
            stack.remove_bookings()
            cold = cold_start_once(stack, source, booking_body(slot, f"cold{side}{run}@visitor.test"), log_dir)
            if cold.seconds is None:
                problems.append(f"{side} run {run + 1}: {cold.problem}")
            results[side].append(cold)
    stack.remove_bookings()
    done = {side: [c.seconds for c in colds if c.seconds is not None] for side, colds in results.items()}
    ours = median(done["ours"]) if done["ours"] else None
    base = median(done["baseline"]) if done["baseline"] else None

    def runs(side: str) -> str:
        return ", ".join(
            f"{c.listening:.2f}+{c.seconds - c.listening:.2f}" for c in results[side]
            if c.seconds is not None and c.listening is not None
        )

    note = (f"median of {sizes.cold_runs}; Popen of `functions-framework` to the first 201 of POST /bookings, "
            f"each run as listening+first request in s: ours [{runs('ours')}], baseline [{runs('baseline')}]")
    if problems:
        note += "; problems: " + " | ".join(problems)
    return [Row("cold start to first booking (0 ms)", ours, base, "< 1.5 s",
                ours is not None and ours < 1.5 and len(done["ours"]) == sizes.cold_runs, "s", note=note)]


def slot_computation(sides: Sides, sizes: Sizes) -> list[Row]:
    progress(f"slot computation: {sizes.slot_calendars} calendars x {sizes.slot_days} days")
    from bench.baseline import naive_free_slots
    from shared.slots import Interval, free_slots

    rules = sides.config.slot_rules("alice")
    duration = timedelta(minutes=30)
    now = datetime.now(UTC)
    window_start = now
    window_end = now + timedelta(days=sizes.slot_days)
    busy = [synthetic_busy(index, rules.timezone, now.date(), sizes.slot_days) for index in range(sizes.slot_calendars)]

    def ours_one(index: int) -> list[Interval]:
        return free_slots(
            rules, window_start=window_start, window_end=window_end, duration=duration, busy=busy[index], now=now
        )

    def ours_all() -> int:
        """Each calendar's slots made and counted, then dropped, as a caller serving them one by one would."""
        return sum(len(ours_one(index)) for index in range(len(busy)))

    timings, cpu = [], []
    with isolated_heap():
        for _ in range(5):
            began, began_cpu = time.perf_counter(), time.thread_time()
            slots = ours_all()
            timings.append(time.perf_counter() - began)
            cpu.append(time.thread_time() - began_cpu)
    # Best of 5, timeit's convention for CPU-bound code: slower runs measure other processes taking the CPU.
    ours_seconds = min(timings)

    cap = min(sizes.slot_baseline_cap, sizes.slot_calendars)
    with isolated_heap():
        began = time.perf_counter()
        naive = [
            naive_free_slots(
                rules.timezone, rules.weekly_hours, rules.overrides, step=rules.step, duration=duration,
                buffer_before=rules.buffer_before, buffer_after=rules.buffer_after, notice=rules.minimum_notice,
                horizon=rules.horizon, window_start=window_start, window_end=window_end,
                busy=[(i.start, i.end) for i in busy[index]], now=now,
            )
            for index in range(cap)
        ]
    naive_seconds = (time.perf_counter() - began) * sizes.slot_calendars / cap
    same = all([tuple(s) for s in ours_one(i)] == naive[i] for i in range(cap))
    busy_count = sum(len(b) for b in busy)
    note = (f"{slots} slots from {busy_count} busy intervals, alice's rules, 30 min; ours best of 5 "
            f"(runs {', '.join(f'{t:.2f}' for t in timings)} s wall, {', '.join(f'{t:.2f}' for t in cpu)} s CPU; "
            "each calendar's list counted and dropped; the bench's own heap frozen out of the garbage collector for "
            "both sides); baseline "
            f"measured on {cap} calendars and scaled x{sizes.slot_calendars / cap:g}; "
            f"{'identical slots' if same else 'SLOTS DIFFER'} on those {cap}")
    metric = f"slot computation {sizes.slot_calendars} cal x {sizes.slot_days} d (best of 5)"
    return [Row(metric, ours_seconds, naive_seconds, "< 0.5 s", ours_seconds < 0.5 and same, "s", note=note)]


@contextlib.contextmanager
def isolated_heap() -> Iterator[None]:
    """Collect, then freeze what the harness holds (emulator state, apps, libraries), so that the collector's
    passes during a CPU-bound measurement walk only what the measured code allocates, as in a function instance."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def synthetic_busy(index: int, zone: Any, today: date, days: int) -> list[Any]:
    """A plausible calendar: 2-4 meetings of 30-90 minutes on each weekday (local hours), in UTC as freeBusy and
    the snapshot give them, the same for every run."""
    from shared.slots import Interval

    chooser = random.Random(index)
    busy = []
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for _ in range(chooser.randint(2, 4)):
            start = datetime(day.year, day.month, day.day, chooser.randint(8, 16), chooser.choice((0, 15, 30, 45)),
                             tzinfo=zone)
            end = start + timedelta(minutes=chooser.choice((30, 45, 60, 90)))
            busy.append(Interval(start.astimezone(UTC), end.astimezone(UTC)))  # freeBusy and snapshots are UTC
    return busy


def sync(sides: Sides, sizes: Sizes, workdir: Path) -> list[Row]:
    progress(f"sync: {sizes.sync_calendars} calendars x {sizes.sync_days} days at {sizes.sync_latency_ms:g} ms")
    from bench.bench_sync import bench_config
    from shared.runtime import build_runtime
    from shared.sync import AvailabilitySync
    from tests.many_calendars import add_calendars

    stack = sides.stack
    emails = add_calendars(stack.server.emulator.state, sizes.sync_calendars)
    expected = math.ceil(len(emails) / 50) * math.ceil(sizes.sync_days / 90)
    stack.set_latency(sizes.sync_latency_ms)
    try:
        runs = []
        config = bench_config(stack.url, workdir / "sync", emails, days=sizes.sync_days, max_per_day=None)
        runtime = build_runtime(config)
        for label in ("new", "warm"):  # the first run of a runtime reads the secret and mints a token
            stack.clear_log()
            began = time.perf_counter()
            with quiet():
                report = AvailabilitySync.from_runtime(runtime).run()
            seconds = time.perf_counter() - began
            log = stack.log()
            runs.append((label, seconds, sum(1 for e in log if e["method"] == "calendar.freebusy.query"),
                         Calls.of(log), len(report.unavailable)))

        cap = min(sizes.sync_baseline_cap, len(emails))
        stack.clear_log()
        began = time.perf_counter()
        naive_calls = naive_sync_run(emails[:cap], sizes.sync_days)
        naive_seconds = (time.perf_counter() - began) * len(emails) / cap
        naive_calls_scaled = naive_calls * len(emails) / cap
    finally:
        stack.set_latency(0)

    rows = []
    for label, seconds, freebusy, calls, unavailable in runs:
        what = "new instance: secret read, token mint" if label == "new" else "warm instance"
        rows.append(Row(
            f"sync {len(emails)} cal x {sizes.sync_days} d @ {sizes.sync_latency_ms:g} ms ({label})", seconds,
            naive_seconds, "< 3 s", seconds < 3 and freebusy == expected and unavailable == 0, "s",
            note=(f"{what}; shared.sync.AvailabilitySync with bench/bench_sync.py's calendars and config "
                  f"(no max_per_day); {freebusy} freeBusy calls, {calls.token_mints} token mints, "
                  f"{calls.secret_reads} secret reads, {unavailable} unavailable. Baseline: one freeBusy per "
                  f"calendar in sequence, measured on {cap} calendars and scaled x{len(emails) / cap:g}"),
        ))
    _, _, freebusy, _, _ = runs[0]
    rows.append(Row(f"sync freeBusy calls ({len(emails)} calendars)", freebusy, naive_calls_scaled,
                    f"== {expected}", freebusy == expected, ""))
    return rows


def load(sides: Sides, sizes: Sizes, workdir: Path) -> list[Row]:
    from bench.load import mixed_load, slots_load

    progress(f"load: GET /slots at {sizes.load_rate:g}/s offered, then a mixed run, {sizes.load_seconds:g} s each")
    sides.sync()  # a fresh snapshot for the instance
    rows = slots_load(sides.stack, workdir, rate=sizes.load_rate, users=sizes.load_users,
                      seconds=sizes.load_seconds, latency_ms=sizes.latency_ms)
    sides.sync()
    rows += mixed_load(sides.stack, workdir, users=sizes.mixed_users, seconds=sizes.load_seconds,
                       latency_ms=sizes.latency_ms, pool_per_calendar=sizes.mixed_pool)
    return rows


def latency_step(sides: Sides, sizes: Sizes, slots: list[tuple[str, str]], out: Path) -> list[Row]:
    from bench.latency import booking_latency

    progress(f"latency: {sizes.bookings} warm bookings at {sizes.latency_ms:g} ms, timed and profiled")
    bodies = [booking_body(slot, f"lat{index}@visitor.test") for index, slot in enumerate(slots[: sizes.bookings])]
    return booking_latency(sides.stack, sides.ours, bodies, latency_ms=sizes.latency_ms, out=out,
                           reset=sides.stack.remove_bookings)


def scale_step(sides: Sides, sizes: Sizes, workdir: Path) -> list[Row]:
    from bench.scale import scale

    progress(f"scale: sync of {sizes.scale_calendars} calendars at {sizes.sync_latency_ms:g} ms, GET /slots of one")
    return scale(sides.stack, workdir, calendars=sizes.scale_calendars, days=sizes.sync_days,
                 latency_ms=sizes.sync_latency_ms, requests=sizes.scale_slot_requests)


def naive_sync_run(emails: list[str], days: int) -> int:
    from bench.baseline import calendar_service, naive_sync

    service = calendar_service("admin@example.com", ["https://www.googleapis.com/auth/calendar.freebusy"])
    start = datetime.now(UTC).replace(microsecond=0)
    return naive_sync(service, emails, start, start + timedelta(days=days))


# --- the run ----------------------------------------------------------------------------------------------------------
STEPS = ("booking", "latency", "slots", "race", "cold", "load", "compute", "sync", "scale")


def run(sizes: Sizes, only: set[str] | None = None, out: Path = OUT) -> tuple[list[Row], dict[str, Any]]:
    from shared.runtime import set_runtime

    info = machine()
    info["sizes"] = asdict(sizes)
    info["latency_methods"] = list(LATENCY_METHODS)
    print(machine_line(info), flush=True)
    saved_env = {name: os.environ.get(name) for name in ("BOOKING_CONFIG", "NO_GCE_CHECK")}
    os.environ["NO_GCE_CHECK"] = "true"
    rows: list[Row] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        workdir = Path(scratch)
        stack = Stack(workdir)
        try:
            os.environ["BOOKING_CONFIG"] = str(stack.config_path)  # read by the baseline and the cold instances
            sides = Sides(stack)
            progress(f"emulator {stack.url}; first sync for the snapshot")
            sides.sync()
            slots = pick_slots(sides, sizes.bookings + 4)
            warm_up(sides, slots[sizes.bookings :])
            steps: dict[str, Callable[[], list[Row]]] = {
                "booking": lambda: warm_booking(sides, sizes, slots),
                "latency": lambda: latency_step(sides, sizes, slots, out),
                "slots": lambda: slots_from_snapshot(sides, sizes),
                "race": lambda: race(sides, sizes, slots[0]),
                "cold": lambda: cold_start(sides, sizes, slots[1], workdir),
                "load": lambda: load(sides, sizes, workdir),
                "compute": lambda: slot_computation(sides, sizes),
                "sync": lambda: sync(sides, sizes, workdir),
                "scale": lambda: scale_step(sides, sizes, workdir),  # last: it adds 10,000 calendars
            }
            for name, step in steps.items():
                if only is None or name in only:
                    rows += step()
        finally:
            set_runtime(None)
            stack.stop()
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    info["bench_seconds"] = round(time.perf_counter() - began, 1)
    if hasattr(os, "getloadavg"):
        info["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    return rows, info


def warm_up(sides: Sides, slots: list[tuple[str, str]]) -> None:
    """One booking per calendar on each side: modules imported, and for ours tokens held for alice, bob, carol."""
    progress("warming up both sides")
    bodies = [booking_body(slot, f"warm{index}@visitor.test") for index, slot in enumerate(slots)]
    with quiet():
        for client in (sides.ours, sides.baseline):
            sides.stack.remove_bookings()
            for body in bodies:
                client.post("/bookings", json=body)
    sides.stack.remove_bookings()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the harness works")
    parser.add_argument("--out", type=Path, default=OUT, help="where latest.json and machine.json go")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    only = set(args.only.split(",")) if args.only else None
    if only is not None and only - set(STEPS):
        parser.error(f"unknown steps {sorted(only - set(STEPS))}; choose from {', '.join(STEPS)}")
    rows, info = run(sizes, only, args.out)
    print()
    print(table(rows))
    latest, machine_file = write(args.out, rows, info)
    failed = [row.metric for row in rows if row.passed is False]
    print()
    print(f"{sum(1 for r in rows if r.passed)} pass, {len(failed)} fail, "
          f"{sum(1 for r in rows if r.passed is None)} informational; {info['bench_seconds']} s; "
          f"JSON: {latest}, machine: {machine_file}")
    return EXIT_TARGET_MISSED if failed else 0
