"""The invitation the visitor receives: title and description from config templates, manage links that only the
visitor's copy can use, meeting types, and where the invitation went (shared/invitation.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.config import ConfigError, parse_config
from tests.helpers.booking_support import (
    assert_matches_openapi,
    at,
    booking_body,
    clear_events,
    confirmed_bookings,
    span,
    workday,
)
from tests.helpers.function_app import function_app
from tests.helpers.support import config_text, make_config, make_runtime

NEW_YORK = ZoneInfo("America/New_York")
VISITOR = "vera@visitor.test"
LINK = re.compile(r"(http://[^\s]+)#booking=([a-v0-9]+)&token=([A-Za-z0-9_.-]+)&action=(cancel|reschedule)")


def links(event: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The manage links in an event's description: action -> (booking id, token)."""
    text = html.unescape(event["description"])
    return {m.group(4): (m.group(2), m.group(3)) for m in LINK.finditer(text)}


@pytest.fixture
def client_with(emulator: Any, tmp_path: Any) -> Iterator[Any]:
    """A booking client whose config is the example's with some text replaced."""
    from shared.runtime import set_runtime

    def make(replace: dict[str, str]) -> Any:
        set_runtime(make_runtime(emulator, config=make_config(emulator, tmp_path / "snap", replace=replace)))
        return function_app("booking").test_client()

    yield make
    set_runtime(None)


def book(client: Any, **extra: Any) -> dict[str, Any]:
    response = client.post("/bookings", json=booking_body(at(workday(), 10), **extra))
    assert response.status_code == 201, response.get_json()
    assert_matches_openapi(response, "/bookings", "POST")
    return dict(response.get_json())


