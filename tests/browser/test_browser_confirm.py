"""The booking page's answers added by issue 13, in a real browser: with email confirmation on
(booking.confirm_email) a booking is pending until the visitor confirms it through the invitation's link, and
only a press of the page's button confirms; a request booked already from another connection is shown as booked."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import test_browser as ui
from tests.browser.test_browser import (
    ALICE,
    CONFIRMED,
    Stack,
    choose_alice_30,
    fill_details,
    is_booking_post,
    open_booking_page,
)

stack, page = ui.stack, ui.page  # the page's fixtures: the local stack and a visitor's browser page

pytestmark = pytest.mark.browser

CONFIRM_LINK = re.compile(r"http://[^\s#]+#(booking=[a-v0-9]+&token=[A-Za-z0-9_.-]+&action=confirm)")


def test_a_pending_booking_is_confirmed_from_the_invitation_link(page: Any, stack: Stack, tmp_path: Any) -> None:
    from tests.helpers.security_support import install

    install(stack.emulator, tmp_path, {"invite_visitor = true": "invite_visitor = true\nconfirm_email = true"})
    open_booking_page(page, stack)
    choose_alice_30(page)
    page.locator("button.cb-slot").first.click()
    fill_details(page, "Pia Pending", "pia@visitor.test")
    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    assert answer.value.status == 202
    booking_id = answer.value.json()["booking"]["id"]
    expect(page.get_by_role("heading", name="Check your email to confirm")).to_be_focused()
    result = page.locator(".cb-result")
    expect(result).to_contain_text("Google Calendar sent an invitation to pia@visitor.test")
    expect(result).to_contain_text("\u201cConfirm\u201d link by")
    expect(page.get_by_role("button", name="Reschedule")).to_be_hidden()

    event = stack.emulator.emulator.state.calendars[ALICE].events[booking_id]
    link = CONFIRM_LINK.search(html.unescape(event["description"]))
    assert link, event["description"]
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto("about:blank")  # the link opens the page afresh, as from a mail
    page.goto(f"{stack.url}/#{link.group(1)}")  # what a mail scanner opening the link also does
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_focused()
    assert posts == [] and stack.emulator.emulator.state.calendars[ALICE].events[booking_id]["status"] == "tentative"
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/confirm")) as confirmed:
        page.get_by_role("button", name="Confirm booking").click()
    assert confirmed.value.status == 200
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    assert stack.emulator.emulator.state.calendars[ALICE].events[booking_id]["status"] == "confirmed"


def test_the_same_request_booked_from_another_connection_is_shown_as_booked(page: Any, stack: Stack) -> None:
    """A phone that changed networks retries and hears 409 `request_already_booked` (the API's answer is stood in
    for here: the page cannot change its address): it shows the booking as booked, without the manage buttons,
    and does not send the visitor back to pick another time."""
    open_booking_page(page, stack)
    choose_alice_30(page)
    slot = page.locator("button.cb-slot").first
    start = slot.get_attribute("data-start")
    assert start
    made = stack.book_via_api(start, "pia@visitor.test").json()["booking"]
    answer = {"error": {"code": "request_already_booked", "message": "This request was booked already.",
                        "details": {"booking": made, "token": "withheld"}}}
    page.route("**/booking/bookings", lambda route: route.fulfill(status=409, json=answer))
    slot.click()
    fill_details(page, "Pia Pending", "pia@visitor.test")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    expect(page.locator(".cb-result")).to_contain_text(f"Booking reference: {made['id']}")
    expect(page.get_by_role("button", name="Cancel this booking")).to_be_hidden()
    expect(page.get_by_role("button", name="Reschedule")).to_be_hidden()
