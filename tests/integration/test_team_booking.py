"""Team booking against the emulator: listing, slots (union and intersection), round-robin and collective
bookings, idempotent repeats across members, fairness, the booking's own link, and failing closed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.claims import holders, is_claim
from tests.helpers.booking_support import assert_matches_openapi, at, confirmed_bookings, workday, workdays
from tests.helpers.function_app import function_app
from tests.helpers.team_support import MEMBERS, bookings_by_member, clear_members, team_body, trio_runtime

LONDON = ZoneInfo("Europe/London")
THURSDAY = (3,)


@pytest.fixture
def trio_client(emulator: Any, tmp_path: Any) -> Any:
    from shared.runtime import set_runtime

    clear_members(emulator)
    set_runtime(trio_runtime(emulator, tmp_path))
    yield function_app("booking").test_client()
    set_runtime(None)


def _starts(client: Any, calendar: str, day: Any, duration: int, zone: str = "Europe/Berlin") -> set[datetime]:
    response = client.get(f"/slots?calendar={calendar}&from={day}&to={day}&duration={duration}&timezone={zone}")
    assert response.status_code == 200, response.get_json()
    assert_matches_openapi(response, "/slots", "GET")
    return {datetime.fromisoformat(slot["start"]) for slot in response.get_json()["slots"]}


def test_calendars_list_teams_with_public_names(trio_client: Any) -> None:
    response = trio_client.get("/calendars")
    assert_matches_openapi(response, "/calendars", "GET")
    entries = {entry["id"]: entry for entry in response.get_json()["calendars"]}
    assert entries["alice"]["kind"] == "calendar"
    sales, review, trio = entries["sales"], entries["review"], entries["trio"]
    assert (sales["kind"], sales["mode"], sales["durations"]) == ("team", "round_robin", [30])
    assert (review["mode"], review["durations"], review["organizer"]) == ("collective", [60], "bob")
    assert trio["members"] == [{"id": "alice", "name": "Alice Example"}, {"id": "bob", "name": "Bob Example"},
                               {"id": "carol", "name": "Carol Example"}]
    assert "calendar_id" not in str(trio) and "@" not in str(trio)  # nothing private about members


def test_round_robin_slots_are_the_union_and_collective_the_intersection(trio_client: Any) -> None:
    day = workday(weekdays=THURSDAY)
    alice, bob = _starts(trio_client, "alice", day, 30), _starts(trio_client, "bob", day, 30)
    assert alice - bob and bob - alice  # different hours: the test would not tell union from intersection
    assert _starts(trio_client, "sales", day, 30) == alice | bob
    review = _starts(trio_client, "review", day, 60)
    assert review == _starts(trio_client, "alice", day, 60) & _starts(trio_client, "bob", day, 60)
    assert review
    response = trio_client.get(f"/slots?calendar=sales&from={day}&to={day}&duration=60")
    assert response.status_code == 400  # the team offers 30 minutes only


def test_round_robin_booking_names_the_member_and_its_link_works(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    response = trio_client.post("/bookings", json=team_body("trio", start))
    assert response.status_code == 201, response.get_json()
    assert_matches_openapi(response, "/bookings", "POST")
    booking, token = response.get_json()["booking"], response.get_json()["token"]
    assert booking["team"] == "trio" and booking["calendar"] == "alice"  # no bookings yet: the first member
    [event] = confirmed_bookings(emulator, MEMBERS["alice"])
    assert event["extendedProperties"]["private"]["wcbTeam"] == "trio"
    bearer = {"Authorization": f"Bearer {token}"}
    got = trio_client.get(f"/bookings/{booking['id']}", headers=bearer)
    assert got.status_code == 200 and got.get_json()["booking"]["team"] == "trio"
    moved = trio_client.patch(f"/bookings/{booking['id']}", headers=bearer,
                              json={"start": (start + timedelta(minutes=45)).isoformat()})
    assert moved.status_code == 200, moved.get_json()
    new = moved.get_json()
    assert (new["booking"]["calendar"], new["booking"]["team"]) == ("alice", "trio")
    cancelled = trio_client.delete(f"/bookings/{new['booking']['id']}",
                                   headers={"Authorization": f"Bearer {new['token']}"})
    assert cancelled.get_json()["booking"]["status"] == "cancelled"
    assert bookings_by_member(emulator) == {"alice": [], "bob": [], "carol": []}


def test_the_next_booking_goes_to_the_member_with_fewest(trio_client: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    names = [trio_client.post("/bookings", json=team_body("trio", start, email=f"v{n}@visitor.test"))
             .get_json()["booking"]["calendar"] for n in range(3)]
    assert names == ["alice", "bob", "carol"]
    fourth = trio_client.post("/bookings", json=team_body("trio", start, email="v4@visitor.test"))
    assert fourth.status_code == 409  # every member has this slot now


def test_a_repeat_returns_the_same_booking_not_a_second_member(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    headers = {"Idempotency-Key": "key-1"}
    first = trio_client.post("/bookings", json=team_body("trio", start), headers=headers)
    assert first.status_code == 201
    # Alice is now busy then, so a fresh request would go to Bob; the repeat must find Alice's booking.
    again = trio_client.post("/bookings", json=team_body("trio", start), headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["booking"] == first.get_json()["booking"]
    assert {slug: len(events) for slug, events in bookings_by_member(emulator).items()} == \
        {"alice": 1, "bob": 0, "carol": 0}
    other_body = trio_client.post("/bookings", json=team_body("trio", start, name="Someone Else"), headers=headers)
    assert other_body.status_code == 409  # the key is this request's, not another's


def test_collective_books_one_event_held_on_every_member(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    response = trio_client.post("/bookings", json=team_body("review", start, duration=60))
    assert response.status_code == 201, response.get_json()
    booking, token = response.get_json()["booking"], response.get_json()["token"]
    assert (booking["calendar"], booking["team"]) == ("bob", "review")
    [event] = confirmed_bookings(emulator, MEMBERS["bob"])
    assert next(a["email"] for a in event["attendees"]) == MEMBERS["alice"]
    assert confirmed_bookings(emulator, MEMBERS["alice"]) == []  # Alice has Google's copy, not a booking of ours
    from emulator.demo_calendars import claims_calendar_id

    state = emulator.emulator.state
    with state.lock:
        alice_claims = [e for e in state.calendars[claims_calendar_id(MEMBERS["alice"])].events.values()
                        if is_claim(e) and booking["id"] in holders(e)]
    assert alice_claims
    personal = trio_client.post("/bookings", json=team_body("alice", start + timedelta(minutes=15)))
    assert personal.status_code == 409  # Alice is in the collective meeting then
    bearer = {"Authorization": f"Bearer {token}"}
    assert trio_client.delete(f"/bookings/{booking['id']}", headers=bearer).status_code == 200
    again = trio_client.post("/bookings", json=team_body("alice", start + timedelta(minutes=15)))
    assert again.status_code == 201, again.get_json()  # cancelled: Alice's time is free again


def test_a_collective_booking_moves_to_a_time_held_on_every_member(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    later = start + timedelta(days=7)
    made = trio_client.post("/bookings", json=team_body("review", start, duration=60)).get_json()
    bearer = {"Authorization": f"Bearer {made['token']}"}
    moved = trio_client.patch(f"/bookings/{made['booking']['id']}", headers=bearer,
                              json={"start": later.isoformat()})
    assert moved.status_code == 200, moved.get_json()
    new = moved.get_json()["booking"]
    assert (new["calendar"], new["team"]) == ("bob", "review") and new["id"] != made["booking"]["id"]
    [event] = confirmed_bookings(emulator, MEMBERS["bob"])
    assert event["id"] == new["id"] and next(a["email"] for a in event["attendees"]) == MEMBERS["alice"]
    assert trio_client.post("/bookings", json=team_body("alice", later + timedelta(minutes=15))).status_code == 409
    assert trio_client.post("/bookings", json=team_body("alice", start + timedelta(minutes=15))).status_code == 201
    old = trio_client.get(f"/bookings/{made['booking']['id']}", headers=bearer).get_json()["booking"]
    assert (old["status"], old["movedTo"]) == ("cancelled", new["id"])


def test_a_collective_booking_does_not_move_onto_a_members_busy_time(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    later = start + timedelta(days=7)
    made = trio_client.post("/bookings", json=team_body("review", start, duration=60)).get_json()
    assert trio_client.post("/bookings", json=team_body("alice", later + timedelta(minutes=30))).status_code == 201
    moved = trio_client.patch(f"/bookings/{made['booking']['id']}", json={"start": later.isoformat()},
                              headers={"Authorization": f"Bearer {made['token']}"})
    assert moved.status_code == 409, moved.get_json()  # Alice (not the organizer) is busy then
    [event] = confirmed_bookings(emulator, MEMBERS["bob"])
    assert event["id"] == made["booking"]["id"]  # the booking stays where it was


def test_collective_refuses_a_time_one_member_is_busy(trio_client: Any, emulator: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    assert trio_client.post("/bookings", json=team_body("alice", start)).status_code == 201
    response = trio_client.post("/bookings", json=team_body("review", start, duration=60))
    assert response.status_code == 409
    assert confirmed_bookings(emulator, MEMBERS["bob"]) == []


def test_fairness_over_thirty_sequential_bookings(trio_client: Any) -> None:
    days = workdays(10, weekdays=(1, 3))
    starts = [at(day, 14, 30) + timedelta(minutes=45 * n) for day in days for n in range(3)]
    got: Counter[str] = Counter()
    for n, start in enumerate(starts):
        response = trio_client.post("/bookings", json=team_body("trio", start, email=f"f{n}@visitor.test"))
        assert response.status_code == 201, (start, response.get_json())
        got[response.get_json()["booking"]["calendar"]] += 1
    assert sum(got.values()) == 30 and max(got.values()) - min(got.values()) <= 1, got
    assert set(got) == {"alice", "bob", "carol"}


def test_priority_breaks_ties(trio_client: Any) -> None:
    start = at(workday(weekdays=THURSDAY), 15)
    response = trio_client.post("/bookings", json=team_body("sales", start))
    assert response.get_json()["booking"]["calendar"] == "alice"  # sales: priority alice = 1


def test_a_member_whose_free_busy_errors_counts_as_busy(trio_client: Any, emulator: Any) -> None:
    saturday = workday(weekdays=(5,), zone=LONDON)
    only_carol = datetime.combine(saturday, datetime.min.time(), LONDON).replace(hour=9)
    assert _starts(trio_client, "trio", saturday, 30, "Europe/London") == \
        _starts(trio_client, "carol", saturday, 30, "Europe/London") != set()
    state = emulator.emulator.state
    with state.lock:  # Carol's calendar answers free/busy with `notFound` from now on
        state.calendars[MEMBERS["carol"]].acl.clear()
    assert _starts(trio_client, "trio", saturday, 30, "Europe/London") == set()
    response = trio_client.post("/bookings", json=team_body("trio", only_carol))
    assert response.status_code == 409, response.get_json()
    thursday = trio_client.post("/bookings", json=team_body("trio", at(workday(weekdays=THURSDAY), 15, 45)))
    assert thursday.status_code == 201 and thursday.get_json()["booking"]["calendar"] in ("alice", "bob")


def test_free_busy_failing_for_everyone_books_nobody(trio_client: Any, emulator: Any) -> None:
    from tests.helpers.support import set_faults

    set_faults(emulator, [{"method": "calendar.freebusy.query", "kind": "503"}])
    try:
        response = trio_client.post("/bookings", json=team_body("trio", at(workday(weekdays=THURSDAY), 15)))
    finally:
        set_faults(emulator, [])
    assert response.status_code == 409
    assert all(not events for events in bookings_by_member(emulator).values())


def test_a_retry_while_the_first_attempt_is_in_flight_books_one_member(emulator: Any, tmp_path: Any) -> None:
    """The first attempt has read the members' time (all free) and stalls; the client's retry of the same request
    (same key) on another instance books Alice. The first attempt then sees Alice busy: it must answer the retry's
    booking, not book Bob under the same key."""
    from shared.booking import NewBooking
    from tests.helpers.interleave import PausedBatch, outcome

    clear_members(emulator)
    first, second = trio_runtime(emulator, tmp_path / "i1"), trio_runtime(emulator, tmp_path / "i2")
    request = NewBooking("trio", at(workday(weekdays=THURSDAY), 15), 30, "Ann", "ann@visitor.test")

    def reads_free_busy(parts: dict[str, Any]) -> bool:  # a member's time, read live (shared/availability.py)
        return "freebusy" in parts

    paused = PausedBatch(first, reads_free_busy, lambda: first.booking.book(request, "retry-key", "203.0.113.9"))
    retry = outcome(lambda: second.booking.book(request, "retry-key", "203.0.113.9"))
    assert retry[0] == 200 and retry[1].created and retry[1].booking.calendar == "alice"
    late = paused.finish()
    assert late[0] == 200, late
    assert (late[1].booking.id, late[1].booking.calendar) == (retry[1].booking.id, "alice")
    assert {slug: len(events) for slug, events in bookings_by_member(emulator).items()} == \
        {"alice": 1, "bob": 0, "carol": 0}


def test_a_visitor_at_a_members_limit_cannot_book_through_the_team(emulator: Any, tmp_path: Any) -> None:
    from shared.runtime import set_runtime
    from tests.helpers.support import make_config, make_runtime
    from tests.helpers.team_support import TRIO

    clear_members(emulator)
    limit = {"# future_bookings_per_visitor = 3": "future_bookings_per_visitor = 1"}
    set_runtime(make_runtime(emulator, config=make_config(emulator, tmp_path, replace={**TRIO, **limit})))
    try:
        client = function_app("booking").test_client()
        start = at(workday(weekdays=THURSDAY), 15)
        assert client.post("/bookings", json=team_body("alice", start)).status_code == 201
        response = client.post("/bookings", json=team_body("trio", start + timedelta(hours=1)))
        assert response.status_code == 429, response.get_json()
        assert response.get_json()["error"]["details"]["limit"] == "future_bookings_per_visitor"
        other = client.post("/bookings", json=team_body("trio", start, email="new@visitor.test"))
        assert other.status_code == 201 and other.get_json()["booking"]["calendar"] == "bob"
    finally:
        set_runtime(None)


def test_team_slots_and_bookings_read_the_fresh_snapshot(emulator: Any, tmp_path: Any) -> None:
    from shared.runtime import set_runtime
    from shared.sync import AvailabilitySync
    from tests.helpers.support import clear_log, round_trips

    clear_members(emulator)
    runtime = trio_runtime(emulator, tmp_path)
    set_runtime(runtime)
    try:
        client = function_app("booking").test_client()
        start = at(workday(weekdays=THURSDAY), 15)
        AvailabilitySync.from_runtime(runtime).run()
        clear_log(emulator)
        day = start.date()
        assert start in _starts(client, "trio", day, 30)
        assert round_trips(emulator) == 0  # every member's slots from the snapshot
        for n in range(3):  # each member once; what this instance booked since the snapshot counts at once
            assert client.post("/bookings", json=team_body("trio", start, email=f"s{n}@visitor.test")) \
                .status_code == 201
        clear_log(emulator)
        body = client.get(f"/slots?calendar=trio&from={day}&to={day}&duration=30&timezone=Europe/Berlin").get_json()
        assert body["source"] == "snapshot" and round_trips(emulator) == 0
        assert start.isoformat() not in {slot["start"] for slot in body["slots"]}
        response = client.post("/bookings", json=team_body("trio", start, email="late@visitor.test"))
        # Busy by this instance's own memory only (it may have outlived a cancellation): each member asked once live,
        # as a personal booking does (shared/booking/rules.py).
        assert response.status_code == 409 and round_trips(emulator) == 3
    finally:
        set_runtime(None)


def test_a_collective_team_with_an_unreadable_member_offers_and_books_nothing(trio_client: Any, emulator: Any) -> None:
    day = workday(weekdays=THURSDAY)
    assert _starts(trio_client, "review", day, 60)
    state = emulator.emulator.state
    with state.lock:  # Alice's calendar answers free/busy with `notFound` from now on
        state.calendars[MEMBERS["alice"]].acl.clear()
    assert _starts(trio_client, "review", day, 60) == set()
    response = trio_client.post("/bookings", json=team_body("review", at(day, 15), duration=60))
    assert response.status_code == 409, response.get_json()
    assert confirmed_bookings(emulator, MEMBERS["bob"]) == []
