"""The booking page in a real browser: Debian's chromium, headless, driven by Playwright, on the local stack.

The stack runs in-process on free ports: the emulator (reset to the demo domain for each test), the booking
function configured against it, and the gateway serving the function at /booking and the page at /.
The visitor's browser is in New York while Alice's calendar is in Berlin, so every time the page shows is converted.
If chromium is missing these tests fail (never skip): run scripts/install-browser.sh.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from tests.helpers.browser_support import (
    ARTIFACTS,
    DEEP_FOCUS_JS,
    Gateway,
    axe_source,
    calendar_events,
    events_starting_at,
)
from tests.helpers.pinned_time import current_clock

pytestmark = pytest.mark.browser

VISITOR_ZONE = "America/New_York"
VISITOR_ZONE_SHOWN = "New York \u2014 Eastern Time"
ALICE = "alice@example.com"
TAKEN = "That time was just taken \u2014 please pick another"
CONFIRMED = "You\u2019re booked"
UNAVAILABLE = "The booking service is not available right now"
INVALID = "Please check the highlighted fields"
EMAIL_HINT = "Enter a valid email address, such as name@example.com."
DESKTOP = {"width": 1000, "height": 900}
PHONE = {"width": 390, "height": 844}


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


@pytest.fixture
def stack(installed_runtime: Any, emulator: Any, gateway: Gateway) -> Stack:
    """The gateway, with the booking function's runtime pointed at this test's fresh demo emulator."""
    return Stack(gateway.url, emulator)


def _allow_company_visitors(stack: Stack, tmp_path: Any) -> None:
    """Company addresses booked without an invitation (issue 13 refuses them by default)."""
    from tests.helpers.security_support import install

    install(stack.emulator, tmp_path, {'company_visitors = "refuse"': 'company_visitors = "allow"'})


@contextmanager
def visitor_page(
    browser: Any, *, zone: str = VISITOR_ZONE, phone: bool = False, locale: str = "en-GB"
) -> Iterator[Any]:
    """A fresh browser context (desktop, or a 390x844 touch phone) in `zone`; page errors fail the test."""
    size = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {"viewport": DESKTOP}
    context = browser.new_context(locale=locale, timezone_id=zone, reduced_motion="reduce", **size)
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


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    with visitor_page(browser) as page:
        yield page


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
    assert start and in_zone(start, VISITOR_ZONE), f"slots are not in the visitor's zone: {start}"
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
    berlin = "Berlin \u2014 Central European Time"
    expect(result).to_contain_text(re.compile(rf"That is \d{{1,2}}:\d\d for Alice Example \({berlin}\)"))
    expect(result).to_contain_text(booking["id"])
    manage_link = page.get_by_role("link", name="manage this booking").get_attribute("href") or ""
    assert f"#booking={booking['id']}&token=" in manage_link, manage_link
    page.screenshot(path=str(ARTIFACTS / "booking-confirmed.png"), full_page=True)

    events = events_starting_at(stack.emulator, ALICE, start)
    assert [event["id"] for event in events] == [booking["id"]], calendar_events(stack.emulator, ALICE)
    event = events[0]
    assert event["summary"] == "Introductory call with Alice Example (Example Inc.): Ada Lovelace"
    assert [attendee["email"] for attendee in event.get("attendees", [])] == ["ada@visitor.test"]
    assert "&lt;b&gt;Agenda&lt;/b&gt;" in event["description"]
    expect(result).to_contain_text("An invitation was sent to ada@visitor.test from Google Calendar.")
    expect(result).to_contain_text("Introductory call")
    ics = ics_text(page)
    assert "BEGIN:VEVENT" in ics and f"UID:{booking['id']}@calendar-booking" in ics, ics
    assert f"DTSTART:{datetime.fromisoformat(start).astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}" in ics, ics
    assert "SUMMARY:Introductory call with Alice Example" in ics and "\r\n" in ics

    page.get_by_role("button", name="Cancel this booking").click()  # asks first
    expect(page.get_by_role("heading", name="Cancel this booking?")).to_be_focused()
    assert len(events_starting_at(stack.emulator, ALICE, start)) == 1
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_focused()
    expect(page.get_by_role("button", name="Cancel this booking")).to_be_hidden()
    assert events_starting_at(stack.emulator, ALICE, start) == []
    assert [e["id"] for e in events_starting_at(stack.emulator, ALICE, start, status="cancelled")] == [booking["id"]]

    later = page.context.new_page()  # the "manage this booking" link, opened later: it shows the booking's state
    later.goto(manage_link)
    expect(later.get_by_role("heading", name="This booking is cancelled")).to_be_visible()
    expect(later.locator(".cb-result")).to_contain_text(booking["id"])


def ics_text(page: Any) -> str:
    """The .ics file the confirmation offers (made in the page: a blob URL)."""
    link = page.get_by_role("link", name="Add to your calendar (.ics file)")
    expect(link).to_be_visible()
    assert (link.get_attribute("download") or "").endswith(".ics")
    return str(page.evaluate("async (href) => await (await fetch(href)).text()", link.get_attribute("href")))


INVITE_LINK = re.compile(r"(http://[^\s]+)#(booking=[a-v0-9]+&token=[A-Za-z0-9_.-]+&action=(cancel|reschedule))")


def invitation_links(emulator: Any, booking_id: str) -> dict[str, str]:
    """The manage links of a booking's invitation (its event's description), as fragments for this stack's page."""
    event = emulator.emulator.state.calendars[ALICE].events[booking_id]
    text = html.unescape(event["description"])
    return {m.group(3): m.group(2) for m in INVITE_LINK.finditer(text)}


