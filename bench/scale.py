"""A domain of 10,000 calendars: the sync at 100 ms latency, and `GET /slots` for one calendar out of its snapshot.

The sync runs as the function runs it (`shared.sync.AvailabilitySync` with a runtime of its own); free/busy is
asked as the one `sync.act_as` identity, 50 calendars a query, and that identity's calls are compared with
Calendar's per-user quota (600 requests a minute). The snapshot is then served by the booking function
(functions-framework's app, in process) for one calendar at a time, each request a different calendar (so the
one-second answer cache never answers), after a first request that reads and parses the snapshot; the memory
the parsed snapshot holds is measured with tracemalloc.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .harness import SYNC_AS, Calls, Stack, bench_config, median, percentile
from .report import Row

QUOTA_PER_MINUTE = 600  # Calendar API: queries per minute per user (the default)


def _quiet() -> contextlib.redirect_stdout[io.StringIO]:
    return contextlib.redirect_stdout(io.StringIO())


def scale(stack: Stack, workdir: Path, *, calendars: int, days: int, latency_ms: float, requests: int,
          target_s: float = 5.0) -> list[Row]:
    from devserver.gateway import function_app
    from shared.availability import Snapshot
    from shared.runtime import build_runtime, get_runtime, set_runtime
    from shared.sync import AvailabilitySync
    from tests.helpers.many_calendars import add_calendars, add_meetings

    emails = add_calendars(stack.server.emulator.state, calendars)
    expected = math.ceil(len(emails) / 50) * math.ceil(days / 90)
    # A per-day cap, so the snapshot needs per-day booking counts: listed where free/busy changed, within the
    # default per-run budget (shared/count_plan.py).
    config = bench_config(stack.url, workdir / "scale", emails, days=days, max_per_day=8)
    runtime = build_runtime(config)
    budget = config.sync.max_booking_lists_per_run

    def sync(label: str, latency: float, run_runtime: Any = runtime) -> tuple[str, float, Calls, Any]:
        stack.set_latency(latency)
        try:
            stack.clear_log()
            began = time.perf_counter()
            with _quiet():
                report = AvailabilitySync.from_runtime(run_runtime).run()
            seconds = time.perf_counter() - began
            return label, seconds, Calls.of(stack.log()), report
        finally:
            stack.set_latency(0)

    runs = [sync("first run, no snapshot", latency_ms)]
    # The counts the first run could not afford, listed once with the budget lifted (an operator's backfill at
    # install; on Google it would take 10,000 / 600 = 17 minutes for one identity, so its time is not a target).
    backfill = build_runtime(bench_config(stack.url, workdir / "scale", emails, days=days, max_per_day=8,
                                          lists_per_run=len(emails)))
    filled = sync("backfill", 0, backfill)
    runs.append(sync("steady, nothing changed", latency_ms))
    changed = add_meetings(stack.server.emulator.state, emails[:: max(1, len(emails) // 100)])
    runs.append(sync(f"steady, {changed} calendars changed", latency_ms))
    rows = []
    for label, seconds, calls, report in runs:
        freebusy = calls.methods.get("calendar.freebusy.query", 0)
        quota_ok = calls.calendar_requests <= QUOTA_PER_MINUTE
        rows.append(Row(
            f"scale: sync {len(emails)} cal x {days} d @ {latency_ms:g} ms ({label})", seconds, None,
            f"< {target_s:g} s", seconds < target_s and freebusy == expected and not report.unavailable
            and quota_ok, "s",
            note=(f"{freebusy} freeBusy calls (target {expected}), {report.counts_listed} calendars' bookings listed "
                  f"(budget {budget}), {report.counts_pending} left to /slots live; {calls.calendar_requests} "
                  f"Calendar requests as Google counts them (batch parts each): "
                  f"{'within' if quota_ok else 'OVER'} {QUOTA_PER_MINUTE}/min/user for {SYNC_AS}; "
                  f"{calls.token_mints} token mints, {len(report.unavailable)} unavailable"),
        ))
    rows.append(Row(f"scale: freeBusy calls ({len(emails)} calendars)", runs[-1][2].methods.get(
        "calendar.freebusy.query", 0), None, f"== {expected}",
        runs[-1][2].methods.get("calendar.freebusy.query", 0) == expected, ""))
    rows.append(Row(f"scale: backfill of {len(emails)} calendars' counts, no latency", filled[1], None,
                    "informational", None, "s",
                    note=f"{filled[3].counts_listed} listed, {filled[2].calendar_requests} Calendar requests"))

    # --- GET /slots for one calendar of the big snapshot --------------------------------------------------------
    raw = runtime.store.read() if runtime.store is not None else None
    assert raw is not None, "the sync wrote no snapshot"
    gc.collect()
    tracemalloc.start()
    parsed = Snapshot.parse(raw)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del parsed
    saved = None
    with contextlib.suppress(Exception):
        saved = get_runtime()
    set_runtime(runtime)
    try:
        client = function_app("booking").test_client()
        first_day = datetime.now(UTC).date() + timedelta(days=1)
        chooser = random.Random(7)
        slugs = [calendar.slug for calendar in config.calendars]

        def ask(slug: str) -> tuple[float, str]:
            query = {"calendar": slug, "from": first_day.isoformat(),
                     "to": (first_day + timedelta(days=6)).isoformat(), "duration": "30"}
            began = time.perf_counter()
            answer = client.get("/slots", query_string=query)
            elapsed = (time.perf_counter() - began) * 1000
            body = answer.get_json()
            return elapsed, f"{answer.status_code} {body.get('source') if isinstance(body, dict) else '?'}"

        with _quiet():
            first_ms, first_status = ask(slugs[0])
            timings, statuses = [], []
            for slug in chooser.sample(slugs[1:], min(requests, len(slugs) - 1)):
                elapsed, status = ask(slug)
                timings.append(elapsed)
                statuses.append(status)
    finally:
        set_runtime(saved)
    p50 = median(timings)
    from_snapshot = all(status == "200 snapshot" for status in statuses)
    return [*rows,
        Row(f"scale: GET /slots, 1 of {len(emails)} calendars (p50)", p50, None, "< 10 ms",
            p50 < 10 and from_snapshot, "ms",
            note=(f"{len(timings)} requests, each another calendar, 7 days, in process; p95 "
                  f"{percentile(timings, 0.95):.1f} ms; first request (reads and parses the snapshot) {first_ms:.0f} "
                  f"ms, {first_status}; all from the snapshot: {from_snapshot}")),
        Row(f"scale: snapshot of {len(emails)} calendars, file", len(raw) / 1e6, None, "informational", None, "MB"),
        Row(f"scale: snapshot of {len(emails)} calendars, in memory", held / 1e6, None, "informational", None, "MB",
            note="tracemalloc of Snapshot.parse (json.loads of the file; intervals parsed per calendar on first use)"),
    ]
