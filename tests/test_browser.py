"""The booking page in a real browser: Debian's chromium, headless, driven by Playwright, on the local stack.

The stack runs in-process on free ports: the emulator (reset to the demo domain for each test), the booking
function configured against it, and the gateway serving the function at /booking and the page at /.
The visitor's browser is in New York while Alice's calendar is in Berlin, so every time the page shows is converted.
If chromium is missing these tests fail (never skip): run scripts/install-browser.sh.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import (
    ARTIFACTS,
    DEEP_FOCUS_JS,
    Gateway,
    calendar_events,
    events_starting_at,
    launched_browser,
    serve_gateway,
)
from tests.pinned_time import current_clock

pytestmark = pytest.mark.browser

VISITOR_ZONE = "America/New_York"
VISITOR_ZONE_SHOWN = "New York \u2014 Eastern Time"
ALICE = "alice@example.com"
TAKEN = "That time was just taken \u2014 please pick another"
CONFIRMED = "You\u2019re booked"
UNAVAILABLE = "The booking service is not available right now"
INVALID = "Please check the highlighted fields"
EMAIL_HINT = "Enter a valid email address, such as name@example.com."


@dataclass
class Stack:
    url: str
    emulator: Any

    def book_via_api(self, start: str, email: str) -> requests.Response:
        return requests.post(
            f"{self.url}/booking/bookings",
            json={"calendar": "alice", "start": start, "duration": 30, "name": "Someone Else", "email": email},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=15,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gateway = serve_gateway()
    yield gateway
    gateway.stop()


@pytest.fixture
def stack(installed_runtime: Any, emulator: Any, gateway: Gateway) -> Stack:
    """The gateway, with the booking function's runtime pointed at this test's fresh demo emulator."""
    return Stack(gateway.url, emulator)


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(
        locale="en-GB", timezone_id=VISITOR_ZONE, viewport={"width": 1000, "height": 900}, reduced_motion="reduce"
    )
    # The page's "today" is the browser's: the same pinned instant as the functions' and the emulator's clocks.
    context.clock.set_fixed_time(current_clock().now())
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # 4xx answers are part of these tests; the browser logs each as "Failed to load resource".
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    yield page
    context.close()
    assert not problems, problems


def open_booking_page(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/")
    expect(page.locator("button.cb-slot").first).to_be_visible()
    expect(page.get_by_label("Times are shown in")).to_have_value(VISITOR_ZONE)


def choose_alice_30(page: Any) -> None:
    page.get_by_role("radio", name=re.compile("Alice Example")).check()
    page.get_by_role("radio", name="30 min").check()
    page.locator("button.cb-day:not([disabled])").first.click()
    expect(page.locator("button.cb-day:not([disabled])").first).to_have_attribute("aria-pressed", "true")


def fill_details(page: Any, name: str, email: str, notes: str | None = None) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    if notes is not None:
        page.get_by_label("Notes (optional)").fill(notes)


def focused(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(DEEP_FOCUS_JS) or {})


def is_booking_post(response: Any) -> bool:
    return bool(response.request.method == "POST" and response.url.endswith("/booking/bookings"))


def test_books_a_slot_end_to_end_and_cancels_it(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    choose_alice_30(page)
    slot = page.locator("button.cb-slot").first
    start = slot.get_attribute("data-start")
    assert start and start.endswith("-05:00"), f"slots are not in the visitor's zone: {start}"
    slot.click()
    expect(slot).to_have_attribute("aria-pressed", "true")
    fill_details(page, "Ada Lovelace", "ada@visitor.test", "<b>Agenda</b>: the engine")
    expect(page.locator(".cb-summary")).to_contain_text("with Alice Example")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "booking-page.png"), full_page=True)

    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    response = answer.value
    body = response.json()
    assert response.status == 201, (
        f"booking the first slot that /slots offered ({start}) was refused: {response.status} {body}"
    )
    key = response.request.headers.get("idempotency-key", "")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key), key
    booking = body["booking"]

    heading = page.get_by_role("heading", name=CONFIRMED)
    expect(heading).to_be_focused()
    result = page.locator(".cb-result")
    expect(result).to_contain_text("with Alice Example")
    expect(result).to_contain_text(f"({VISITOR_ZONE_SHOWN})")  # friendly names, not IANA ids
    expect(result).to_contain_text(re.compile(r"That is \d{1,2}:\d\d for Alice Example \(Berlin \u2014 Central European Time\)"))
    expect(result).to_contain_text(booking["id"])
    manage_link = page.get_by_role("link", name="manage this booking").get_attribute("href") or ""
    assert f"#booking={booking['id']}&token=" in manage_link, manage_link
    page.screenshot(path=str(ARTIFACTS / "booking-confirmed.png"), full_page=True)

    events = events_starting_at(stack.emulator, ALICE, start)
    assert [event["id"] for event in events] == [booking["id"]], calendar_events(stack.emulator, ALICE)
    event = events[0]
    assert event["summary"] == "Meeting with Ada Lovelace"
    assert [attendee["email"] for attendee in event.get("attendees", [])] == ["ada@visitor.test"]
    assert "&lt;b&gt;Agenda&lt;/b&gt;" in event["description"]

    page.get_by_role("button", name="Cancel this booking").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_focused()
    expect(page.get_by_role("button", name="Cancel this booking")).to_be_hidden()
    assert events_starting_at(stack.emulator, ALICE, start) == []
    assert [e["id"] for e in events_starting_at(stack.emulator, ALICE, start, status="cancelled")] == [booking["id"]]

    later = page.context.new_page()  # the "manage this booking" link, opened later: it shows the booking's state
    later.goto(manage_link)
    expect(later.get_by_role("heading", name="This booking is cancelled")).to_be_visible()
    expect(later.locator(".cb-result")).to_contain_text(booking["id"])


def test_slot_taken_meanwhile_shows_message_and_refreshes(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    choose_alice_30(page)
    offered = [s for s in page.locator("button.cb-slot").evaluate_all("els => els.map(e => e.dataset.start)") if s]
    taken = None
    for start in offered:  # another visitor books one of the times this page shows, through the API
        if stack.book_via_api(start, "first@visitor.test").status_code == 201:
            taken = start
            break
    assert taken, f"the API booked none of the slots the page offered: {offered}"

    slot = page.locator(f'button.cb-slot[data-start="{taken}"]')
    slot.click()
    fill_details(page, "Late Comer", "late@visitor.test")
    slot_requests: list[str] = []
    page.on("request", lambda request: slot_requests.append(request.url) if "/booking/slots?" in request.url else None)
    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    assert answer.value.status == 409

    expect(page.get_by_role("heading", name=TAKEN)).to_be_focused()
    expect(page.locator(f'button.cb-slot[data-start="{taken}"]')).to_have_count(0)
    expect(page.locator("button.cb-slot").first).to_be_visible()
    assert slot_requests, "the slots were not fetched again after the 409"
    expect(page.locator(".cb-summary")).to_have_text("Pick a day and a time.")
    winners = events_starting_at(stack.emulator, ALICE, taken)
    assert len(winners) == 1 and winners[0]["summary"] == "Meeting with Someone Else"


def test_keyboard_only_booking_and_a_server_validation_error(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    passed: list[dict[str, Any]] = []
    for _ in range(15):
        page.keyboard.press("Tab")
        passed.append(focused(page))
        if passed[-1].get("start"):
            break
    assert passed[-1].get("start"), f"Tab never reached a time: {passed}"
    assert any(f.get("name") == "calendar" for f in passed), passed
    assert any(f.get("name") == "duration" for f in passed), passed
    assert sum(1 for f in passed if f.get("date")) == 1, "the days must be one tab stop (arrow keys inside)"

    first = passed[-1]["start"]
    page.keyboard.press("ArrowRight")
    second = focused(page)["start"]
    assert second and second > first
    page.keyboard.press("Enter")
    expect(page.locator(f'button.cb-slot[data-start="{second}"]')).to_have_attribute("aria-pressed", "true")

    page.keyboard.press("Tab")
    assert focused(page)["id"] == "cb-name"
    page.keyboard.type("Grace Hopper")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "cb-email"
    page.keyboard.type("grace@localhost")  # the browser's email rule accepts it; the server's does not
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "cb-notes"
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Book this time"
    with page.expect_response(is_booking_post) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 400

    expect(page.get_by_role("heading", name=INVALID)).to_be_focused()
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(EMAIL_HINT)
    expect(page.locator("#cb-email-error")).to_have_text(EMAIL_HINT)
    assert not [e for e in calendar_events(stack.emulator, ALICE) if e["id"].startswith("b")]

    page.keyboard.press("Tab")  # to the link in the error summary, which leads to the field
    assert focused(page)["text"].startswith("Email:")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "cb-email"
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("grace@visitor.test")
    expect(email).not_to_have_attribute("aria-invalid", "true")
    with page.expect_response(is_booking_post) as answer:
        page.keyboard.press("Enter")  # implicit submission from the field
    assert answer.value.status == 201
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    assert len(events_starting_at(stack.emulator, ALICE, second)) == 1


def test_lost_answer_is_retried_with_the_same_key_and_books_once(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    choose_alice_30(page)
    slot = page.locator("button.cb-slot").nth(1)
    start = slot.get_attribute("data-start")
    slot.click()
    fill_details(page, "Retry Visitor", "retry@visitor.test")

    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the booking is made, but the answer never arrives
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/booking/bookings$"), lose_first_answer)
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name=UNAVAILABLE)).to_be_focused()
    expect(page.locator(".cb-notice")).to_contain_text("trying again will never book twice")

    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Try again").click()
    assert answer.value.status in (200, 201)
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0], keys
    assert len(events_starting_at(stack.emulator, ALICE, start)) == 1
