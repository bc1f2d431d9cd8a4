"""No double booking through teams: racing round-robin requests, teams racing members' personal pages, and
collective bookings racing each other, with Google's lagging lists (CALENDAR.md's harsher reading)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.booking_support import at, span, workday
from tests.helpers.clients import control
from tests.helpers.function_app import function_app
from tests.helpers.team_support import bookings_by_member, clear_members, team_body, trio_runtime

THURSDAY = (3,)


@pytest.fixture(autouse=True)
def _trio(emulator: Any, tmp_path: Path) -> Iterator[None]:
    from shared.runtime import set_runtime

    control(emulator, "PUT", "settings", {"read_lag_ms": 150})
    clear_members(emulator)
    set_runtime(trio_runtime(emulator, tmp_path))
    yield
    set_runtime(None)


def _race(bodies: list[dict[str, Any]], keys: list[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    app = function_app("booking")
    barrier = threading.Barrier(len(bodies))

    def one(index: int) -> tuple[int, dict[str, Any]]:
        client = app.test_client()
        headers = {"Idempotency-Key": keys[index]} if keys else {}
        barrier.wait()
        response = client.post("/bookings", json=bodies[index], headers=headers)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, range(len(bodies))))


def _never_overlapping(emulator: Any) -> dict[str, int]:
    """Each member's confirmed bookings never come within the 10-minute buffer of each other; their counts."""
    buffer = timedelta(minutes=10)
    counts = {}
    for slug, events in bookings_by_member(emulator).items():
        spans = sorted(span(event) for event in events)
        for (_, end_a), (start_b, _) in itertools.pairwise(spans):
            assert end_a + buffer <= start_b, (slug, spans)
        counts[slug] = len(spans)
    return counts


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "own-keys"])
def test_fifty_way_race_on_a_three_member_team_books_each_member_once(emulator: Any, keyed: bool) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    results = _race([team_body("trio", start, email=f"v{n}@visitor.test") for n in range(50)],
                    keys=[f"key-{n}" for n in range(50)] if keyed else None)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 3, 409: 47}, statuses
    winners = sorted(body["booking"]["calendar"] for status, body in results if status == 201)
    assert winners == ["alice", "bob", "carol"]
    assert _never_overlapping(emulator) == {"alice": 1, "bob": 1, "carol": 1}
    assert all(body["error"]["code"] == "slot_unavailable" for status, body in results if status == 409)


def test_a_team_racing_its_members_personal_pages_never_doubles_a_member(emulator: Any) -> None:
    day = workday(weekdays=THURSDAY)
    bodies = []
    for n in range(36):
        start = at(day, 15, 15 * (n % 3))  # overlapping starts, 30 minutes long, 10 minutes buffer
        calendar = ("trio", "alice", "bob", "carol")[n % 4]
        bodies.append(team_body(calendar, start, email=f"m{n}@visitor.test"))
    results = _race(bodies)
    assert not [status for status, _ in results if status >= 500], results
    counts = _never_overlapping(emulator)
    created = [body["booking"] for status, body in results if status == 201]
    assert len(created) == sum(counts.values()) and all(counts.values()), counts
    assert {b["calendar"] for b in created if b.get("team") == "trio"} <= {"alice", "bob", "carol"}


def test_one_request_sent_twenty_times_at_once_books_one_member(emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    results = _race([team_body("trio", start)] * 20, keys=["the-same-key"] * 20)
    assert {status for status, _ in results} <= {200, 201}, results
    assert len({(body["booking"]["id"], body["booking"]["calendar"]) for _, body in results}) == 1
    assert sum(_never_overlapping(emulator).values()) == 1


def test_collective_race_books_exactly_one(emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    bodies = [team_body("review", start, duration=60, email=f"c{n}@visitor.test") for n in range(20)]
    bodies += [team_body("alice", start + timedelta(minutes=30), email=f"a{n}@visitor.test") for n in range(5)]
    results = _race(bodies)
    assert not [status for status, _ in results if status >= 500], results
    collective = [body for status, body in results if status == 201 and body["booking"].get("team") == "review"]
    personal = [body for status, body in results if status == 201 and body["booking"]["calendar"] == "alice"]
    assert len(collective) + len(personal) == 1, (collective, personal)  # all overlap on Alice
    counts = _never_overlapping(emulator)
    assert counts["alice"] + counts["bob"] == 1


def test_a_collective_move_racing_a_members_page_never_doubles_them(emulator: Any) -> None:
    app = function_app("booking")
    start = at(workday(weekdays=THURSDAY), 15)
    later = start + timedelta(days=7)
    made = app.test_client().post("/bookings", json=team_body("review", start, duration=60)).get_json()
    barrier = threading.Barrier(11)

    def move() -> int:
        client = app.test_client()
        barrier.wait()
        return client.patch(f"/bookings/{made['booking']['id']}", json={"start": later.isoformat()},
                            headers={"Authorization": f"Bearer {made['token']}"}).status_code

    def personal(n: int) -> int:
        client = app.test_client()
        barrier.wait()
        body = team_body("alice", later + timedelta(minutes=15 * (n % 3)), email=f"p{n}@visitor.test")
        return client.post("/bookings", json=body).status_code

    with ThreadPoolExecutor(max_workers=11) as pool:
        moved = pool.submit(move)
        personals = list(pool.map(personal, range(10)))
    assert moved.result() in (200, 409) and set(personals) <= {201, 409}, (moved.result(), personals)
    counts = _never_overlapping(emulator)  # Alice's own bookings never overlap each other
    alice_copies = [e for e in emulator.emulator.state.calendars["alice@example.com"].events.values()
                    if e.get("status") != "cancelled" and e.get("_copyOf")]
    for copy in alice_copies:  # nor the collective booking she attends
        for event in bookings_by_member(emulator)["alice"]:
            assert not (span(copy)[0] < span(event)[1] + timedelta(minutes=10)
                        and span(event)[0] < span(copy)[1] + timedelta(minutes=10)), (copy, event)
    # Every personal time overlaps the new time and each other: one of all these requests wins.
    assert (moved.result() == 200) + personals.count(201) == 1, (moved.result(), personals)
    assert counts["bob"] == 1 and counts["alice"] == personals.count(201)


def test_a_team_race_across_separate_instances_books_each_member_once(emulator: Any, tmp_path: Path) -> None:
    import requests

    from tests.helpers.instances import start_instances
    from tests.helpers.support import config_text
    from tests.helpers.team_support import TRIO

    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot", replace=TRIO))
    instances = start_instances(3, config_path)
    try:
        start = at(workday(weekdays=THURSDAY), 15)
        barrier = threading.Barrier(30)

        def one(index: int) -> int:
            url = instances[index % len(instances)][1]
            body = team_body("trio", start, email=f"x{index}@visitor.test")
            barrier.wait()
            headers = {"Idempotency-Key": f"instance-key-{index}"}
            return requests.post(f"{url}/bookings", json=body, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = Counter(pool.map(one, range(30)))
    finally:
        for process, _ in instances:
            process.terminate()
        for process, _ in instances:
            process.wait(timeout=10)
    assert statuses == {201: 3, 409: 27}, statuses
    assert _never_overlapping(emulator) == {"alice": 1, "bob": 1, "carol": 1}
