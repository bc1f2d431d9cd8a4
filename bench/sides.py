"""The two sides under test, in process: the booking function as functions-framework serves it (warm runtime,
snapshot-backed) and bench/baseline.py; the free slots both book, and their warm-up."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from .harness import BASELINE_SOURCE, CALENDARS, Stack, progress, quiet

DURATIONS = {"alice": 30, "bob": 30, "carol": 45}  # minutes; carol offers 45 only


class Sides:
    def __init__(self, stack: Stack) -> None:
        import functions_framework

        from devserver.gateway import function_app
        from shared.config import load_config
        from shared.runtime import build_runtime, set_runtime

        self.stack = stack
        self.config = load_config(stack.config_path)
        self.runtime = build_runtime(self.config)
        set_runtime(self.runtime)
        stack.forget_hooks.append(self.runtime.availability.forget)
        self.ours_app = function_app("booking")
        self.baseline_app = functions_framework.create_app(  # type: ignore[no-untyped-call]  # untyped library
            target="booking", source=str(BASELINE_SOURCE)
        )
        self.ours = self.ours_app.test_client()
        self.baseline = self.baseline_app.test_client()

    def sync(self) -> Any:
        from shared.sync import AvailabilitySync

        with quiet():
            return AvailabilitySync.from_runtime(self.runtime).run()


def booking_body(slot: tuple[str, str], email: str) -> dict[str, Any]:
    slug, start = slot
    return {"calendar": slug, "start": start, "duration": DURATIONS[slug], "name": "Vera Visitor", "email": email}


def pick_slots(sides: Sides, count: int) -> list[tuple[str, str]]:
    """`count` free slots from the snapshot-backed `/slots`, spread over alice, bob and carol: at least an hour
    apart and at most three a day per calendar (clear of buffers and the per-day cap)."""
    first = datetime.now(UTC).date() + timedelta(days=1)
    last = first + timedelta(days=13)
    per_calendar: dict[str, list[str]] = {}
    for slug in CALENDARS:
        answer = sides.ours.get(
            "/slots", query_string={"calendar": slug, "from": first.isoformat(), "to": last.isoformat(),
                                    "duration": DURATIONS[slug]}
        )
        if answer.status_code != 200:
            raise RuntimeError(f"GET /slots for {slug} answered {answer.status_code}: {answer.get_json()}")
        offered = [datetime.fromisoformat(slot["start"]) for slot in answer.get_json()["slots"]]
        chosen: list[str] = []
        per_day: Counter[str] = Counter()
        last_start: datetime | None = None
        for start in offered:
            day = start.date().isoformat()
            if per_day[day] >= 3 or (last_start is not None and start - last_start < timedelta(minutes=75)):
                continue
            chosen.append(start.isoformat())
            per_day[day] += 1
            last_start = start
        per_calendar[slug] = chosen
    mixed: list[tuple[str, str]] = []
    for index in range(max(len(v) for v in per_calendar.values())):
        mixed += [(slug, slots[index]) for slug, slots in per_calendar.items() if index < len(slots)]
    if len(mixed) < count:
        raise RuntimeError(f"only {len(mixed)} free slots found, {count} needed")
    return mixed[:count]



def warm_up(sides: Sides, slots: list[tuple[str, str]]) -> None:
    """One booking per calendar on each side: modules imported, and for ours tokens held for alice, bob, carol."""
    progress("warming up both sides")
    bodies = [booking_body(slot, f"warm{index}@visitor.test") for index, slot in enumerate(slots)]
    with quiet():
        for client in (sides.ours, sides.baseline):
            sides.stack.remove_bookings()
            for body in bodies:
                client.post("/bookings", json=body)
    sides.stack.remove_bookings()

