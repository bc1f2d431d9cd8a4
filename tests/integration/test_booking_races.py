"""No double booking: racing requests on one instance and on several, and bookings under injected faults."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.booking_support import at, booking_body, clear_events, confirmed_bookings, span, workday, workdays
from tests.helpers.clients import control
from tests.helpers.function_app import function_app
from tests.helpers.instances import start_instances
from tests.helpers.support import config_text, make_config, make_runtime, requests_log, set_faults


@pytest.fixture(autouse=True)
def _read_lag(emulator: Any) -> None:
    """Google's harsher reading: what a list or free/busy shows lags the writes by 150 ms (CALENDAR.md)."""
    control(emulator, "PUT", "settings", {"read_lag_ms": 150})


def _race(count: int, bodies: list[dict[str, Any]], lag_server: Any = None) -> list[tuple[int, dict[str, Any]]]:
    app = function_app("booking")
    barrier = threading.Barrier(count)

    def one(index: int) -> tuple[int, dict[str, Any]]:
        client = app.test_client()
        barrier.wait()
        response = client.post("/bookings", json=bodies[index % len(bodies)])
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_fifty_threads_one_slot_exactly_one_wins(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    start = at(workday(), 10)
    bodies = [booking_body(start, email=f"visitor{i}@visitor.test") for i in range(50)]
    results = _race(50, bodies)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 49}, statuses
    assert all(body["error"]["code"] == "slot_unavailable" for status, body in results if status == 409)
    [event] = confirmed_bookings(emulator)
    winner = next(body for status, body in results if status == 201)
    assert event["id"] == winner["booking"]["id"]


def test_overlapping_slots_of_different_lengths_never_both_stay(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    day = workday()
    bodies = [
        booking_body(at(day, 10, minute), duration=duration, email=f"v{minute}{duration}@visitor.test")
        for minute in (0, 15, 30, 45)
        for duration in (30, 60)
    ]
    results = _race(20, bodies)
    assert not [status for status, _ in results if status >= 500]
    survivors = sorted(span(e) for e in confirmed_bookings(emulator))
    assert survivors, "some booking must win"
    buffer = timedelta(minutes=10)
    for (_, end_a), (start_b, _) in itertools.pairwise(survivors):
        assert end_a + buffer <= start_b, survivors
    created = [body["booking"]["id"] for status, body in results if status in (200, 201)]
    assert {e["id"] for e in confirmed_bookings(emulator)} == set(created)


def test_race_across_separate_instances(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot"))
    instances = start_instances(3, config_path)
    try:
        start = at(workday(), 11)
        barrier = threading.Barrier(30)

        def one(index: int) -> int:
            url = instances[index % len(instances)][1]
            body = booking_body(start, duration=30 + 30 * (index % 2), email=f"x{index}@visitor.test")
            barrier.wait()
            return requests.post(f"{url}/bookings", json=body, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = Counter(pool.map(one, range(30)))
    finally:
        for process, _ in instances:
            process.terminate()
        for process, _ in instances:
            process.wait(timeout=10)
    assert statuses[201] == 1 and statuses[409] == 29, statuses
    assert len(confirmed_bookings(emulator)) == 1


@pytest.mark.slow
@pytest.mark.every_day
def test_two_hundred_bookings_under_twenty_percent_faults_each_booked_once(emulator: Any, tmp_path: Path) -> None:
    from shared.runtime import set_runtime

    clear_events(emulator)
    no_cap_no_buffer = {"max_per_day = 8\n": "", "buffer_after_minutes = 10": "buffer_after_minutes = 0"}
    config = make_config(emulator, tmp_path, replace=no_cap_no_buffer)
    set_runtime(make_runtime(emulator, config=config))
    try:
        client = function_app("booking").test_client()
        starts = [
            at(day, hour, minute) for day in workdays(15) for hour in (9, 10, 11, 13, 14, 15, 16) for minute in (0, 30)
        ][:200]
        set_faults(emulator, [
            {"method": "calendar.*", "kind": "503", "rate": 0.08},
            {"method": "calendar.*", "kind": "429", "rate": 0.07},
            {"method": "calendar.*", "kind": "drop", "rate": 0.07},
        ], seed=2026)
        attempts = 0
        for index, start in enumerate(starts):
            body = booking_body(start, email=f"guest{index}@visitor.test")
            while True:
                attempts += 1
                response = client.post("/bookings", json=body, headers={"Idempotency-Key": f"soak-{index}"})
                if response.status_code in (200, 201):
                    break
                assert response.status_code == 503, response.get_json()
                assert attempts < 2000
        injected = [r for r in requests_log(emulator) if r.get("fault")]
        set_faults(emulator, [])
    finally:
        set_runtime(None)
    booked = confirmed_bookings(emulator)
    assert sorted(span(e)[0] for e in booked) == sorted(s.astimezone(span(booked[0])[0].tzinfo) for s in starts)
    assert len(booked) == 200
    assert len(injected) > 100, "the faults must really have been injected"
    print(f"200 bookings under faults took {attempts} client attempts")  # noqa: T201


def test_confirm_before_inviting_mails_only_the_winner(emulator: Any, tmp_path: Path) -> None:
    from shared.runtime import set_runtime

    clear_events(emulator)
    later = {"invite_visitor = true": "invite_visitor = true\nconfirm_before_inviting = true"}
    config = make_config(emulator, tmp_path, replace=later)
    set_runtime(make_runtime(emulator, config=config))
    try:
        start = at(workday(), 10)
        results = _race(10, [booking_body(start, email=f"visitor{i}@visitor.test") for i in range(10)])
    finally:
        set_runtime(None)
    winners = [body["booking"]["id"] for status, body in results if status == 201]
    assert len(winners) == 1
    mail = emulator.emulator.state.mailbox
    assert {m["eventId"] for m in mail} == set(winners)
    assert [m["kind"] for m in mail] in (["invitation"], ["update"])
