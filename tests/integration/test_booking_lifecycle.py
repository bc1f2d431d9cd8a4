"""Cancel and reschedule with the signed capability token; the visitor hears about it from Google."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers.booking_support import (
    add_busy,
    assert_matches_openapi,
    at,
    booking_body,
    clear_events,
    confirmed_bookings,
    span,
    workday,
)

# Date-sensitive throughout: each test runs on every pinned day (tests/helpers/pinned_time.py).
pytestmark = pytest.mark.every_day


@pytest.fixture
def booked(booking_client: Any, emulator: Any) -> dict[str, Any]:
    clear_events(emulator)
    response = booking_client.post("/bookings", json=booking_body(at(workday(), 10)))
    assert response.status_code == 201
    return dict(response.get_json())


def test_wrong_token_is_403_and_nothing_changes(booking_client: Any, booked: dict[str, Any], emulator: Any) -> None:
    booking_id = booked["booking"]["id"]
    other = booking_client.post("/bookings", json=booking_body(at(workday(), 14))).get_json()
    for token in ["garbage", other["token"], booked["token"][:-2] + "xx", ""]:
        response = booking_client.delete(f"/bookings/{booking_id}?token={token}")
        assert response.status_code == 403, token
        assert_matches_openapi(response, "/bookings/{id}", "DELETE")
    assert len(confirmed_bookings(emulator)) == 2


def test_a_token_lives_its_ttl_and_no_longer(
    booking_client: Any, booked: dict[str, Any], installed_runtime: Any, pinned_clock: Any
) -> None:
    booking_id, token = booked["booking"]["id"], booked["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    ttl = timedelta(days=installed_runtime.config.booking.token_ttl_days)
    pinned_clock.advance(ttl - timedelta(minutes=1))
    assert booking_client.get(f"/bookings/{booking_id}", headers=bearer).status_code == 200
    pinned_clock.advance(timedelta(minutes=2))
    response = booking_client.delete(f"/bookings/{booking_id}", headers=bearer)
    assert response.status_code == 403
    assert "expired" in response.get_json()["error"]["message"]


def test_cancel_twice_gives_the_same_answer(booking_client: Any, booked: dict[str, Any], emulator: Any) -> None:
    booking_id, token = booked["booking"]["id"], booked["token"]
    first = booking_client.delete(f"/bookings/{booking_id}?token={token}")
    second = booking_client.delete(f"/bookings/{booking_id}?token={token}")
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert first.get_json()["booking"]["status"] == "cancelled"
    assert confirmed_bookings(emulator) == []
    looked_up = booking_client.get(f"/bookings/{booking_id}?token={token}").get_json()
    assert looked_up["booking"]["status"] == "cancelled"
    cancellations = [m for m in emulator.emulator.state.mailbox if m["kind"] == "cancellation"]
    assert [m["to"] for m in cancellations] == ["vera@visitor.test"]


def test_cancelled_slot_can_be_booked_again_by_the_same_visitor(
    booking_client: Any, booked: dict[str, Any], emulator: Any
) -> None:
    booking_id, token = booked["booking"]["id"], booked["token"]
    assert booking_client.delete(f"/bookings/{booking_id}?token={token}").status_code == 200
    again = booking_client.post("/bookings", json=booking_body(at(workday(), 10)))
    assert again.status_code == 201
    assert again.get_json()["booking"]["id"] != booking_id
    assert len(confirmed_bookings(emulator)) == 1


def test_reschedule_moves_the_booking_and_tells_the_visitor(
    booking_client: Any, booked: dict[str, Any], emulator: Any
) -> None:
    booking_id, token = booked["booking"]["id"], booked["token"]
    emulator.emulator.state.mailbox.clear()
    new_start = at(workday(), 15)
    response = booking_client.patch(f"/bookings/{booking_id}?token={token}", json={"start": new_start.isoformat()})
    assert response.status_code == 200, response.get_json()
    assert_matches_openapi(response, "/bookings/{id}", "PATCH")
    moved = response.get_json()
    assert datetime.fromisoformat(moved["booking"]["start"]) == new_start
    [event] = confirmed_bookings(emulator)
    assert event["id"] == moved["booking"]["id"] != booking_id
    assert span(event)[0] == new_start.astimezone(UTC)
    assert [a["email"] for a in event["attendees"]] == ["vera@visitor.test"]
    mail = [(m["kind"], m["eventId"]) for m in emulator.emulator.state.mailbox if m["to"] == "vera@visitor.test"]
    assert ("cancellation", booking_id) in mail
    assert any(event_id == event["id"] and kind in ("invitation", "update") for kind, event_id in mail)
    # the new token opens the new booking; the old one shows the old booking as cancelled
    assert booking_client.get(f"/bookings/{event['id']}?token={moved['token']}").status_code == 200
    old = booking_client.get(f"/bookings/{booking_id}?token={token}").get_json()
    assert old["booking"]["status"] == "cancelled"


def test_reschedule_into_a_busy_slot_is_409_and_keeps_the_booking(
    booking_client: Any, booked: dict[str, Any], emulator: Any
) -> None:
    booking_id, token = booked["booking"]["id"], booked["token"]
    day = workday()
    add_busy(emulator, at(day, 15), at(day, 16))
    response = booking_client.patch(f"/bookings/{booking_id}?token={token}", json={"start": at(day, 15).isoformat()})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "slot_unavailable"
    [event] = confirmed_bookings(emulator)
    assert event["id"] == booking_id
    assert span(event)[0] == at(day, 10).astimezone(UTC)
    assert not [m for m in emulator.emulator.state.mailbox if m["kind"] == "cancellation"]


def test_reschedule_onto_another_booking_is_409(booking_client: Any, booked: dict[str, Any], emulator: Any) -> None:
    day = workday()
    other = booking_client.post("/bookings", json=booking_body(at(day, 14), email="otto@visitor.test"))
    assert other.status_code == 201
    response = booking_client.patch(
        f"/bookings/{booked['booking']['id']}?token={booked['token']}", json={"start": at(day, 14).isoformat()}
    )
    assert response.status_code == 409
    starts = sorted(span(e)[0] for e in confirmed_bookings(emulator))
    assert starts == [at(day, 10).astimezone(UTC), at(day, 14).astimezone(UTC)]


def test_reschedule_to_an_overlapping_time_of_its_own_is_fine(
    booking_client: Any, booked: dict[str, Any], emulator: Any
) -> None:
    response = booking_client.patch(
        f"/bookings/{booked['booking']['id']}?token={booked['token']}",
        json={"start": at(workday(), 10, 15).isoformat(), "duration": 60},
    )
    assert response.status_code == 200, response.get_json()
    [event] = confirmed_bookings(emulator)
    assert span(event)[1] - span(event)[0] == timedelta(minutes=60)


def test_reschedule_breaking_a_rule_is_400(booking_client: Any, booked: dict[str, Any]) -> None:
    response = booking_client.patch(
        f"/bookings/{booked['booking']['id']}?token={booked['token']}", json={"start": at(workday(), 3).isoformat()}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["reason"] == "outside_hours"


def test_reschedule_a_cancelled_booking_is_409(booking_client: Any, booked: dict[str, Any]) -> None:
    path = f"/bookings/{booked['booking']['id']}?token={booked['token']}"
    assert booking_client.delete(path).status_code == 200
    response = booking_client.patch(path, json={"start": at(workday(), 15).isoformat()})
    assert response.status_code == 409
