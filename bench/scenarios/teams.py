"""`teams`: GET /slots of a 20-member team from a fresh snapshot (issue 17): each member's slots from the
per-calendar path, then their union (round robin) or intersection (collective), no Google call."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..harness import Calls, Sizes, bench_config, median, percentile, progress, quiet
from ..report import Row
from ..sides import Sides

MEMBERS = 20


def _teams_toml(slugs: list[str]) -> str:
    members = ", ".join(f'"{slug}"' for slug in slugs)
    return (f'\n[[teams]]\nslug = "rr{len(slugs)}"\nname = "Round robin"\nmode = "round_robin"\n'
            f"members = [{members}]\ndurations = [30]\n"
            f'\n[[teams]]\nslug = "all{len(slugs)}"\nname = "Everyone"\nmode = "collective"\n'
            f"members = [{members}]\ndurations = [30]\n")


def team_slots(sides: Sides, sizes: Sizes, workdir: Path) -> list[Row]:
    from devserver.gateway import function_app
    from shared.runtime import build_runtime, get_runtime, set_runtime
    from shared.sync import AvailabilitySync
    from tests.helpers.many_calendars import add_calendars

    stack = sides.stack
    requests = max(sizes.slot_requests, 10)
    progress(f"team slots: {MEMBERS}-member teams from the snapshot, {requests} requests each")
    emails = add_calendars(stack.server.emulator.state, MEMBERS)
    slugs = [f"m{index:04d}" for index in range(MEMBERS)]
    config = bench_config(stack.url, workdir / "teams", emails, days=sizes.sync_days, max_per_day=None,
                          extra=_teams_toml(slugs))
    runtime = build_runtime(config)
    with quiet():
        AvailabilitySync.from_runtime(runtime).run()
    saved = None
    with contextlib.suppress(Exception):
        saved = get_runtime()
    set_runtime(runtime)
    first = datetime.now(UTC).date() + timedelta(days=1)
    results: dict[str, tuple[list[float], set[str], int, int]] = {}
    try:
        client = function_app("booking").test_client()
        for team in (f"rr{MEMBERS}", f"all{MEMBERS}"):
            statuses: set[str] = set()
            timings: list[float] = []
            slot_count = 0
            stack.clear_log()
            with quiet():
                for index in range(requests + 1):  # the first reads and parses the snapshot: not counted
                    day = first + timedelta(days=index % max(1, sizes.sync_days - 8))
                    query = {"calendar": team, "from": day.isoformat(),
                             "to": (day + timedelta(days=6)).isoformat(), "duration": "30",
                             "timezone": ("UTC", "Europe/Berlin")[index // max(1, sizes.sync_days - 8) % 2]}
                    began = time.perf_counter()
                    answer = client.get("/slots", query_string=query)
                    elapsed = (time.perf_counter() - began) * 1000
                    body = answer.get_json() or {}
                    if index:
                        timings.append(elapsed)
                        statuses.add(f"{answer.status_code} {body.get('source')}")
                        slot_count = max(slot_count, len(body.get("slots", [])))
            results[team] = (timings, statuses, Calls.of(stack.log()).round_trips, slot_count)
    finally:
        set_runtime(saved)
    rows = []
    for team, (timings, statuses, trips, slot_count) in results.items():
        collective = team.startswith("all")
        fine = statuses == {"200 snapshot"} and trips == 0
        rows.append(Row(
            f"team slots, {MEMBERS} members, {'collective' if collective else 'round robin'} (p50)", median(timings),
            None, "informational" if collective else "< 10 ms", None if collective else fine and median(timings) < 10,
            "ms",
            note=(f"{len(timings)} requests, 7 days each, in process, distinct queries (no answer cache); p95 "
                  f"{percentile(timings, 0.95):.1f} ms; answers {sorted(statuses)}; {trips} Google round trips; up to "
                  f"{slot_count} slots an answer"),
        ))
    rows.append(Row(f"team slots Google calls per request ({MEMBERS} members)",
                    sum(r[2] for r in results.values()) / (2 * requests), None, "0",
                    all(r[2] == 0 for r in results.values()), ""))
    return rows
