"""Sync benchmark (DESIGN section 8): 1,000 calendars over 28 days with 100 ms emulated Calendar latency.

Target: under 3 s with ceil(N/50) free/busy calls. Runs the sync use case as the function runs it (real client
libraries against an in-process emulator), once cold (new runtime: secret read, token mint) and twice warm, with
`booking.max_per_day` unset; then once (cold) with it set, which adds the per-day booking counts (events.list
in batches of 50) and is reported for information. Prints a table and writes bench/out/sync.json.

    .venv/bin/python -m bench.bench_sync [--calendars 1000] [--days 28] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.many_calendars import add_calendars, calendars_toml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "sync.json"
SYNC_AS = "admin@example.com"



def bench_config(
    emulator_url: str, snapshot_dir: Path, emails: list[str], *, days: int, max_per_day: int | None
) -> Any:
    from shared.config import parse_config

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

[snapshot]
location = "file://{snapshot_dir}"

[identity]
issuer = "{emulator_url}"
certs_url = "{emulator_url}/oauth2/v1/certs"
""" + calendars_toml(emails)
    return parse_config(text, "bench config")


def _one_run(server: Any, runtime: Any) -> dict[str, Any]:
    from shared.sync import AvailabilitySync

    server.emulator.clear_log()
    with contextlib.redirect_stdout(io.StringIO()):  # the sync's structured log lines; the table is the output
        started = time.perf_counter()
        report = AvailabilitySync.from_runtime(runtime).run()
        wall = time.perf_counter() - started
    _, counts = server.emulator.log_snapshot()
    assert runtime.store is not None
    size = len(runtime.store.read() or b"")
    return {
        "wall_s": round(wall, 3),
        "freebusy_calls": counts.get("calendar.freebusy.query", 0),
        "batch_calls": counts.get("calendar.batch", 0),
        "events_list_parts": counts.get("calendar.events.list", 0),
        "token_mints": counts.get("oauth2.token", 0),
        "secret_reads": counts.get("secretmanager.versions.access", 0),
        "unavailable": len(report.unavailable),
        "snapshot_bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sync", description=__doc__)
    parser.add_argument("--calendars", type=int, default=1000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--target-s", type=float, default=3.0)
    parser.add_argument("--skip-bookings", action="store_true", help="skip the max_per_day run")
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_GCE_CHECK", "true")

    from emulator.demo import build_demo_state
    from emulator.server import EmulatorServer
    from shared.runtime import build_runtime

    begun = time.perf_counter()
    server = EmulatorServer().start()
    try:
        server.emulator.replace_state(build_demo_state(server.url))
        emails = add_calendars(server.emulator.state, args.calendars)
        server.emulator.faults.set_latency([{"method": "calendar.*", "ms": args.latency_ms}])
        expected_calls = math.ceil(len(emails) / 50) * math.ceil(args.days / 90)
        results: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as scratch:
            config = bench_config(server.url, Path(scratch), emails, days=args.days, max_per_day=None)
            runtime = build_runtime(config)
            results["cold"] = _one_run(server, runtime)
            warm = [_one_run(server, runtime) for _ in range(2)]
            results["warm"] = min(warm, key=lambda run: run["wall_s"])
            if not args.skip_bookings:
                config = bench_config(server.url, Path(scratch) / "counts", emails, days=args.days, max_per_day=8)
                results["cold_with_booking_counts"] = _one_run(server, build_runtime(config))
    finally:
        server.stop()

    rows = []
    for name, run in results.items():
        counted = name != "cold_with_booking_counts"
        calls_ok = run["freebusy_calls"] == expected_calls
        time_ok = run["wall_s"] < args.target_s
        rows.append(
            {
                "run": name,
                **run,
                "target_wall_s": args.target_s,
                "target_freebusy_calls": expected_calls,
                "pass": (calls_ok and time_ok and run["unavailable"] == 0) if counted else None,
            }
        )
    passed = all(row["pass"] for row in rows if row["pass"] is not None)
    document = {
        "benchmark": "sync",
        "calendars": len(emails),
        "days": args.days,
        "latency_ms": args.latency_ms,
        "runs": rows,
        "pass": passed,
        "note": (
            "cold_with_booking_counts is informational: the emulator sleeps the latency for every part of a "
            "batch request in turn (50 parts x 100 ms = 5 s a batch), so it measures that model rather than Google; "
            "it also sends one events.list per calendar as the sync user (1,000 here), above Calendar's default "
            "600 requests per minute per user."
        ),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "bench_wall_s": round(time.perf_counter() - begun, 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, indent=2) + "\n")
    _print_table(document)
    return 0 if passed else 1


def _print_table(document: dict[str, Any]) -> None:
    header = ("run", "wall s", "target s", "freebusy", "target", "batches", "tokens", "bytes", "pass")
    lines = [header]
    for row in document["runs"]:
        verdict = "n/a" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
        lines.append(
            (
                row["run"],
                f"{row['wall_s']:.3f}",
                f"< {row['target_wall_s']:g}",
                str(row["freebusy_calls"]),
                str(row["target_freebusy_calls"]),
                str(row["batch_calls"]),
                str(row["token_mints"]),
                str(row["snapshot_bytes"]),
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(
        f"Sync: {document['calendars']} calendars, {document['days']} days, "
        f"{document['latency_ms']:g} ms Calendar latency ({document['machine']['cpus']} CPUs, "
        f"Python {document['machine']['python']})"
    )
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    print(f"Overall: {'PASS' if document['pass'] else 'FAIL'}   (bench {document['bench_wall_s']} s, JSON: {OUT})")
    if any(row["pass"] is None for row in document["runs"]):
        print(f"Note: {document['note']}")


if __name__ == "__main__":
    sys.exit(main())
