"""`slots`: GET /slots answered from a fresh snapshot, against the baseline asking Google each time."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from ..harness import CALENDARS, Calls, Sizes, median, percentile, progress, quiet
from ..report import Row
from ..sides import DURATIONS, Sides


def slots_from_snapshot(sides: Sides, sizes: Sizes) -> list[Row]:
    progress(f"GET /slots: {sizes.slot_requests} from the snapshot, {sizes.baseline_slot_requests} naive")
    stack = sides.stack
    first = datetime.now(UTC).date() + timedelta(days=1)
    slugs = list(CALENDARS)

    def query(index: int) -> dict[str, Any]:
        slug = slugs[index % len(slugs)]
        day = first + timedelta(days=index % 7)
        return {"calendar": slug, "from": day.isoformat(), "to": (day + timedelta(days=6)).isoformat(),
                "duration": str(DURATIONS[slug])}

    def measure(client: Any, count: int) -> tuple[list[float], Counter[str], Calls]:
        stack.clear_log()
        timings: list[float] = []
        sources: Counter[str] = Counter()
        with quiet():
            for index in range(count):
                began = time.perf_counter()
                answer = client.get("/slots", query_string=query(index))
                timings.append((time.perf_counter() - began) * 1000)
                body = answer.get_json() or {}
                sources[body.get("source", str(answer.status_code)) if answer.status_code == 200
                        else f"HTTP {answer.status_code}"] += 1
        return timings, sources, stack.calls()

    ours_t, ours_sources, ours_calls = measure(sides.ours, sizes.slot_requests)
    base_t, base_sources, base_calls = measure(sides.baseline, sizes.baseline_slot_requests)
    from_snapshot = ours_sources == Counter({"snapshot": sizes.slot_requests})
    p50 = Row(
        "GET /slots p50 (fresh snapshot, 7 days)", median(ours_t), median(base_t), "< 10 ms",
        from_snapshot and median(ours_t) < 10, "ms",
        note=(f"ours answered {dict(ours_sources)}, p95 {percentile(ours_t, 0.95):.2f} ms; baseline "
              f"{dict(base_sources)} (secret, key, service, token, freeBusy, naive slots per request)"),
    )
    calls = Row(
        "GET /slots Google calls per request", ours_calls.round_trips / sizes.slot_requests,
        base_calls.round_trips / sizes.baseline_slot_requests, "0", ours_calls.round_trips == 0, "",
    )
    return [p50, calls, slot_formatting(sizes)]


def slot_formatting(sizes: Sizes) -> Row:
    """The `slots` list of one 7-day answer (09:00-17:00, 15-minute grid, 30-minute slots, across New York's
    fall-back day): shared.slot_format.format_slots against the plain `astimezone(zone).isoformat()` per end."""
    from zoneinfo import ZoneInfo

    from shared import slot_format
    from shared.slots import Interval

    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 10, 29, 9, tzinfo=zone)
    slots = [Interval(start.astimezone(UTC), (start + timedelta(minutes=30)).astimezone(UTC))
             for day in range(7)
             for start in (first + timedelta(days=day, minutes=15 * k) for k in range(31))]

    def plain() -> object:
        return [{"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()}
                for s in slots]

    def cold() -> object:
        slot_format._tables.pop(zone, None)  # a zone's first answer: every instant formatted once
        return slot_format.format_slots(slots, zone)

    if slot_format.format_slots(slots, zone) != plain():
        raise AssertionError("format_slots differs from astimezone(zone).isoformat()")
    rounds = max(20, sizes.slot_requests)

    def best(function: Any) -> float:  # microseconds per answer, best of 5 batches
        batches = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(rounds):
                function()
            batches.append((time.perf_counter() - began) / rounds * 1e6)
        return min(batches)

    base, first_answer = best(plain), best(cold)
    warm = best(lambda: slot_format.format_slots(slots, zone))
    return Row(
        f"slots formatting, {len(slots)} slots (7 days)", warm, base, "informational", None, "us",
        note=(f"shared.slot_format.format_slots, byte-identical to astimezone(zone).isoformat() per end; the "
              f"figure is an instance's steady state (instants seen before), a zone's first answer takes "
              f"{first_answer:.0f} us ({base / first_answer:.1f}x); best of 5 batches of {rounds}"),
    )

