"""The booking page books a team like a person, in a real browser (tests/browser/test_browser.py's stack and helpers):
a round-robin team books one free member and says which; a collective team books one event with every member
and moves to a time every member is free."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import CONFIRMED, Stack, fill_details, is_booking_post, open_booking_page, page, stack
from tests.helpers.browser_support import events_starting_at

pytestmark = pytest.mark.browser
__all__ = ["page", "stack"]  # the fixtures, shared with tests/browser/test_browser.py

MEMBER_IDS = {"alice": "alice@example.com", "bob": "bob@example.com"}


def _book_first_slot(page: Any, team: str, duration: str) -> dict[str, Any]:
    page.get_by_role("radio", name=re.compile(team)).check()
    expect(page.locator("[data-ref=typeGroup]")).to_be_hidden()  # a team has no meeting types
    page.get_by_role("radio", name=duration).check()
    page.locator("button.cb-day:not([disabled])").first.click()
    slot = page.locator("button.cb-slot").first
    expect(slot).to_be_visible()
    slot.click()
    fill_details(page, "Tess Team", "tess@visitor.test")
    expect(page.locator(".cb-summary")).to_contain_text(f"with {team}")
    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    assert answer.value.status == 201, answer.value.json()
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    return dict(answer.value.json()["booking"])


def test_books_a_round_robin_team_and_names_the_member(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    expect(page.locator("label", has_text="Sales")).to_contain_text("Whoever is free")
    booking = _book_first_slot(page, "Sales", "30 min")
    assert booking["team"] == "sales" and booking["calendar"] in MEMBER_IDS
    name = {"alice": "Alice Example", "bob": "Bob Example"}[booking["calendar"]]
    expect(page.locator(".cb-result")).to_contain_text(f"with {name} (Sales)")
    [event] = events_starting_at(stack.emulator, MEMBER_IDS[booking["calendar"]], booking["start"])
    assert event["id"] == booking["id"] and event["extendedProperties"]["private"]["wcbTeam"] == "sales"
    expect(page.get_by_role("button", name="Reschedule")).to_be_visible()
    page.get_by_role("button", name="Cancel this booking").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_focused()
    assert events_starting_at(stack.emulator, MEMBER_IDS[booking["calendar"]], booking["start"]) == []


def test_books_a_collective_team_with_every_member(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    expect(page.locator("label", has_text="Plan review")).to_contain_text("Both together")
    booking = _book_first_slot(page, "Plan review", "60 min")
    assert (booking["team"], booking["calendar"]) == ("review", "bob")
    expect(page.locator(".cb-result")).to_contain_text("with Plan review (Alice Example, Bob Example)")
    [event] = events_starting_at(stack.emulator, MEMBER_IDS["bob"], booking["start"])
    assert [a["email"] for a in event["attendees"]][:1] == [MEMBER_IDS["alice"]]
    [copy] = events_starting_at(stack.emulator, MEMBER_IDS["alice"], booking["start"])
    assert copy["id"] == booking["id"]  # Google's copy in Alice's calendar
    page.get_by_role("button", name="Reschedule").click()  # from the team's slots: every member free
    expect(page.get_by_role("heading", name="Reschedule your meeting with Plan review")).to_be_focused()
    new_slot = page.locator("button.cb-slot").first
    new_start = new_slot.get_attribute("data-start") or ""
    new_slot.click()
    with page.expect_response(lambda r: r.request.method == "PATCH" and "/booking/bookings/" in r.url) as moved:
        page.get_by_role("button", name="Move to this time").click()
    assert moved.value.status == 200, moved.value.json()
    expect(page.get_by_role("heading", name="Your booking is moved")).to_be_focused()
    new_id = moved.value.json()["booking"]["id"]
    assert events_starting_at(stack.emulator, MEMBER_IDS["bob"], booking["start"]) == []
    for calendar_id in MEMBER_IDS.values():  # the organizer's event and Alice's copy, at the new time
        assert [e["id"] for e in events_starting_at(stack.emulator, calendar_id, new_start)] == [new_id]
    page.get_by_role("button", name="Cancel this booking").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_focused()
    assert events_starting_at(stack.emulator, MEMBER_IDS["alice"], new_start) == []