def book_for_links(stack: Stack) -> tuple[dict[str, Any], dict[str, str]]:
    """A booking made through the API at the first free time, and its invitation's links."""
    day = current_clock().now().date()
    slots = requests.get(f"{stack.url}/booking/slots", timeout=15, params={
        "calendar": "alice", "from": day.isoformat(), "to": (day + timedelta(days=30)).isoformat(), "duration": "30",
    }).json()["slots"]
    answer = stack.book_via_api(slots[0]["start"], "linda@visitor.test")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    return body, invitation_links(stack.emulator, body["booking"]["id"])


def test_cancel_from_the_invitation_link_asks_first(page: Any, stack: Stack) -> None:
    booked, links = book_for_links(stack)
    booking_id = booked["booking"]["id"]
    assert set(links) == {"cancel", "reschedule"}
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    page.goto(f"{stack.url}/#{links['cancel']}")  # what a mail scanner opening the link also does
    question = page.get_by_role("heading", name="Cancel this booking?")
    expect(question).to_be_focused()
    expect(page.locator(".cb-confirm")).to_contain_text("with Alice Example is freed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "invitation-cancel-question.png"), full_page=True)
    assert deletes == [] and stack.emulator.emulator.state.calendars[ALICE].events[booking_id]["status"] == "confirmed"
    page.get_by_role("button", name="No, keep it").click()  # changes nothing either
    expect(page.get_by_role("button", name="Cancel this booking")).to_be_focused()
    page.get_by_role("button", name="Cancel this booking").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as cancelled:
        page.get_by_role("button", name="Yes, cancel it").click()
    assert cancelled.value.status == 200 and len(deletes) == 1
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_focused()
    expect(page.locator(".cb-result")).to_contain_text("Google Calendar sends the cancellation to linda@visitor.test.")
    page.screenshot(path=str(ARTIFACTS / "invitation-cancelled.png"), full_page=True)
    assert stack.emulator.emulator.state.calendars[ALICE].events[booking_id]["status"] == "cancelled"


def test_reschedule_from_the_invitation_link(page: Any, stack: Stack) -> None:
    booked, links = book_for_links(stack)
    old_id = booked["booking"]["id"]
    page.goto(f"{stack.url}/#{links['reschedule']}")
    expect(page.get_by_role("heading", name="Reschedule your meeting with Alice Example")).to_be_focused()
    expect(page.locator(".cb-summary")).to_contain_text("Now: ")
    new_slot = page.locator("button.cb-slot").first  # the booked time is no longer offered
    new_slot.click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "invitation-reschedule.png"), full_page=True)
    with page.expect_response(lambda r: r.request.method == "PATCH" and "/booking/bookings/" in r.url) as moved:
        page.get_by_role("button", name="Move to this time").click()
    assert moved.value.status == 200, moved.value.json()
    body = moved.value.json()
    expect(page.get_by_role("heading", name="Your booking is moved")).to_be_focused()
    expect(page.locator(".cb-result")).to_contain_text("The new time\u2019s invitation was sent to linda@visitor.test")
    page.screenshot(path=str(ARTIFACTS / "invitation-moved.png"), full_page=True)
    new_links = invitation_links(stack.emulator, body["booking"]["id"])
    assert new_links["cancel"] != links["cancel"] and f"booking={body['booking']['id']}&" in new_links["cancel"]
    old = stack.emulator.emulator.state.calendars[ALICE].events[old_id]
    assert old["status"] == "cancelled"
    later = page.context.new_page()  # the old invitation's link now shows only the old, cancelled booking
    later.goto(f"{stack.url}/#{links['reschedule']}")
    expect(later.get_by_role("heading", name="This booking is cancelled")).to_be_visible()
    expect(later.get_by_role("button", name="Reschedule")).to_be_hidden()
    later.close()


