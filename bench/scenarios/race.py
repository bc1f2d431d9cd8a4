"""`race`: parallel bookings of one slot per side; exactly one may win."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ..harness import CALENDARS, Sizes, progress, quiet
from ..report import Row
from ..sides import Sides, booking_body


def race(sides: Sides, sizes: Sizes, slot: tuple[str, str]) -> list[Row]:
    progress(f"race: {sizes.race} parallel bookings of one slot, per side")
    stack = sides.stack
    calendar_id = CALENDARS[slot[0]]
    start_utc = datetime.fromisoformat(slot[1]).astimezone(UTC).isoformat()

    def run(app: Any, tag: str) -> tuple[Counter[int], int]:
        stack.remove_bookings()
        barrier = threading.Barrier(sizes.race)

        def one(index: int) -> int:
            client = app.test_client()
            body = booking_body(slot, f"{tag}{index}@visitor.test")
            barrier.wait()
            return int(client.post("/bookings", json=body).status_code)

        with quiet(), ThreadPoolExecutor(max_workers=sizes.race) as pool:
            statuses = Counter(pool.map(one, range(sizes.race)))
        events = len(stack.events_at(calendar_id, start_utc))
        stack.remove_bookings()
        return statuses, events

    ours_statuses, ours_events = run(sides.ours_app, "race-o")
    base_statuses, base_events = run(sides.baseline_app, "race-b")
    exact = ours_statuses == Counter({201: 1, 409: sizes.race - 1}) and ours_events == 1
    fives = sum(n for status, n in ours_statuses.items() if status >= 500)
    base_fives = sum(n for status, n in base_statuses.items() if status >= 500)
    return [
        Row(
            f"{sizes.race}-way race: events in Google", ours_events, base_events, "== 1", exact, "", compare=False,
            note=f"answers: ours {dict(sorted(ours_statuses.items()))}, baseline {dict(sorted(base_statuses.items()))}",
        ),
        Row(f"{sizes.race}-way race: 201 answers", ours_statuses.get(201, 0), base_statuses.get(201, 0), "== 1",
            ours_statuses.get(201, 0) == 1, "", compare=False),
        Row(f"{sizes.race}-way race: 5xx answers", fives, base_fives, "0", fives == 0, "", compare=False),
    ]