def test_the_title_and_description_come_from_the_templates(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    book(booking_client, name="Ada <b>Lovelace</b>", notes="<script>x</script> & more")
    [event] = confirmed_bookings(emulator)
    # example.toml: title_template = "{meeting_type} with {employee} ({company}): {visitor}"; alice's first type
    assert event["summary"] == "Introductory call with Alice Example (Example Inc.): Ada <b>Lovelace</b>"
    description = event["description"]
    assert description.startswith("Introductory call with Alice Example (Example Inc.), booked through the website.")
    assert "A first conversation about your project." in description
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in description and "<script>" not in description
    assert "Name: Ada &lt;b&gt;Lovelace&lt;/b&gt;" in description
    assert event["visibility"] == "private"


def test_default_title_names_type_employee_company_and_visitor(client_with: Any, emulator: Any) -> None:
    clear_events(emulator)
    client = client_with({'title_template = "{meeting_type} with {employee} ({company}): {visitor}"\n': ""})
    book(client)
    [event] = confirmed_bookings(emulator)
    assert event["summary"] == "Introductory call between Alice Example (Example Inc.) and Vera Visitor"


def test_without_types_or_company_the_defaults_read_like_calendly(client_with: Any, emulator: Any) -> None:
    clear_events(emulator, "bob@example.com")
    client = client_with({
        'title_template = "{meeting_type} with {employee} ({company}): {visitor}"\n': "",
        'company_name = "Example Inc."\n': "",
    })
    start = at(workday(zone=NEW_YORK), 10, zone=NEW_YORK)
    response = client.post("/bookings", json=booking_body(start, calendar="bob", duration=15))
    assert response.status_code == 201, response.get_json()
    [event] = confirmed_bookings(emulator, "bob@example.com")
    assert event["summary"] == "15 Minute Meeting between Bob Example and Vera Visitor"
    assert event["description"].startswith("15 Minute Meeting with Bob Example, booked through the website.")
    assert "wcbType" not in event["extendedProperties"]["private"]


def test_the_invitation_links_act_on_this_booking_only(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    answer = book(booking_client)
    [event] = confirmed_bookings(emulator)
    found = links(event)
    assert set(found) == {"cancel", "reschedule"}
    booking_id, token = found["cancel"]
    assert booking_id == answer["booking"]["id"] and found["reschedule"] == found["cancel"]
    assert LINK.search(html.unescape(event["description"])).group(1) == "http://127.0.0.1:8080/"  # type: ignore[union-attr]
    # the link's token is a capability for this booking: it cancels it (the page sends this DELETE on confirm)
    cancelled = booking_client.delete(f"/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"})
    assert cancelled.status_code == 200 and cancelled.get_json()["booking"]["status"] == "cancelled"
    other = book(booking_client, email="otto@visitor.test")
    refused = booking_client.delete(f"/bookings/{other['booking']['id']}", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403


def test_without_manage_url_the_description_has_no_links(client_with: Any, emulator: Any) -> None:
    clear_events(emulator)
    book(client_with({'manage_url = "http://127.0.0.1:8080/"\n': ""}))
    [event] = confirmed_bookings(emulator)
    assert links(event) == {} and "Manage this booking" not in event["description"]


def test_a_move_rotates_the_links_and_says_rescheduled(booking_client: Any, emulator: Any) -> None:
    """Under the claims protocol a move writes a new event and cancels the old one: the visitor receives the old
    event's cancellation and Google's update of the new one (the new event reaches them through the patch that
    announces it), whose description says it was rescheduled and carries links with the new token."""
    clear_events(emulator)
    answer = book(booking_client)
    old_id, old_token = answer["booking"]["id"], answer["token"]
    emulator.emulator.state.mailbox.clear()
    new_start = at(workday(), 15)
    moved = booking_client.patch(f"/bookings/{old_id}", json={"start": new_start.isoformat()},
                                 headers={"Authorization": f"Bearer {old_token}"})
    assert moved.status_code == 200, moved.get_json()
    assert_matches_openapi(moved, "/bookings/{id}", "PATCH")
    [event] = confirmed_bookings(emulator)
    assert span(event)[0] == new_start.astimezone(UTC)
    new_id, new_token = links(event)["cancel"]
    assert new_id == event["id"] != old_id and new_token != old_token and old_token not in event["description"]
    assert event["description"].startswith("Rescheduled: this replaces the booking of ")
    assert "10:00 (Europe/Berlin)" in event["description"].partition("\n")[0]
    assert event["description"].count("Manage this booking:") == 1 and event["visibility"] == "private"
    assert event["summary"] == "Introductory call with Alice Example (Example Inc.): Vera Visitor"
    mail = [(m["kind"], m["eventId"]) for m in emulator.emulator.state.mailbox if m["to"] == VISITOR]
    assert sorted(mail) == sorted([("cancellation", old_id), ("update", new_id)])
    # the old link now reads only the old booking, cancelled and pointing at the new one; it cannot act on the new
    old = booking_client.get(f"/bookings/{old_id}", headers={"Authorization": f"Bearer {old_token}"}).get_json()
    assert old["booking"]["status"] == "cancelled" and old["booking"]["movedTo"] == new_id
    assert booking_client.delete(f"/bookings/{new_id}",
                                 headers={"Authorization": f"Bearer {old_token}"}).status_code == 403
    again = booking_client.patch(f"/bookings/{new_id}", json={"start": at(workday(), 16).isoformat()},
                                 headers={"Authorization": f"Bearer {new_token}"})
    assert again.status_code == 200, again.get_json()
    [latest] = confirmed_bookings(emulator)
    assert latest["description"].count("Rescheduled:") == 1 and "15:00 (Europe/Berlin)" in latest["description"]


def test_the_answer_says_where_the_invitation_went(booking_client: Any, emulator: Any, tmp_path: Any) -> None:
    from tests.helpers.security_support import install

    clear_events(emulator)
    install(emulator, tmp_path, {'company_visitors = "refuse"': 'company_visitors = "allow"'})  # booked, uninvited
    answer = book(booking_client)
    assert answer["booking"]["invitation"] == {"sent": True, "to": VISITOR}
    assert [m["to"] for m in emulator.emulator.state.mailbox if m["kind"] == "invitation"] == [VISITOR]
    emulator.emulator.state.mailbox.clear()
    colleague = booking_client.post("/bookings", json=booking_body(at(workday(), 14), email="dave@example.com"))
    assert colleague.status_code == 201
    assert colleague.get_json()["booking"]["invitation"] == {
        "sent": False, "to": "dave@example.com", "reason": "company_domain"
    }
    assert emulator.emulator.state.mailbox == []
    looked_up = booking_client.get(f"/bookings/{answer['booking']['id']}",
                                   headers={"Authorization": f"Bearer {answer['token']}"}).get_json()
    assert looked_up["booking"]["invitation"]["sent"] is True


def test_calendars_list_meeting_types(booking_client: Any) -> None:
    response = booking_client.get("/calendars")
    assert_matches_openapi(response, "/calendars", "GET")
    calendars = {c["id"]: c for c in response.get_json()["calendars"]}
    assert [t["id"] for t in calendars["alice"]["meetingTypes"]] == ["intro", "workshop", "video"]
    intro, workshop, video = calendars["alice"]["meetingTypes"]
    assert intro == {"id": "intro", "name": "Introductory call", "durations": [30, 60], "meet": False,
                     "description": "A first conversation about your project."}
    assert workshop["durations"] == [60] and workshop["location"].startswith("Example Inc.")
    assert video["meet"] is True
    assert calendars["bob"]["meetingTypes"] == []


def test_a_meeting_type_sets_location_meet_and_durations(booking_client: Any, emulator: Any) -> None:
    clear_events(emulator)
    workshop = booking_client.post("/bookings", json=booking_body(at(workday(), 10), duration=60, type="workshop"))
    assert workshop.status_code == 201, workshop.get_json()
    video = booking_client.post("/bookings", json=booking_body(at(workday(), 14), type="video"))
    assert video.status_code == 201, video.get_json()
    assert video.get_json()["booking"]["meetLink"].startswith("https://meet.google.com/")
    events = {e["id"]: e for e in confirmed_bookings(emulator)}
    placed = events[workshop.get_json()["booking"]["id"]]
    assert placed["location"] == "Example Inc., Hauptstrasse 1, Berlin"
    assert placed["summary"].startswith("On-site workshop with Alice Example")
    assert placed["extendedProperties"]["private"]["wcbType"] == "workshop"
    assert "conferenceData" not in placed
    wrong = booking_client.post("/bookings", json=booking_body(at(workday(), 16), type="workshop"))
    assert wrong.status_code == 400 and "duration" in wrong.get_json()["error"]["details"]["fields"]
    unknown = booking_client.post("/bookings", json=booking_body(at(workday(), 16), type="lunch"))
    assert unknown.status_code == 400 and "workshop" in unknown.get_json()["error"]["message"]
    # a move keeps the type: its durations still apply
    moved = booking_client.patch(f"/bookings/{workshop.get_json()['booking']['id']}",
                                 json={"start": at(workday(), 15).isoformat(), "duration": 30},
                                 headers={"Authorization": f"Bearer {workshop.get_json()['token']}"})
    assert moved.status_code == 400 and "workshop" in moved.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{visitor.__class__}", "unknown placeholder {visitor.__class__}"),
        ("{nobody}", "unknown placeholder {nobody}"),
        ("{visitor!r}", "takes no format spec or conversion"),
        ("{visitor:>99}", "takes no format spec or conversion"),
        ("Meeting {", "write {{ or }} for a brace"),
    ],
)
def test_bad_templates_are_config_problems(emulator: Any, template: str, expected: str) -> None:
    text = config_text(emulator, replace={
        '"{meeting_type} with {employee} ({company}): {visitor}"': f'"{template}"',
    })
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test config")
    [problem] = error.value.problems
    assert problem.path == "booking.title_template" and expected in problem.message


def test_meeting_type_problems_are_listed(emulator: Any) -> None:
    text = config_text(emulator, replace={
        'slug = "video"': 'slug = "intro"',
        "durations = [60]\ndescription": "durations = [90]\ndescription",
        'manage_url = "http://127.0.0.1:8080/"': 'manage_url = "http://127.0.0.1:8080/#x"',
    })
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test config")
    problems = {p.path: p.message for p in error.value.problems}
    assert "already meeting_types[0]" in problems["calendars[0].meeting_types[2].slug"]
    assert "[90] not among the calendar's durations [30, 60]" in problems["calendars[0].meeting_types[1].durations"]
    assert "without a \"#\" part" in problems["booking.manage_url"]


def test_with_invitations_off_the_answer_says_none_was_sent(client_with: Any, emulator: Any) -> None:
    clear_events(emulator)
    answer = book(client_with({"invite_visitor = true": "invite_visitor = false"}))
    assert answer["booking"]["invitation"] == {"sent": False, "to": VISITOR, "reason": "disabled"}
    [event] = confirmed_bookings(emulator)
    assert "attendees" not in event and emulator.emulator.state.mailbox == []
