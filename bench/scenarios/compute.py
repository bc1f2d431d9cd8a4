"""`compute`: slot computation over many synthetic calendars, shared.slots against the naive baseline."""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..harness import Sizes, progress
from ..report import Row
from ..sides import Sides


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

