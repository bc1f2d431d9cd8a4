"""Interleavings found in review: failures between insert and re-check, repeats, stolen ids, concurrent moves.

Each test leaves a calendar where no two confirmed bookings overlap and every answer stays true."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.booking import NewBooking
from shared.clock import PinnedClock
from shared.runtime import set_runtime
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import add_busy, at, booking_body, clear_events, confirmed_bookings, span, workday
from tests.helpers.function_app import function_app
from tests.helpers.interleave import PausedBatch, outcome, writes_booking
from tests.helpers.support import make_config, make_runtime, set_faults

LATER_THAN_ANY_TTL = 3600  # seconds: past booking.claim_ttl_seconds of the example config


@pytest.fixture
def later(emulator: Any, pinned_clock: PinnedClock, tmp_path: Path) -> Iterator[PinnedClock]:
    """A runtime whose own clock can be moved on (the emulator's stays), with a fresh snapshot of a clean calendar
    (the warm path)."""
    clear_events(emulator)
    clock = PinnedClock(pinned_clock.now())
    runtime = make_runtime(emulator, tmp_path / "snapshot", clock=clock)
    AvailabilitySync.from_runtime(runtime).run()
    set_runtime(runtime)
    yield clock
    set_faults(emulator, [])
    set_runtime(None)


def _book_on_another_instance(server: Any, tmp_path: Path, start: Any, email: str) -> None:
    """A booking made by another instance: this one's snapshot and memory do not know it."""
    from shared.booking import NewBooking

    other = make_runtime(server, tmp_path / "other-instance")
    other.booking.book(NewBooking("alice", start, 30, "Carla", email), None)


def _no_overlap(events: list[dict[str, Any]]) -> bool:
    spans = sorted(span(e) for e in events)
    return all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_a_booking_whose_recheck_failed_is_withdrawn_and_its_retry_rechecked(
    emulator: Any, later: Any, tmp_path: Path
) -> None:
    client = function_app("booking").test_client()
    start = at(workday(), 10)
    _book_on_another_instance(emulator, tmp_path, start, "c@visitor.test")
    set_faults(emulator, [{"method": "calendar.events.list", "kind": "503"}])
    body = booking_body(start, email="a@visitor.test")
    assert client.post("/bookings", json=body, headers={"Idempotency-Key": "key-a"}).status_code == 503
    assert len(confirmed_bookings(emulator)) == 1  # the unchecked event did not stay
    set_faults(emulator, [])
    later.advance(timedelta(minutes=3))
    retry = client.post("/bookings", json=body, headers={"Idempotency-Key": "key-a"})
    assert retry.status_code == 409
    assert len(confirmed_bookings(emulator)) == 1


def test_a_loser_whose_release_failed_is_never_confirmed_later(emulator: Any, later: Any, tmp_path: Path) -> None:
    """A request that finds the slot taken by another instance while Google fails every patch (the release of any
    claim it took): answered 409 (nothing of it confirmed), its retry 409, and once its hold is past the TTL the
    time is still the other booking's alone."""
    client = function_app("booking").test_client()
    start = at(workday(), 10)
    _book_on_another_instance(emulator, tmp_path, start, "c@visitor.test")
    set_faults(emulator, [{"method": "calendar.events.patch", "kind": "503"}])
    body = booking_body(start, email="a@visitor.test")
    assert client.post("/bookings", json=body, headers={"Idempotency-Key": "key-a"}).status_code == 409
    set_faults(emulator, [])
    later.advance(timedelta(minutes=3))
    retry = client.post("/bookings", json=body, headers={"Idempotency-Key": "key-a"})
    assert retry.status_code == 409
    booked = confirmed_bookings(emulator)
    assert len(booked) == 1 and _no_overlap(booked)
    assert [e["extendedProperties"]["private"]["wcbEmail"] for e in booked] == ["c@visitor.test"]


def test_a_repeat_gets_the_same_answer_as_the_first_time(emulator: Any, later: Any) -> None:
    """Whatever a failed attempt left (claims it could not release: Google fails every patch), a repeat of each
    request gets the answer it got the first time, and only a booking answered 201 is confirmed."""
    client = function_app("booking").test_client()
    day = workday()
    add_busy(emulator, at(day, 9), at(day, 10, 15))  # a meeting the snapshot does not know yet
    set_faults(emulator, [{"method": "calendar.events.patch", "kind": "503"}])
    a_body = booking_body(at(day, 10), duration=60, email="a@visitor.test")
    assert client.post("/bookings", json=a_body, headers={"Idempotency-Key": "ka"}).status_code == 409  # live check
    set_faults(emulator, [])
    b_body = booking_body(at(day, 10, 30), duration=30, email="b@visitor.test")
    first = client.post("/bookings", json=b_body, headers={"Idempotency-Key": "kb"})
    assert first.status_code in (201, 409)  # 409 while a's unreleased claims are younger than the TTL
    assert client.post("/bookings", json=a_body, headers={"Idempotency-Key": "ka"}).status_code == 409
    again = client.post("/bookings", json=b_body, headers={"Idempotency-Key": "kb"})
    assert again.status_code in ((200, 201) if first.status_code == 201 else (409,))
    confirmed = [e["id"] for e in confirmed_bookings(emulator)]
    if first.status_code == 201:
        assert confirmed == [first.get_json()["booking"]["id"]] == [again.get_json()["booking"]["id"]]
    else:
        assert confirmed == []


def test_nobody_else_gets_a_bookings_token_by_repeating_its_request(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    start = at(workday(), 10)
    assert booking_client.post("/bookings", json=booking_body(start, email="victim@visitor.test")).status_code == 201
    stolen = booking_client.post("/bookings", json=booking_body(start, email="victim@visitor.test", name="Mallory"))
    assert stolen.status_code == 409
    assert "token" not in stolen.get_json()


def test_two_concurrent_moves_of_one_booking_leave_one_booking(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    day = workday()
    made = booking_client.post("/bookings", json=booking_body(at(day, 10)))
    booking_id, token = made.get_json()["booking"]["id"], made.get_json()["token"]
    app = function_app("booking")
    barrier = threading.Barrier(2)

    def move(hour: int) -> int:
        client = app.test_client()
        barrier.wait()
        path = f"/bookings/{booking_id}?token={token}"
        return int(client.patch(path, json={"start": at(day, hour).isoformat()}).status_code)

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(move, (14, 15)))
    assert statuses in ([200, 409], [409, 409])
    assert len(confirmed_bookings(emulator)) == 1


def test_a_moved_booking_points_to_its_new_place(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    day = workday()
    made = booking_client.post("/bookings", json=booking_body(at(day, 10))).get_json()
    old = f"/bookings/{made['booking']['id']}?token={made['token']}"
    moved = booking_client.patch(old, json={"start": at(day, 14).isoformat()}).get_json()
    looked_up = booking_client.get(old).get_json()["booking"]
    assert looked_up["status"] == "cancelled" and looked_up["movedTo"] == moved["booking"]["id"]
    again = booking_client.patch(old, json={"start": at(day, 15).isoformat()})
    assert again.status_code == 409 and again.get_json()["error"]["details"]["movedTo"] == moved["booking"]["id"]
    same = booking_client.patch(
        f"/bookings/{moved['booking']['id']}?token={moved['token']}", json={"start": at(day, 14).isoformat()}
    )
    assert same.status_code == 200 and same.get_json()["booking"]["id"] == moved["booking"]["id"]


def test_slots_stop_offering_what_this_instance_just_booked(booking_client: Any, emulator: Any, later: Any) -> None:
    client = function_app("booking").test_client()
    day = workday()

    def offered() -> list[str]:
        body = client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30").get_json()
        assert body["source"] == "snapshot"
        return [s["start"] for s in body["slots"]]

    assert at(day, 10).isoformat() in offered()
    assert client.post("/bookings", json=booking_body(at(day, 10))).status_code == 201
    assert at(day, 10).isoformat() not in offered()


def test_a_booking_cancelled_elsewhere_frees_its_slot_for_this_instance(
    booking_client: Any, emulator: Any, later: Any
) -> None:
    client = function_app("booking").test_client()
    start = at(workday(), 10)
    made = client.post("/bookings", json=booking_body(start)).get_json()
    # cancelled by hand in the calendar (or through another instance): this instance remembers the booking
    state = emulator.emulator.state
    with state.lock:
        state.calendars["alice@example.com"].events[made["booking"]["id"]]["status"] = "cancelled"
    assert client.post("/bookings", json=booking_body(start, email="next@visitor.test")).status_code == 201


def test_a_failed_attempt_leaves_nothing_confirmed_and_its_claims_block_nobody_for_long(
    emulator: Any, later: Any, tmp_path: Path
) -> None:
    """Google fails the live read and every release: the attempt answers 503 with nothing of it confirmed; a
    booking elsewhere is untouched by it, and once its hold is past the TTL its time is bookable again."""
    client = function_app("booking").test_client()
    day = workday()
    _book_on_another_instance(emulator, tmp_path, at(day, 10), "c@visitor.test")
    set_faults(emulator, [
        {"method": "calendar.events.list", "kind": "503"},
        {"method": "calendar.events.patch", "kind": "503"},
    ])
    assert client.post("/bookings", json=booking_body(at(day, 11), email="a@visitor.test")).status_code == 503
    set_faults(emulator, [])
    assert len(confirmed_bookings(emulator)) == 1  # only the other instance's booking: the 503 left nothing
    other = client.post("/bookings", json=booking_body(at(day, 14), email="b@visitor.test"))
    assert other.status_code == 201
    later.advance(timedelta(seconds=LATER_THAN_ANY_TTL))
    freed = client.post("/bookings", json=booking_body(at(day, 11), email="d@visitor.test"))
    assert freed.status_code == 201  # the failed attempt's claims were taken over
    booked = confirmed_bookings(emulator)
    assert len(booked) == 3 and _no_overlap(booked)


def test_a_repeat_never_undoes_a_booking_when_a_meeting_lands_after_it(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "i1")
    request = NewBooking("alice", at(day, 10), 30, "Ann", "a@visitor.test")
    first = outcome(lambda: runtime.booking.book(request, "k1"))
    add_busy(emulator, at(day, 10), at(day, 11))  # the employee puts a meeting on top a minute later
    again = outcome(lambda: runtime.booking.book(request, "k1"))  # the client repeats (a lost answer)
    assert first[0] == again[0] == 200
    assert [e["id"] for e in confirmed_bookings(emulator)] == [first[1].booking.id]


def _invite_later(server: Any, tmp_path: Path, name: str) -> Any:
    later = {"invite_visitor = true": "invite_visitor = true\nconfirm_before_inviting = true"}
    return make_runtime(server, config=make_config(server, tmp_path / name, replace=later))


def _the_booking(server: Any) -> dict[str, Any]:
    state = server.emulator.state
    with state.lock:
        return dict(next(e for e in state.calendars["alice@example.com"].events.values() if is_booking_event(e)))


def is_booking_event(event: dict[str, Any]) -> bool:
    return ((event.get("extendedProperties") or {}).get("private") or {}).get("wcbBooking") == "1"


def test_an_invitation_goes_out_once_when_a_repeat_races_it(emulator: Any, tmp_path: Path) -> None:
    """The invitation rides on the booking's insert, written only once its claims are held: a repeat that
    overtakes the first attempt right before that insert writes the booking; the first then finds it (409
    duplicate on its own id) and answers the same booking. One invitation."""
    clear_events(emulator)
    first, second = _invite_later(emulator, tmp_path, "a"), _invite_later(emulator, tmp_path, "b")
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    paused = PausedBatch(first, writes_booking, lambda: first.booking.book(request, "k"))
    again = outcome(lambda: second.booking.book(request, "k"))  # the same request, repeated elsewhere
    before = _the_booking(emulator)
    status, result = paused.finish()
    assert _the_booking(emulator)["updated"] == before["updated"]  # the paused attempt wrote nothing more
    assert (status, again[0]) == (200, 200) and result.booking.id == again[1].booking.id
    assert result.booking.status == again[1].booking.status == "confirmed"
    assert [m["to"] for m in emulator.emulator.state.mailbox] == ["a@visitor.test"]


def test_an_invitation_never_touches_a_booking_cancelled_meanwhile(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    first, second = _invite_later(emulator, tmp_path, "a"), _invite_later(emulator, tmp_path, "b")
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    paused = PausedBatch(first, writes_booking, lambda: first.booking.book(request, "k"))
    again = outcome(lambda: second.booking.book(request, "k"))
    second.booking.cancel(again[1].booking.id, again[1].token)  # the visitor cancels
    decided = _the_booking(emulator)
    status, result = paused.finish()
    after = _the_booking(emulator)
    assert after["updated"] == decided["updated"] and after["status"] == "cancelled"  # never written again
    assert status == 200 and result.booking.status == "cancelled"  # answered as it stands
    assert [m["kind"] for m in emulator.emulator.state.mailbox].count("invitation") == 1
