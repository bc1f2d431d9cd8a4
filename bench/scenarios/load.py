"""`load`: one gunicorn instance under locust, GET /slots and then a mixed run (bench/load.py)."""

from __future__ import annotations

from pathlib import Path

from ..harness import Sizes, progress
from ..report import Row
from ..sides import Sides


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

