"""`latency`: a warm booking at a latency split into round trips, own CPU and waiting (bench/latency.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..harness import Sizes, progress
from ..report import Row
from ..sides import Sides, booking_body


def latency_step(sides: Sides, sizes: Sizes, slots: list[tuple[str, str]], out: Path) -> list[Row]:
    from bench.latency import booking_latency

    progress(f"latency: {sizes.bookings} warm bookings at {sizes.latency_ms:g} ms, timed and profiled")
    measured = slots[: sizes.bookings]
    bodies = [booking_body(slot, f"lat{index}@visitor.test") for index, slot in enumerate(measured)]
    return booking_latency(sides.stack, sides.ours, bodies, latency_ms=sizes.latency_ms, out=out,
                           reset=sides.stack.remove_bookings, capped_pairs=capped_pairs(measured, CAPPED_PAIRS))


CAPPED_PAIRS = 6  # later bookings on a capped day, timed apart from the happy path


def capped_pairs(slots: list[tuple[str, str]], count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Up to `count` pairs of slots on one calendar and day (the example config caps bookings per day): the day's
    first booking, then the later one that takes over a released day token."""
    by_day: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for slot in slots:
        by_day.setdefault((slot[0], slot[1][:10]), []).append(slot)
    pairs = [(booking_body(first, f"capfirst{n}@visitor.test"), booking_body(later, f"caplater{n}@visitor.test"))
             for n, (first, later, *_) in enumerate(day for day in by_day.values() if len(day) >= 2)]
    return pairs[:count]

