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
profile). Prints one table and writes `bench/out/latest.json`, `machine.json` and `booking-profile.txt`. Each step
is a module of bench/scenarios/ (the sync's standalone benchmark: `python -m bench.scenarios.sync`).

    .venv/bin/python -m bench [--quick] [--out DIR]
        [--only booking,latency,slots,race,cold,load,compute,teams,sync,scale]

Exit status: 0 when every target is met, 3 when the table shows a FAIL (1 is a crash, 2 a usage error).
`--quick` uses tiny sizes to check that the harness works; its numbers mean nothing against the targets.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .harness import LATENCY_METHODS, QUICK, ROOT, Sizes, Stack, progress
from .report import Row, machine, machine_line, table, write
from .scenarios.booking import warm_booking
from .scenarios.cold import cold_start
from .scenarios.compute import slot_computation
from .scenarios.latency import latency_step
from .scenarios.load import load
from .scenarios.race import race
from .scenarios.scale import scale_step
from .scenarios.slots import slots_from_snapshot
from .scenarios.sync import sync
from .scenarios.teams import team_slots
from .sides import Sides, pick_slots, warm_up

OUT = ROOT / "bench" / "out"
EXIT_TARGET_MISSED = 3  # 1 is a crash (a traceback), 2 a usage error


STEPS = ("booking", "latency", "slots", "race", "cold", "load", "compute", "teams", "sync", "scale")


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
                "teams": lambda: team_slots(sides, sizes, workdir),
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
