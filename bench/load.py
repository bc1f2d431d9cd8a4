"""One instance under load: the booking function as Cloud Run starts it (functions-framework's gunicorn, one
worker, THREADS threads, as infra/functions.tf deploys it), driven by locust (headless, `bench/locustfile.py`,
its own process) with 50 ms of emulated Google latency.

- `slots`: `GET /slots` from the snapshot at an offered rate; achieved rate, p50/p95/p99, errors.
- `mixed`: visitors look at slots, race for a few popular slots, cancel some of their bookings. Judged over
  HTTP only: 0 5xx; 0 double bookings (overlapping confirmed bookings on one calendar in the emulator's
  `/_emulator/state`); every 201 not cancelled still `confirmed` when read back with its token.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from .harness import BOOKING_SOURCE, ROOT, Stack
from .report import Row

THREADS = 80  # infra/functions.tf: booking's max_instance_request_concurrency, and THREADS
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
MARKER = "wcbBooking"  # what the project sets on its events (shared/events.py); read from the emulator's state


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bin(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", name.replace("-", "_")]


def start_instance(stack: Stack, workdir: Path, *, threads: int = THREADS, source: Path = BOOKING_SOURCE) -> Instance:
    port = _free_port()
    env = {**os.environ, "BOOKING_CONFIG": str(stack.config_path), "NO_GCE_CHECK": "true",
           "THREADS": str(threads), "WORKERS": "1"}
    log = workdir / f"instance-{port}.log"
    command = [*_bin("functions-framework"), "--target", "booking", "--source", str(source),
               "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/calendars", timeout=5).status_code == 200:
                return Instance(process, url, log)
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the gunicorn instance did not start: {log.read_text()[-500:]}")


@dataclass
class LoadResult:
    seconds: float
    kinds: dict[str, dict[str, float]]  # locust's name -> count, failures, rps, p50, p95, p99 (ms)
    statuses: dict[str, dict[int, int]]
    created: list[dict[str, str]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def fives(self) -> int:
        return sum(n for counts in self.statuses.values() for status, n in counts.items() if status >= 500)

    def errors(self, kind: str) -> int:
        return int(self.kinds.get(kind, {}).get("failures", 0))


def run_locust(user_class: str, plan: dict[str, Any], *, users: int, seconds: float, workdir: Path,
               host: str) -> LoadResult:
    out = workdir / f"locust-{user_class}.json"
    plan_path = workdir / f"plan-{user_class}.json"
    plan_path.write_text(json.dumps({**plan, "out": str(out)}))
    prefix = workdir / f"locust-{user_class}"
    env = {**os.environ, "LOAD_PLAN": str(plan_path), "LOAD_USERS": str(users)}
    command = [*_bin("locust"), "-f", str(LOCUSTFILE), user_class, "--headless", "--host", host,
               "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--csv", str(prefix),
               "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0", "--stop-timeout", "10"]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=seconds + 120, check=False)  # noqa: S603
    elapsed = time.perf_counter() - began
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"locust exited {done.returncode}: {done.stderr.decode()[-800:]}")
    kinds: dict[str, dict[str, float]] = {}
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for line in csv.DictReader(stats):
            kinds[line["Name"]] = {
                "count": float(line["Request Count"]), "failures": float(line["Failure Count"]),
                "rps": float(line["Requests/s"]), "p50": float(line["50%"]), "p95": float(line["95%"]),
                "p99": float(line["99%"]),
            }
    result = json.loads(out.read_text())
    statuses = {kind: {int(s): int(n) for s, n in counts.items()} for kind, counts in result["statuses"].items()}
    return LoadResult(elapsed, kinds, statuses, result["created"], result["cancelled"])


def slot_queries(days: int = 7) -> list[dict[str, str]]:
    first = datetime.now(UTC).date() + timedelta(days=1)
    last = first + timedelta(days=days - 1)
    durations = {"alice": "30", "bob": "30", "carol": "45"}
    return [{"calendar": slug, "from": first.isoformat(), "to": last.isoformat(), "duration": duration}
            for slug, duration in durations.items()]


def _figures(kind: dict[str, float]) -> str:
    return (f"{kind.get('rps', 0):.0f}/s, p50 {kind.get('p50', 0):.0f} ms, p95 {kind.get('p95', 0):.0f} ms, "
            f"p99 {kind.get('p99', 0):.0f} ms, {kind.get('failures', 0):.0f} errors of {kind.get('count', 0):.0f}")


def slots_load(stack: Stack, workdir: Path, *, rate: float, users: int, seconds: float,
               latency_ms: float) -> list[Row]:
    instance = start_instance(stack, workdir)
    stack.set_latency(latency_ms)
    try:
        requests.get(f"{instance.url}/slots", params=slot_queries()[0], timeout=30)  # snapshot read once
        stack.clear_log()
        result = run_locust("SlotsUser", {"scenario": "slots", "rate": rate, "queries": slot_queries()},
                            users=users, seconds=seconds, workdir=workdir, host=instance.url)
        google = stack.calls()
    finally:
        stack.set_latency(0)
        instance.stop()
    kind = result.kinds.get("GET /slots", {})
    rps, p99, errors = kind.get("rps", 0.0), kind.get("p99", float("nan")), result.errors("GET /slots")
    note = (f"one gunicorn instance ({THREADS} threads), locust {users} users offering {rate:g}/s for {seconds:g} s, "
            f"Google latency {latency_ms:g} ms: {_figures(kind)}; {google.calendar} Calendar calls")
    return [
        Row("load: GET /slots (snapshot) rate", rps, None, ">= 500 /s", rps >= 500, "/s", note=note),
        Row("load: GET /slots p50", kind.get("p50"), None, "informational", None, "ms"),
        Row("load: GET /slots p95", kind.get("p95"), None, "informational", None, "ms"),
        Row("load: GET /slots p99", p99, None, "< 50 ms", p99 < 50, "ms"),
        Row("load: GET /slots errors", errors, None, "0", errors == 0, "", compare=False),
    ]


def booking_pool(stack: Stack, url: str, per_calendar: int) -> list[dict[str, Any]]:
    """A few free slots per calendar, asked from the instance itself (at most three a day per calendar, 75
    minutes apart: any one of them can be booked whatever the others hold)."""
    durations = {"alice": 30, "bob": 30, "carol": 45}
    first = datetime.now(UTC).date() + timedelta(days=1)
    pool: list[dict[str, Any]] = []
    for slug, duration in durations.items():
        params = {"calendar": slug, "from": first.isoformat(), "to": (first + timedelta(days=27)).isoformat(),
                  "duration": str(duration)}
        answer = requests.get(f"{url}/slots", params=params, timeout=30)
        answer.raise_for_status()
        chosen: list[str] = []
        per_day: dict[str, int] = {}
        last: datetime | None = None
        for slot in answer.json()["slots"]:
            start = datetime.fromisoformat(slot["start"])
            day = start.date().isoformat()
            if per_day.get(day, 0) >= 3 or (last is not None and start - last < timedelta(minutes=75)):
                continue
            chosen.append(slot["start"])
            per_day[day] = per_day.get(day, 0) + 1
            last = start
            if len(chosen) == per_calendar:
                break
        pool += [{"calendar": slug, "start": start, "duration": duration} for start in chosen]
    return pool


def double_bookings(state: dict[str, Any]) -> int:
    """Pairs of the project's confirmed events that overlap on one calendar."""
    overlaps = 0
    for calendar in state.get("calendars", {}).values():
        spans = []
        for event in calendar.get("events", {}).values():
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if event.get("status") == "cancelled" or private.get(MARKER) != "1":
                continue
            start, end = (datetime.fromisoformat(event[k]["dateTime"].replace("Z", "+00:00")) for k in ("start", "end"))
            spans.append((start, end))
        spans.sort()
        overlaps += sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
    return overlaps