def test_meeting_type_choice_and_the_company_domain_notice(page: Any, stack: Stack, tmp_path: Any) -> None:
    _allow_company_visitors(stack, tmp_path)
    open_booking_page(page, stack)
    page.get_by_role("radio", name=re.compile("Alice Example")).check()
    types = page.get_by_role("group", name="What kind of meeting?")
    expect(types.get_by_role("radio")).to_have_count(3)
    expect(page.get_by_role("radio", name=re.compile("Introductory call"))).to_be_checked()
    page.get_by_role("radio", name=re.compile("On-site workshop")).check()
    expect(page.get_by_role("group", name="How long?").get_by_role("radio")).to_have_count(1)
    expect(page.get_by_role("radio", name="60 min")).to_be_checked()
    expect(types).to_contain_text("Hauptstrasse 1")
    page.locator("button.cb-day:not([disabled])").first.click()
    page.locator("button.cb-slot").first.click()
    expect(page.locator(".cb-summary")).to_contain_text("On-site workshop")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "meeting-type.png"), full_page=True)
    fill_details(page, "Dave Colleague", "dave@example.com")
    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    assert answer.value.request.post_data_json["type"] == "workshop"
    body = answer.value.json()
    assert body["booking"]["invitation"] == {"sent": False, "to": "dave@example.com", "reason": "company_domain"}
    result = page.locator(".cb-result")
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()
    expect(result).to_contain_text("No invitation was sent: dave@example.com is an address of the company itself")
    expect(result).to_contain_text("On-site workshop \u00b7 Example Inc., Hauptstrasse 1, Berlin")
    assert "LOCATION:Example Inc.\\, Hauptstrasse 1\\, Berlin" in ics_text(page)
    page.screenshot(path=str(ARTIFACTS / "confirmed-no-invitation.png"), full_page=True)
    event = stack.emulator.emulator.state.calendars[ALICE].events[body["booking"]["id"]]
    assert event["location"] == "Example Inc., Hauptstrasse 1, Berlin" and "attendees" not in event
    assert not [m for m in stack.emulator.emulator.state.mailbox if m["to"] == "dave@example.com"]


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
    assert len(winners) == 1 and winners[0]["summary"].endswith(": Someone Else")


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


# --- time zones, months, phones, rescheduling, accessibility ---------------------------------------------------


def slots_requests(page: Any) -> list[dict[str, str]]:
    """The query of every `GET /booking/slots` the page sends from now on (the list fills as it goes)."""
    seen: list[dict[str, str]] = []

    def record(request: Any) -> None:
        if "/booking/slots?" in request.url:
            seen.append({k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()})

    page.on("request", record)
    return seen


def in_zone(rfc3339: str, zone: str) -> bool:
    """Whether an RFC 3339 time is written with `zone`'s offset at that instant."""
    moment = datetime.fromisoformat(rfc3339)
    return moment.utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset()


