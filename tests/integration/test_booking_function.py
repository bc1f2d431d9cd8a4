"""The booking function through functions-framework's app, against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers.booking_support import (
    ALICE,
    add_busy,
    assert_matches_openapi,
    at,
    booking_body,
    clear_events,
    confirmed_bookings,
    span,
    workday,
    workdays,
)
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import counts, make_runtime

# Date-sensitive throughout: each test runs on every pinned day (tests/helpers/pinned_time.py).
pytestmark = pytest.mark.every_day


@pytest.fixture
def clean(emulator: Any) -> Any:
    clear_events(emulator)
    return emulator


def _book(client: Any, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/bookings", json=body, headers=headers)


# --- calendars, slots, OpenAPI ---------------------------------------------------------------------------------


def test_calendars_lists_public_slugs_only(booking_client: Any) -> None:
    response = booking_client.get("/calendars")
    assert response.status_code == 200
    assert_matches_openapi(response, "/calendars", "GET")
    calendars = response.get_json()["calendars"]
    assert [c["id"] for c in calendars] == ["alice", "bob", "carol", "sales", "review"]  # then the teams
    assert [c["kind"] for c in calendars] == ["calendar"] * 3 + ["team"] * 2
    assert "@" not in json.dumps(calendars)  # employee emails never leave the function


def test_openapi_document_is_valid_openapi_3_1(booking_client: Any) -> None:
    from openapi_spec_validator import validate

    document = booking_client.get("/openapi.json").get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_slots_are_inside_hours_and_avoid_busy_time(booking_client: Any, clean: Any) -> None:
    day = workday()
    add_busy(clean, at(day, 10), at(day, 11))
    response = booking_client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30")
    assert response.status_code == 200
    assert_matches_openapi(response, "/slots", "GET")
    body = response.get_json()
    assert body["source"] == "live" and body["timezone"] == "Europe/Berlin"
    starts = [datetime.fromisoformat(s["start"]) for s in body["slots"]]
    assert starts[0] == at(day, 9)
    assert at(day, 10) not in starts and at(day, 9, 30) not in starts  # 09:30+30 min+10 min buffer hits 10:00
    assert at(day, 11) in starts
    assert all(at(day, 9) <= s < at(day, 17) for s in starts)
    assert not any(at(day, 12) <= s < at(day, 13) for s in starts)  # lunch break between ranges


def test_slots_in_the_visitors_time_zone(booking_client: Any, clean: Any) -> None:
    day = workday()
    response = booking_client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=60&timezone=America/New_York")
    body = response.get_json()
    first = datetime.fromisoformat(body["slots"][0]["start"])
    assert body["timezone"] == "America/New_York"
    assert first.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
    assert first == at(day, 9)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("calendar=alice&from=2026-13-01&to=2026-12-01&duration=30", "from"),
        ("calendar=alice&from=2026-12-01&to=2026-12-01&duration=abc", "duration"),
        ("from=2026-12-01&to=2026-12-01&duration=30", "calendar"),
        ("calendar=alice&from=2026-12-01&to=2026-12-01&duration=45", "duration"),
        ("calendar=alice&from=2026-12-05&to=2026-12-01&duration=30", "to"),
        ("calendar=alice&from=2026-12-01&to=2026-12-01&duration=30&timezone=Mars/Base", "timezone"),
    ],
)
def test_bad_slot_queries_name_the_field(booking_client: Any, query: str, field: str) -> None:
    response = booking_client.get(f"/slots?{query}")
    assert response.status_code == 400
    assert_matches_openapi(response, "/slots", "GET")
    assert field in response.get_json()["error"]["details"]["fields"]


def test_unknown_calendar_is_404(booking_client: Any) -> None:
    response = booking_client.get("/slots?calendar=zoe&from=2026-12-01&to=2026-12-01&duration=30")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert _book(booking_client, booking_body(at(workday(), 10), calendar="zoe")).status_code == 404


# --- booking ---------------------------------------------------------------------------------------------------


def test_booking_lands_in_the_calendar_as_the_employee(booking_client: Any, clean: Any) -> None:
    start = at(workday(), 10)
    response = _book(booking_client, booking_body(start, notes="<script>alert(1)</script> & more"))
    assert response.status_code == 201, response.get_json()
    assert_matches_openapi(response, "/bookings", "POST")
    booking = response.get_json()["booking"]
    assert datetime.fromisoformat(booking["start"]) == start
    assert datetime.fromisoformat(booking["end"]) == start + timedelta(minutes=30)
    [event] = confirmed_bookings(clean)
    assert event["id"] == booking["id"]
    assert span(event) == (start.astimezone(UTC), (start + timedelta(minutes=30)).astimezone(UTC))
    assert [a["email"] for a in event["attendees"]] == ["vera@visitor.test"]
    assert event["organizer"]["email"] == ALICE
    assert "<script>" not in event["description"] and "&lt;script&gt;" in event["description"]
    mail = clean.emulator.state.mailbox
    assert any(m["to"] == "vera@visitor.test" and m["kind"] == "invitation" for m in mail)


def test_lookup_with_the_token(booking_client: Any, clean: Any) -> None:
    created = _book(booking_client, booking_body(at(workday(), 11))).get_json()
    booking_id, token = created["booking"]["id"], created["token"]
    response = booking_client.get(f"/bookings/{booking_id}?token={token}")
    assert response.status_code == 200
    assert_matches_openapi(response, "/bookings/{id}", "GET")
    assert response.get_json()["booking"] == created["booking"]


def test_company_addresses_are_never_attendees(clean: Any, tmp_path: Any) -> None:
    from shared.runtime import set_runtime
    from tests.helpers.function_app import function_app
    from tests.helpers.support import make_config, make_runtime

    allow = {'company_visitors = "refuse"': 'company_visitors = "allow"'}
    set_runtime(make_runtime(clean, config=make_config(clean, tmp_path / "snapshot", replace=allow)))
    booking_client = function_app("booking").test_client()
    response = _book(booking_client, booking_body(at(workday(), 14), email="bob@example.com"))
    set_runtime(None)
    assert response.status_code == 201
    [event] = confirmed_bookings(clean)
    assert not event.get("attendees")


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (lambda: at(workday(), 3), "outside_hours"),
        (lambda: at(workday(), 12, 30), "outside_hours"),
        (lambda: at(workday(), 10, 5), "off_grid"),
        (lambda: current_clock().now().replace(second=0, microsecond=0) + timedelta(minutes=30), "too_soon"),
        (lambda: at(workday(70), 10), "beyond_horizon"),
    ],
)
def test_rule_violations_are_400_with_the_reason(booking_client: Any, clean: Any, start: Any, reason: str) -> None:
    response = _book(booking_client, booking_body(start()))
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["details"]["reason"] == reason
    assert "start" in error["details"]["fields"]
    assert confirmed_bookings(clean) == []


def test_overlapping_a_busy_event_is_409(booking_client: Any, clean: Any) -> None:
    day = workday()
    add_busy(clean, at(day, 10), at(day, 11))
    response = _book(booking_client, booking_body(at(day, 10, 15)))
    assert response.status_code == 409
    assert_matches_openapi(response, "/bookings", "POST")
    assert response.get_json()["error"]["code"] == "slot_unavailable"
    assert confirmed_bookings(clean) == []


def test_the_buffer_after_counts_as_busy(booking_client: Any, clean: Any) -> None:
    day = workday()
    add_busy(clean, at(day, 10), at(day, 11))
    assert _book(booking_client, booking_body(at(day, 9, 30))).status_code == 409  # ends 10:00, +10 min buffer
    assert _book(booking_client, booking_body(at(day, 9))).status_code == 201  # ends 09:30, buffer to 09:40


def test_transparent_and_declined_events_do_not_block(booking_client: Any, clean: Any) -> None:
    day = workday()
    add_busy(clean, at(day, 10), at(day, 11), transparency="transparent")
    assert _book(booking_client, booking_body(at(day, 10))).status_code == 201


def test_per_day_cap_is_409(emulator: Any, tmp_path: Any) -> None:
    from shared.runtime import set_runtime
    from tests.helpers.function_app import function_app

    clear_events(emulator)
    set_runtime(_runtime_with(emulator, tmp_path, {"max_per_day = 8": "max_per_day = 1"}))
    try:
        client = function_app("booking").test_client()
        day, other_day = workdays(2)
        assert _book(client, booking_body(at(day, 9))).status_code == 201
        response = _book(client, booking_body(at(day, 15)))
        assert response.status_code == 409
        assert response.get_json()["error"]["details"]["reason"] == "day_full"
        assert _book(client, booking_body(at(other_day, 15))).status_code == 201  # another day is fine
    finally:
        set_runtime(None)


def _runtime_with(server: Any, tmp_path: Any, replace: dict[str, str]) -> Any:
    from tests.helpers.support import make_config

    return make_runtime(server, config=make_config(server, tmp_path, replace=replace))


# --- bad input -------------------------------------------------------------------------------------------------


def test_malformed_json_is_400(booking_client: Any) -> None:
    response = booking_client.post("/bookings", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["fields"] == {"body": "a JSON object"}


def test_wrong_content_type_is_415(booking_client: Any) -> None:
    response = booking_client.post("/bookings", data="calendar=alice", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413(booking_client: Any) -> None:
    body = booking_body(at(workday(), 10), notes="x" * 20000)
    response = booking_client.post("/bookings", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("missing", ["calendar", "start", "duration", "name", "email"])
def test_missing_field_is_named(booking_client: Any, missing: str) -> None:
    body = booking_body(at(workday(), 10))
    del body[missing]
    response = _book(booking_client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["fields"][missing] == "required"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"start": "2026-12-01T10:00:00"}, "start"),  # no offset
        ({"duration": "30"}, "duration"),
        ({"name": "x" * 101}, "name"),
        ({"notes": "x" * 1001}, "notes"),
        ({"extra": 1}, "extra"),
        ({"timezone": "Nowhere/Else"}, "timezone"),
    ],
)
def test_invalid_field_is_named(booking_client: Any, change: dict[str, Any], field: str) -> None:
    response = _book(booking_client, {**booking_body(at(workday(), 10)), **change})
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["details"]["fields"]


def test_unknown_route_and_method(booking_client: Any) -> None:
    assert booking_client.get("/nope").status_code == 404
    response = booking_client.put("/bookings")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_cors_preflight_and_headers(booking_client: Any) -> None:
    preflight = booking_client.options("/bookings", headers={"Origin": "http://127.0.0.1:8080"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    foreign = booking_client.get("/calendars", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


# --- idempotency -----------------------------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_booking(booking_client: Any, clean: Any) -> None:
    body = booking_body(at(workday(), 10))
    first = _book(booking_client, body, key="key-1")
    second = _book(booking_client, body, key="key-1")
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["booking"] == second.get_json()["booking"]
    assert len(confirmed_bookings(clean)) == 1


def test_reused_key_for_another_booking_is_refused(booking_client: Any, clean: Any) -> None:
    assert _book(booking_client, booking_body(at(workday(), 10)), key="key-2").status_code == 201
    response = _book(booking_client, booking_body(at(workday(), 14)), key="key-2")
    assert response.status_code == 409
    assert response.get_json()["error"]["details"]["idempotencyKey"] == "reused"
    assert len(confirmed_bookings(clean)) == 1


def test_retry_without_a_key_makes_no_second_event_and_hands_out_no_token(booking_client: Any, clean: Any) -> None:
    body = booking_body(at(workday(), 10))
    first = _book(booking_client, body)
    again = _book(booking_client, body)  # a retry, or anyone else who knows the visitor's email and slot
    assert (first.status_code, again.status_code) == (201, 409)
    assert "token" not in again.get_json()
    assert [e["id"] for e in confirmed_bookings(clean)] == [first.get_json()["booking"]["id"]]


def test_warm_booking_makes_two_google_calls_and_no_token_or_secret(booking_client: Any, clean: Any) -> None:
    from tests.helpers.support import clear_log, requests_log, round_trips

    day, other_day = workdays(2)  # two distinct days: the second booking is its day's first
    assert _book(booking_client, booking_body(at(day, 9))).status_code == 201
    clear_log(clean)
    assert _book(booking_client, booking_body(at(other_day, 14))).status_code == 201
    made = counts(clean)
    assert made.get("oauth2.token", 0) == 0
    assert made.get("secretmanager.versions.access", 0) == 0
    # Without a snapshot: one batch holds the claims and reads the calendar live, one writes the booking.
    log = [(r["method"], r["status"], r.get("fault")) for r in requests_log(clean) if not r.get("inner")]
    assert round_trips(clean) == 2, log
    bookings = [r for r in requests_log(clean, "calendar.events.insert")
                if "wcbBooking" in json.dumps(r.get("body") or {})]
    assert made["calendar.events.insert"] >= 1 and len(bookings) <= 1
    # With a per-day cap, a later booking the same day takes over a released day token: it reads the tokens and
    # their holders and writes one conditionally, three more round trips (see shared/booking.py, "Cost").
    clear_log(clean)
    assert _book(booking_client, booking_body(at(day, 14))).status_code == 201
    assert round_trips(clean) == 5, [(r["method"], r["status"]) for r in requests_log(clean) if not r.get("inner")]


def test_replaying_an_old_booking_never_undoes_it(booking_client: Any, clean: Any) -> None:
    day = workday()
    body = booking_body(at(day, 10))
    first = _book(booking_client, body, key="key-old")
    assert first.status_code == 201
    booking_id = first.get_json()["booking"]["id"]
    state = clean.emulator.state
    with state.lock:  # the booking was made an hour ago ...
        state.calendars[ALICE].events[booking_id]["created"] = "2000-01-01T00:00:00.000Z"
    add_busy(clean, at(day, 10), at(day, 11))  # ... and the employee put a meeting on top since
    again = _book(booking_client, body, key="key-old")
    assert again.status_code == 200
    assert again.get_json()["booking"]["status"] == "confirmed"
    assert [e["id"] for e in confirmed_bookings(clean)] == [booking_id]


def test_the_first_slot_offered_after_a_meeting_or_a_booking_can_be_booked(booking_client: Any, clean: Any) -> None:
    day = workday()
    add_busy(clean, at(day, 9), at(day, 9, 30))
    assert _book(booking_client, booking_body(at(day, 14), email="first@visitor.test")).status_code == 201

    def offered() -> list[datetime]:
        body = booking_client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30").get_json()
        return [datetime.fromisoformat(s["start"]) for s in body["slots"]]

    starts = offered()
    assert starts[0] == at(day, 9, 30)  # a meeting has no buffer of its own
    assert at(day, 14, 30) not in starts and at(day, 14, 45) in starts  # a booking keeps its 10 minutes
    assert _book(booking_client, booking_body(at(day, 14, 30), email="a@visitor.test")).status_code == 409
    assert _book(booking_client, booking_body(at(day, 14, 45), email="b@visitor.test")).status_code == 201
    assert _book(booking_client, booking_body(at(day, 9, 30), email="c@visitor.test")).status_code == 201


def test_warm_booking_with_a_fresh_snapshot_is_two_google_round_trips(
    booking_client: Any, clean: Any, installed_runtime: Any
) -> None:
    from shared.sync import AvailabilitySync
    from tests.helpers.support import clear_log, round_trips

    day, other_day = workdays(2)  # two distinct days: the second booking is its day's first
    assert _book(booking_client, booking_body(at(day, 9))).status_code == 201  # warms token and secret
    AvailabilitySync.from_runtime(installed_runtime).run()
    clear_log(clean)
    response = _book(booking_client, booking_body(at(other_day, 14)))
    assert response.status_code == 201
    assert round_trips(clean) == 2  # claims with the live check, then the booking; the pre-check read the snapshot
    made = counts(clean)
    assert made.get("oauth2.token", 0) == 0 and made.get("secretmanager.versions.access", 0) == 0
    slots = booking_client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30").get_json()
    assert slots["source"] == "snapshot"


def test_token_in_the_authorization_header_and_live_slots(booking_client: Any, clean: Any) -> None:
    day = workday()
    made = _book(booking_client, booking_body(at(day, 10))).get_json()
    path = f"/bookings/{made['booking']['id']}"
    assert booking_client.get(path, headers={"Authorization": f"Bearer {made['token']}"}).status_code == 200
    assert booking_client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert booking_client.get(path).status_code == 403
    live = booking_client.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30&live=true").get_json()
    assert live["source"] == "live"
    assert at(day, 10).isoformat() not in [s["start"] for s in live["slots"]]


def test_messages_speak_plainly(booking_client: Any) -> None:
    bad_email = _book(booking_client, {**booking_body(at(workday(), 10)), "email": "nope"}).get_json()
    assert bad_email["error"]["details"]["fields"]["email"].startswith("a valid email address")
    past = _book(booking_client, booking_body(at(workday(-400), 10))).get_json()
    assert "in the past" in past["error"]["message"]


def test_google_unavailable_is_503_with_retry_after(booking_client: Any, clean: Any) -> None:
    from tests.helpers.support import set_faults

    set_faults(clean, [{"method": "calendar.*", "kind": "503"}])
    response = _book(booking_client, booking_body(at(workday(), 10)))
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["error"]["code"] == "upstream_unavailable"
    assert_matches_openapi(response, "/bookings", "POST")
    slots = booking_client.get(f"/slots?calendar=alice&from={workday()}&to={workday()}&duration=30")
    assert slots.status_code == 503
    set_faults(clean, [])
    assert confirmed_bookings(clean) == []


def test_a_delegation_mistake_is_502_naming_the_fix(booking_client: Any, clean: Any, installed_runtime: Any) -> None:
    state = clean.emulator.state
    client_id = state.demo["service_account_key"]["client_id"]
    with state.lock:
        state.dwd_grants[client_id] = []
    installed_runtime.credentials.forget()  # a new instance: no token in hand yet
    response = _book(booking_client, booking_body(at(workday(), 10)))
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error"
    assert client_id in error["message"] and "admin.google.com" in error["message"]
    assert_matches_openapi(response, "/bookings", "POST")
