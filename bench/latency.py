"""Where a warm booking's time goes at 50 ms emulated latency: Google's two round trips, waiting for the emulator
to answer beyond its injected latency, and this process's own CPU.

Each booking is timed on the wall and on the calling thread's CPU clock (`time.thread_time`: the function's own
work; the emulator answers from other threads). One run is also profiled with pyinstrument (statistical, about
1 ms a sample) and its text report written next to the bench's JSON (`booking-profile.txt`).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import Stack, median
from .report import Row


def booking_latency(stack: Stack, client: Any, bodies: list[dict[str, Any]], *, latency_ms: float, out: Path,
                    reset: Callable[[], None]) -> list[Row]:
    from pyinstrument import Profiler

    reset()
    stack.set_latency(latency_ms)
    walls: list[float] = []
    cpus: list[float] = []
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for body in bodies:
                wall, cpu = time.perf_counter(), time.thread_time()
                answer = client.post("/bookings", json=body)
                cpus.append((time.thread_time() - cpu) * 1000)
                walls.append((time.perf_counter() - wall) * 1000)
                if answer.status_code != 201:
                    raise RuntimeError(f"booking answered {answer.status_code}: {answer.get_json()}")
            reset()
            profiler = Profiler(interval=0.001)
            with profiler:
                for body in bodies[: max(1, len(bodies) // 2)]:
                    client.post("/bookings", json=body)
    finally:
        stack.set_latency(0)
        reset()
    out.mkdir(parents=True, exist_ok=True)
    (out / "booking-profile.txt").write_text(profiler.output_text(unicode=False, color=False))
    p50, cpu50 = median(walls), median(cpus)
    round_trips = 2 * latency_ms
    waiting = p50 - cpu50 - round_trips
    target = round_trips * 1.15
    note = (f"{len(bodies)} warm bookings in process (werkzeug test client); per booking p50: wall {p50:.1f} ms = "
            f"{round_trips:g} ms of injected latency (2 round trips) + {cpu50:.1f} ms of this thread's CPU + "
            f"{waiting:.1f} ms waiting beyond the latency (the emulator's own work and the GIL it shares with this "
            f"process, scheduling on a loaded machine); pyinstrument profile: {out / 'booking-profile.txt'}")
    return [
        Row(f"warm booking p50 @ {latency_ms:g} ms vs 2 round trips", p50, None, f"<= {target:.0f} ms",
            p50 <= target, "ms", note=note),
        Row("  of which own CPU (p50)", cpu50, None, "informational", None, "ms"),
        Row("  of which waiting beyond the latency", waiting, None, "informational", None, "ms"),
    ]