def gmt_offset(zone: str) -> str:
    """The browser's short offset name of `zone` at the pinned instant, e.g. "GMT-8" (or "GMT-7" in summer)."""
    offset = current_clock().now().astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return "GMT" if not minutes else f"GMT{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def fits_one_screen(page: Any) -> dict[str, int]:
    size = dict(page.evaluate("() => ({width: document.documentElement.scrollWidth, "
                              "height: document.documentElement.scrollHeight})"))
    assert size["width"] <= PHONE["width"] and size["height"] <= PHONE["height"], f"the step overflows: {size}"
    return size


def test_time_zone_picker_shows_canonical_names_and_reloads_times(browser: Any, stack: Stack) -> None:
    with visitor_page(browser, zone="Asia/Calcutta") as page:  # the id Chromium reports for India
        sent = slots_requests(page)
        page.goto(f"{stack.url}/")
        picker = page.get_by_label("Times are shown in")
        expect(picker).to_have_value("Asia/Kolkata")
        label = picker.locator("option:checked").text_content() or ""
        assert "Kolkata" in label and "(GMT+5:30)" in label and "India" in label, label
        assert picker.locator('option[value="Asia/Calcutta"]').count() == 0, "a legacy id is offered"
        assert picker.locator("option").count() > 300, "the browser's zones are not all offered"
        expect(page.locator("button.cb-slot").first).to_be_visible()
        assert sent[-1]["timezone"] == "Asia/Kolkata", sent
        first_start = page.locator("button.cb-slot").first.get_attribute("data-start") or ""
        assert first_start.endswith("+05:30"), first_start

        picker.select_option("America/Los_Angeles")
        expect(page.locator("button.cb-slot").first).not_to_have_attribute("data-start", first_start)
        assert sent[-1]["timezone"] == "America/Los_Angeles", sent
        assert in_zone(page.locator("button.cb-slot").first.get_attribute("data-start") or "", "America/Los_Angeles")
        pacific = re.compile(rf"^Los Angeles \u2014 Pacific Time \({gmt_offset('America/Los_Angeles')}\)$")
        expect(picker.locator("option:checked")).to_have_text(pacific)
        expect(page.locator(".cb-keys").first).to_be_visible()  # desktop: the keyboard hints are there


def test_month_navigation_reaches_the_horizon_and_stops(page: Any, stack: Stack) -> None:
    sent = slots_requests(page)
    open_booking_page(page, stack)
    horizon = requests.get(f"{stack.url}/booking/calendars", timeout=10).json()["calendars"][0]["horizonDays"]
    today = current_clock().now().astimezone(ZoneInfo(VISITOR_ZONE)).date()
    last = today + timedelta(days=horizon)
    assert sent and sent[0]["from"] == today.isoformat(), sent
    previous = page.get_by_role("button", name="Previous month")
    following = page.get_by_role("button", name="Next month")
    expect(previous).to_be_disabled()
    months = 0
    while following.is_enabled():
        following.click()
        months += 1
        expect(page.locator(".cb-month-name")).to_have_text(re.compile(r"^\w+ \d{4}$"))
        expect(page.locator("ul.cb-days")).not_to_have_attribute("aria-busy", "true")
        assert months <= 13, "next month never stops"
    shown = sent[-1]
    assert shown["to"] == last.isoformat(), f"the last month is not cut at the horizon ({last}): {shown}"
    assert shown["from"] == f"{last:%Y-%m}-01" or shown["from"] == today.isoformat(), shown
    assert months == (last.year - today.year) * 12 + last.month - today.month, (months, today, last)
    expect(page.locator(".cb-month-name")).to_have_text(f"{last:%B %Y}")
    beyond = page.locator(f'button.cb-day[data-date="{last + timedelta(days=1)}"]')
    if beyond.count():
        expect(beyond).to_be_disabled()
    expect(previous).to_be_enabled()
    previous.click()
    expect(page.locator("ul.cb-days")).not_to_have_attribute("aria-busy", "true")
    assert sent[-1]["to"] < shown["from"], "Previous month did not go back"
    expect(following).to_be_enabled()


