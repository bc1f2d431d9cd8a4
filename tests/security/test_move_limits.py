"""Moves (PATCH) count under the per-client and per-visitor limits as bookings do: a move is a new event made for
the same visitor, with its own invitation mail, so book-and-move cycles would otherwise be an unlimited relay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.runtime import set_runtime
from tests.helpers.booking_support import at, booking_body, clear_events, confirmed_bookings, span, workday
from tests.helpers.security_support import client, install


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    set_runtime(None)


def booked_at(server: Any) -> list[datetime]:
    return sorted(span(event)[0] for event in confirmed_bookings(server))


def move(booking: Any, made: dict[str, Any], start: datetime, **kwargs: Any) -> Any:
    return booking.patch(f"/bookings/{made['booking']['id']}", json={"start": start.isoformat()},
                         headers={"Authorization": f"Bearer {made['token']}"}, **kwargs)


def test_moves_take_from_the_per_client_booking_bucket(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"bookings_per_client_per_minute = 10000": "bookings_per_client_per_minute = 3"})
    booking, day = client("booking"), workday()
    made = booking.post("/bookings", json=booking_body(at(day, 9))).get_json()
    for hour in (10, 11):
        answer = move(booking, made, at(day, hour))
        assert answer.status_code == 200, answer.get_json()
        made = answer.get_json()
    limited = move(booking, made, at(day, 14))
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited" and limited.headers["Retry-After"].isdigit()
    assert booked_at(emulator) == [at(day, 11).astimezone(UTC)]  # the booking stayed where it was
    # another client is not limited by this one's moves
    other = move(booking, made, at(day, 14), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200
    assert booked_at(emulator) == [at(day, 14).astimezone(UTC)]


def test_moves_count_as_bookings_of_the_visitor_per_day(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"# bookings_per_visitor_per_day = 5": "bookings_per_visitor_per_day = 2"})
    booking, day = client("booking"), workday()
    made = booking.post("/bookings", json=booking_body(at(day, 9))).get_json()
    moved = move(booking, made, at(day, 10))
    assert moved.status_code == 200, moved.get_json()
    refused = move(booking, moved.get_json(), at(day, 11))
    assert refused.status_code == 429
    assert refused.get_json()["error"]["details"] == {"limit": "bookings_per_visitor_per_day"}
    assert booked_at(emulator) == [at(day, 10).astimezone(UTC)]
    # the limit never keeps a visitor from cancelling
    last = moved.get_json()
    cancelled = booking.delete(f"/bookings/{last['booking']['id']}",
                               headers={"Authorization": f"Bearer {last['token']}"})
    assert cancelled.status_code == 200
    assert confirmed_bookings(emulator) == []


def test_a_move_does_not_add_a_future_booking(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"# future_bookings_per_visitor = 3": "future_bookings_per_visitor = 1",
                                 "# bookings_per_visitor_per_day = 5": "bookings_per_visitor_per_day = 5"})
    booking, day = client("booking"), workday()
    made = booking.post("/bookings", json=booking_body(at(day, 9))).get_json()
    assert booking.post("/bookings", json=booking_body(at(day, 10))).status_code == 429  # one upcoming is the limit
    moved = move(booking, made, at(day, 11))
    assert moved.status_code == 200, moved.get_json()
    assert booked_at(emulator) == [at(day, 11).astimezone(UTC)]


def test_a_bad_token_is_still_the_moves_own_403(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"# bookings_per_visitor_per_day = 5": "bookings_per_visitor_per_day = 2"})
    booking, day = client("booking"), workday()
    made = booking.post("/bookings", json=booking_body(at(day, 9))).get_json()
    answer = move(booking, {**made, "token": made["token"][:-2] + "xx"}, at(day, 10))
    assert answer.status_code == 403
    assert booked_at(emulator) == [at(day, 9).astimezone(UTC)]
