"""`latency`: a warm booking at a latency split into round trips, own CPU and waiting (bench/latency.py)."""

from __future__ import annotations

from pathlib import Path

from ..harness import Sizes, progress
from ..report import Row
from ..sides import Sides, booking_body


def latency_step(sides: Sides, sizes: Sizes, slots: list[tuple[str, str]], out: Path) -> list[Row]:
    from bench.latency import booking_latency

    progress(f"latency: {sizes.bookings} warm bookings at {sizes.latency_ms:g} ms, timed and profiled")
    bodies = [booking_body(slot, f"lat{index}@visitor.test") for index, slot in enumerate(slots[: sizes.bookings])]
    return booking_latency(sides.stack, sides.ours, bodies, latency_ms=sizes.latency_ms, out=out,
                           reset=sides.stack.remove_bookings)