def test_phone_layout_fits_one_screen_per_step_without_key_hints(browser: Any, stack: Stack) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with visitor_page(browser, phone=True, locale="en-US") as page:  # 12-hour times: the widest buttons
        page.goto(f"{stack.url}/")
        steps = page.locator(".cb-step:visible")
        expect(page.get_by_role("radio", name=re.compile("Alice Example"))).to_be_visible()
        expect(steps).to_have_count(1)
        page.get_by_role("radio", name="30 min").check()
        fits_one_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-1-who.png"))

        page.get_by_role("button", name="Choose a day").click()
        expect(steps).to_have_attribute("data-step", "day")
        day = page.locator("button.cb-day:not([disabled])").first
        expect(day).to_be_visible()
        expect(page.locator("#cb-days-hint")).to_be_hidden()  # no arrow keys to press on a touch screen
        expect(page.get_by_text("Use the arrow keys")).to_have_count(2)
        assert page.get_by_text("Use the arrow keys").evaluate_all("els => els.every(e => e.hidden)")
        assert page.locator("ul.cb-days").get_attribute("aria-describedby") is None
        fits_one_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-2-day.png"))

        day.tap()
        expect(steps).to_have_attribute("data-step", "time")
        slot = page.locator("button.cb-slot").first
        expect(slot).to_be_visible()
        fits_one_screen(page)
        clipped = page.locator("button.cb-slot").evaluate_all(
            "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)")
        assert not clipped, f"times wider than their buttons: {clipped}"
        page.screenshot(path=str(ARTIFACTS / "phone-3-time.png"))

        page.get_by_role("button", name="Back").click()
        expect(steps).to_have_attribute("data-step", "day")
        page.locator("button.cb-day[aria-pressed='true']").tap()
        slot.tap()
        expect(steps).to_have_attribute("data-step", "details")
        fill_details(page, "Phone Visitor", "phone@visitor.test")
        expect(page.locator(".cb-summary")).to_contain_text("with Alice Example")
        fits_one_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-4-details.png"))

        with page.expect_response(is_booking_post) as answer:
            page.get_by_role("button", name="Book this time").tap()
        assert answer.value.status == 201
        expect(page.get_by_role("heading", name=CONFIRMED)).to_be_visible()
        fits_one_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-5-confirmed.png"))

        page.get_by_role("button", name="Reschedule").tap()  # the same steps, from the day on
        expect(steps).to_have_attribute("data-step", "day")
        expect(page.locator("button.cb-day:not([disabled])").first).to_be_visible()
        fits_one_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-6-reschedule-day.png"))
        page.get_by_role("button", name="Back").tap()  # back from the first step: the booking, unchanged
        expect(page.get_by_role("heading", name="Your booking")).to_be_visible()


def test_reschedule_from_the_confirmation_moves_the_booking(page: Any, stack: Stack) -> None:
    open_booking_page(page, stack)
    choose_alice_30(page)
    old_start = page.locator("button.cb-slot").first.get_attribute("data-start") or ""
    page.locator("button.cb-slot").first.click()
    fill_details(page, "Moving Visitor", "moving@visitor.test")
    with page.expect_response(is_booking_post) as answer:
        page.get_by_role("button", name="Book this time").click()
    first = answer.value.json()
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()

    page.get_by_role("button", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Reschedule your meeting with Alice Example")).to_be_focused()
    expect(page.get_by_label("Name", exact=True)).to_be_hidden()  # the same picker, without the details again
    expect(page.get_by_role("radio", name=re.compile("Alice Example"))).to_be_hidden()
    expect(page.locator(".cb-summary")).to_contain_text("Now: ")
    new_slot = page.locator("button.cb-slot").first
    new_start = new_slot.get_attribute("data-start") or ""
    new_slot.click()
    expect(page.locator(".cb-summary")).to_contain_text("New time: ")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "booking-reschedule.png"), full_page=True)

    with page.expect_response(lambda r: r.request.method == "PATCH" and "/booking/bookings/" in r.url) as moved:
        page.get_by_role("button", name="Move to this time").click()
    assert moved.value.status == 200, moved.value.json()
    assert moved.value.request.headers.get("authorization") == f"Bearer {first['token']}"
    body = moved.value.json()
    expect(page.get_by_role("heading", name="Your booking is moved")).to_be_focused()
    expect(page.locator(".cb-result")).to_contain_text(body["booking"]["id"])
    page.screenshot(path=str(ARTIFACTS / "booking-moved.png"), full_page=True)
    assert events_starting_at(stack.emulator, ALICE, old_start) == []
    assert [e["id"] for e in events_starting_at(stack.emulator, ALICE, new_start)] == [body["booking"]["id"]]

    manage_link = page.get_by_role("link", name="manage this booking").get_attribute("href") or ""
    assert f"#booking={body['booking']['id']}&token=" in manage_link, manage_link
    later = page.context.new_page()  # the new manage link shows the moved booking, which can be moved again
    later.goto(manage_link)
    expect(later.get_by_role("heading", name="Your booking")).to_be_visible()
    expect(later.get_by_role("button", name="Reschedule")).to_be_visible()
    later.close()

    page.get_by_role("button", name="Reschedule").click()  # and "Keep the current time" leaves it where it is
    page.get_by_role("button", name="Keep the current time").click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_focused()
    assert len(events_starting_at(stack.emulator, ALICE, new_start)) == 1


