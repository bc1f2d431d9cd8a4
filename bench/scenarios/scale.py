"""`scale`: the sync of 10,000 calendars and GET /slots of one out of its snapshot (bench/scale.py)."""

from __future__ import annotations

from pathlib import Path

from ..harness import Sizes, progress
from ..report import Row
from ..sides import Sides


def scale_step(sides: Sides, sizes: Sizes, workdir: Path) -> list[Row]:
    from bench.scale import scale

    progress(f"scale: sync of {sizes.scale_calendars} calendars at {sizes.sync_latency_ms:g} ms, GET /slots of one")
    return scale(sides.stack, workdir, calendars=sizes.scale_calendars, days=sizes.sync_days,
                 latency_ms=sizes.sync_latency_ms, requests=sizes.scale_slot_requests)

