"""Ways a review of the merged protocol and security work broke the promise, each kept as a regression test.

Two attempts of one request (the same Idempotency-Key, or the same move, on two instances) share the booking's
holder id: the later one re-writes the earlier one's holds as its own, and must never release them, because the
earlier one may be about to write the booking on them. A booking holds one day token, also after a move.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.demo_calendars import claims_calendar_id
from shared.booking import NewBooking
from shared.errors import UpstreamUnavailable
from shared.runtime import Runtime, set_runtime
from tests.helpers.booking_support import ALICE, at, booking_body, clear_events, confirmed_bookings, workday
from tests.helpers.clients import control
from tests.helpers.interleave import PausedBatch, outcome, writes_booking
from tests.helpers.security_support import client, install
from tests.helpers.support import make_runtime

CLIENT = "192.0.2.7"


@pytest.fixture(autouse=True)
def _no_lag_after(emulator: Any) -> Iterator[None]:
    yield
    control(emulator, "PUT", "settings", {"read_lag_ms": 0})


def _lagging(emulator: Any) -> None:
    clear_events(emulator)
    control(emulator, "PUT", "settings", {"read_lag_ms": 1500})  # lists cannot tell: only claims decide


def _failing_booking_inserts(runtime: Runtime) -> None:
    real = runtime.calendar.batch

    def batch(identity: Any, parts: Any, *args: Any, **kwargs: Any) -> Any:
        if "booking" in parts:
            raise UpstreamUnavailable("Google did not answer the booking's insert.")
        return real(identity, parts, *args, **kwargs)

    runtime.calendar.batch = batch  # type: ignore[method-assign, assignment]


def _on_the_hour(emulator: Any, start: Any) -> list[dict[str, Any]]:
    return [b for b in confirmed_bookings(emulator) if b["start"]["dateTime"][:16] == start.isoformat()[:16]]


def test_a_retry_that_fails_keeps_the_holds_the_first_attempt_books_on(emulator: Any) -> None:
    _lagging(emulator)
    start = at(workday(), 10)
    first, retry, other = make_runtime(emulator), make_runtime(emulator), make_runtime(emulator)
    request = NewBooking("alice", start, 30, "Vera Visitor", "vera@visitor.test")
    paused = PausedBatch(first, writes_booking, lambda: first.booking.book(request, "key-1", CLIENT))
    _failing_booking_inserts(retry)
    assert outcome(lambda: retry.booking.book(request, "key-1", CLIENT))[0] == 503
    status, result = paused.finish()
    assert status == 200 and result.created
    assert outcome(lambda: other.booking.book(NewBooking("alice", start, 30, "Oscar", "o@visitor.test"), None))[
        0] == 409
    assert len(_on_the_hour(emulator, start)) == 1


def test_a_repeated_move_that_loses_its_mark_keeps_the_winners_holds(emulator: Any) -> None:
    _lagging(emulator)
    day = workday()
    made = make_runtime(emulator).booking.book(NewBooking("alice", at(day, 10), 30, "Vera", "vera@visitor.test"), None)
    first, repeat, other = make_runtime(emulator), make_runtime(emulator), make_runtime(emulator)
    new_start = at(day, 14)

    def move(runtime: Runtime) -> Any:
        return lambda: runtime.booking.reschedule(made.booking.id, made.token, new_start, None, CLIENT)

    waiting = PausedBatch(repeat, lambda parts: "mark" in parts, move(repeat))  # read the booking, then waits
    moving = PausedBatch(first, writes_booking, move(first))  # marked and holding, about to write
    assert waiting.finish()[0] == 409  # its mark finds the booking changed
    assert moving.finish()[0] == 200
    assert outcome(lambda: other.booking.book(NewBooking("alice", new_start, 30, "Oscar", "o@visitor.test"), None))[
        0] == 409
    assert len(_on_the_hour(emulator, new_start)) == 1


def test_a_same_day_move_holds_one_day_token(emulator: Any) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator)
    early = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "A", "a@visitor.test"), None)
    later = runtime.booking.book(NewBooking("alice", at(day, 11), 30, "B", "b@visitor.test"), None)
    runtime.booking.cancel(early.booking.id, early.token)
    moved = runtime.booking.reschedule(later.booking.id, later.token, at(day, 15), None, CLIENT)
    with emulator.emulator.state.lock:
        claims = list(emulator.emulator.state.calendars[claims_calendar_id(ALICE)].events.values())
    tokens = [
        props["wcbCell"] for props in (c.get("extendedProperties", {}).get("private", {}) for c in claims)
        if "/day" in props.get("wcbCell", "") and moved.booking.id in (props.get("wcbHolder"), props.get("wcbAlso"))
    ]
    assert len(tokens) == 1


def test_a_changed_body_under_a_used_key_never_gets_the_booking(emulator: Any) -> None:
    clear_events(emulator)
    runtime = make_runtime(emulator)
    start = at(workday(), 10)
    runtime.booking.book(NewBooking("alice", start, 30, "Vera", "vera@visitor.test"), "key-2", CLIENT)
    status, error = outcome(lambda: runtime.booking.book(
        NewBooking("alice", start, 30, "Mallory", "vera@visitor.test"), "key-2", CLIENT))
    assert status == 409 and "Idempotency-Key" in error.message


def test_a_retried_201_at_the_visitors_day_limit_is_answered(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"# bookings_per_visitor_per_day = 5": "bookings_per_visitor_per_day = 1"})
    try:
        booking, day = client("booking"), workday()
        body = booking_body(at(day, 10))
        first = booking.post("/bookings", json=body, headers={"Idempotency-Key": "k1"})
        again = booking.post("/bookings", json=body, headers={"Idempotency-Key": "k1"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.get_json()["booking"]["id"] == first.get_json()["booking"]["id"]
        other = booking.post("/bookings", json=booking_body(at(day, 11)), headers={"Idempotency-Key": "k2"})
        assert other.status_code == 429  # the limit still holds for a new booking
        assert len(confirmed_bookings(emulator)) == 1
    finally:
        set_runtime(None)