AXE_BLOCKING = ("serious", "critical")


def axe_scan(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of serious or critical impact on the page as it is now (open shadow roots included)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [(n["target"], n.get("failureSummary", "")[:300]) for n in v["nodes"]][:5]}
        for v in result if v.get("impact") in AXE_BLOCKING
    ]


def test_accessibility_scan_finds_no_serious_issue(browser: Any, stack: Stack, tmp_path: Any) -> None:
    _allow_company_visitors(stack, tmp_path)  # the scan covers the "no invitation was sent" confirmation
    found: dict[str, list[dict[str, Any]]] = {}
    with visitor_page(browser) as page:
        open_booking_page(page, stack)
        choose_alice_30(page)
        found["desktop: choosing"] = axe_scan(page)
        page.locator("button.cb-slot").first.click()
        page.get_by_role("button", name="Book this time").click()  # empty details: the error summary
        expect(page.get_by_role("heading", name=INVALID)).to_be_visible()
        found["desktop: errors"] = axe_scan(page)
        fill_details(page, "Axe Visitor", "axe@visitor.test")
        page.get_by_role("button", name="Book this time").click()
        expect(page.get_by_role("heading", name=CONFIRMED)).to_be_visible()
        found["desktop: confirmed"] = axe_scan(page)
        page.get_by_role("button", name="Cancel this booking").click()
        expect(page.get_by_role("heading", name="Cancel this booking?")).to_be_visible()
        found["desktop: cancel question"] = axe_scan(page)
        page.get_by_role("button", name="No, keep it").click()
        page.get_by_role("button", name="Reschedule").click()
        expect(page.locator("button.cb-slot").first).to_be_visible()
        found["desktop: rescheduling"] = axe_scan(page)
    with visitor_page(browser) as page:
        open_booking_page(page, stack)
        page.get_by_role("radio", name=re.compile("On-site workshop")).check()
        page.locator("button.cb-day:not([disabled])").first.click()
        page.locator("button.cb-slot").first.click()
        found["desktop: meeting type"] = axe_scan(page)
        fill_details(page, "Axe Colleague", "axe@example.com")
        page.get_by_role("button", name="Book this time").click()
        expect(page.get_by_text("No invitation was sent")).to_be_visible()
        found["desktop: no invitation"] = axe_scan(page)
    with visitor_page(browser, phone=True) as page:
        page.goto(f"{stack.url}/")
        expect(page.get_by_role("radio", name=re.compile("Alice Example"))).to_be_visible()
        found["phone: who"] = axe_scan(page)
        page.get_by_role("button", name="Choose a day").click()
        expect(page.locator("button.cb-day:not([disabled])").first).to_be_visible()
        found["phone: day"] = axe_scan(page)
    assert all(not violations for violations in found.values()), {k: v for k, v in found.items() if v}


def test_a_missing_axe_core_fails_with_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from tests.helpers import browser_support

    monkeypatch.setattr(browser_support, "AXE_DIR", tmp_path / "axe-core")
    with pytest.raises(pytest.fail.Exception, match=r"make axe"):
        browser_support.axe_source()