def mixed_load(stack: Stack, workdir: Path, *, users: int, seconds: float, latency_ms: float,
               pool_per_calendar: int) -> list[Row]:
    stack.remove_bookings()
    instance = start_instance(stack, workdir)
    try:
        pool = booking_pool(stack, instance.url, pool_per_calendar)
        stack.set_latency(latency_ms)
        plan = {"scenario": "mixed", "queries": slot_queries(), "pool": pool}
        result = run_locust("Visitor", plan, users=users, seconds=seconds, workdir=workdir, host=instance.url)
        stack.set_latency(0)
        cancelled = set(result.cancelled)
        kept = [b for b in result.created if b["id"] not in cancelled]
        lost = []
        with requests.Session() as session:
            for booking in kept:
                answer = session.get(f"{instance.url}/bookings/{booking['id']}",
                                     headers={"Authorization": f"Bearer {booking['token']}"}, timeout=30)
                if answer.status_code != 200 or answer.json()["booking"]["status"] != "confirmed":
                    lost.append(booking["id"])
        state = stack.control("GET", "state")
    finally:
        stack.set_latency(0)
        instance.stop()
    stack.remove_bookings()
    book = result.kinds.get("POST /bookings", {})
    answered = result.statuses.get("book", {})
    booking_rate = book.get("rps", 0.0) if answered.get(201, 0) + answered.get(409, 0) else 0.0
    created_rate = booking_rate * answered.get(201, 0) / max(1, sum(answered.values()))
    doubles = double_bookings(state)
    fives = result.fives()
    note = (f"one gunicorn instance ({THREADS} threads), locust {users} visitors for {seconds:g} s racing for "
            f"{len(pool)} slots, Google latency {latency_ms:g} ms; statuses {result.statuses}; bookings "
            f"{_figures(book)}; slots {_figures(result.kinds.get('GET /slots', {}))}; "
            f"cancels {_figures(result.kinds.get('DELETE /bookings/{id}', {}))}; {created_rate:.1f} created/s, "
            f"{len(result.cancelled)} cancelled, {len(kept)} kept")
    return [
        Row("load mixed: bookings answered (201+409)", booking_rate, None, ">= 20 /s", booking_rate >= 20, "/s",
            note=note),
        Row("load mixed: booking p50", book.get("p50"), None, "informational", None, "ms"),
        Row("load mixed: booking p95", book.get("p95"), None, "informational", None, "ms"),
        Row("load mixed: booking p99", book.get("p99"), None, "informational", None, "ms"),
        Row("load mixed: 5xx answers", fives, None, "0", fives == 0, "", compare=False),
        Row("load mixed: double bookings", doubles, None, "0", doubles == 0, "", compare=False),
        Row("load mixed: 201s not confirmed at the end", len(lost), None, "0", not lost and bool(kept), "",
            compare=False),
    ]
