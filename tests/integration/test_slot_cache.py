"""`GET /slots` answers from the snapshot are reused within a second, and never once they may be out of date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers.booking_support import at, booking_body, clear_events, workday


def _slots(client: Any, day: Any, live: bool = False) -> dict[str, Any]:
    suffix = "&live=true" if live else ""
    answer = client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30{suffix}")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def test_snapshot_answers_are_reused_until_a_booking_a_new_snapshot_or_the_next_second(
    booking_client: Any, emulator: Any, installed_runtime: Any, monkeypatch: Any
) -> None:
    from shared.sync import AvailabilitySync

    clear_events(emulator)
    AvailabilitySync.from_runtime(installed_runtime).run()
    booking = installed_runtime.booking
    computed: list[str] = []
    original = booking.slots

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(*args, **kwargs)
        computed.append(answer["source"])
        return answer

    monkeypatch.setattr(booking, "slots", counting)
    clock = installed_runtime.clock
    clock.set(clock.now(), frozen=True)  # no second boundary between two requests but those the test makes
    day = workday()
    first = _slots(booking_client, day)
    assert first["source"] == "snapshot" and first["slots"]
    assert _slots(booking_client, day) == first
    assert computed == ["snapshot"]  # the second answer was the first one again

    taken = at(day, 10).isoformat()
    assert taken in [s["start"] for s in first["slots"]]
    assert booking_client.post("/bookings", json=booking_body(at(day, 10))).status_code == 201
    after_booking = _slots(booking_client, day)
    assert taken not in [s["start"] for s in after_booking["slots"]]  # the booking made here shows at once
    assert len(computed) == 2

    clock.advance(timedelta(seconds=1))
    _slots(booking_client, day)
    assert computed == ["snapshot"] * 3  # the next second: computed again ("now" and minimum notice moved)
    _slots(booking_client, day, live=True)
    _slots(booking_client, day, live=True)
    assert computed.count("live") == 2  # live answers are asked for afresh every time

    AvailabilitySync.from_runtime(installed_runtime).run()
    installed_runtime.snapshots.forget()
    renewed = _slots(booking_client, day)
    assert renewed["source"] == "snapshot" and taken not in [s["start"] for s in renewed["slots"]]
    assert computed[-1] == "snapshot"  # a new snapshot: computed again
