"""The booking page with the bot check on, in a real browser (Debian's chromium driven by Playwright).

The booking function's config turns Turnstile on; GET /calendars hands the page the public site key, and the page
loads Cloudflare's widget script. Tests never reach the network, so the script is answered by a stand-in with
Turnstile's documented API (`render`, `reset`, `callback`) whose tokens are minted by the emulator for the site's
secret: the booking function verifies each one server-side against the emulated siteverify, once.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from shared.runtime import set_runtime
from tests.helpers.booking_support import confirmed_bookings
from tests.helpers.browser_support import Gateway
from tests.helpers.clients import secret_manager_client
from tests.helpers.support import make_config, make_runtime

pytestmark = pytest.mark.browser

SITE_KEY = "0x4AAAAAAAbrowsersitekey"
SECRET = "0x4AAAAAAAbrowsersecret"
CONFIRMED = "You\u2019re booked"

# Turnstile's explicit-render API, as Cloudflare documents it, handing out the tokens in `tokens` one per solve.
FAKE_TURNSTILE = """(() => {
  const tokens = %s;
  const solve = %s;
  const widgets = [];
  window.turnstile = {
    render(element, options) {
      widgets.push(options);
      element.dataset.fakeTurnstile = options.sitekey;
      if (solve) setTimeout(() => options.callback(tokens.shift()), 0);
      return "w" + (widgets.length - 1);
    },
    reset(id) {
      const options = widgets[Number(id.slice(1))];
      if (solve) setTimeout(() => options.callback(tokens.shift()), 0);
    },
  };
})();"""


@pytest.fixture
def bot_checked(emulator: Any, tmp_path: Any) -> Iterator[None]:
    sm = secret_manager_client(emulator)
    parent = "projects/demo-project"
    with contextlib.suppress(Exception):  # created by an earlier test in this emulator
        sm.create_secret(request={"parent": parent, "secret_id": "turnstile-secret",
                                  "secret": {"replication": {"automatic": {}}}})
    sm.add_secret_version(request={"parent": f"{parent}/secrets/turnstile-secret",
                                   "payload": {"data": SECRET.encode()}})
    replace = {"# [bot_check]": "[bot_check]",
               '# site_key = "1x00000000000000000000AA"': f'site_key = "{SITE_KEY}"',
               '# secret = "projects/demo-project/secrets/turnstile-secret/versions/1"':
                   'secret = "projects/demo-project/secrets/turnstile-secret/versions/latest"',
               f'# verify_url = "{emulator.url}/turnstile/v0/siteverify"':
                   f'verify_url = "{emulator.url}/turnstile/v0/siteverify"'}
    set_runtime(make_runtime(emulator, config=make_config(emulator, tmp_path / "snapshot", replace=replace)))
    yield
    set_runtime(None)


def mint(server: Any) -> str:
    answer = requests.post(f"{server.url}/_emulator/turnstile-token", json={"secret": SECRET}, timeout=10)
    return str(answer.json()["token"])


def open_page(browser: Any, gateway: Gateway, tokens: list[str], *, solve: bool = True) -> Any:
    context = browser.new_context(locale="en-GB", timezone_id="America/New_York", reduced_motion="reduce")
    page = context.new_page()
    page.set_default_timeout(10_000)
    script = FAKE_TURNSTILE % (json.dumps(tokens), "true" if solve else "false")
    page.route(re.compile(r"^https://challenges\.cloudflare\.com/turnstile/v0/api\.js.*"),
               lambda route: route.fulfill(status=200, content_type="text/javascript", body=script))
    page.goto(f"{gateway.url}/")
    expect(page.locator("button.cb-slot").first).to_be_visible()
    return page


def choose_a_slot(page: Any) -> str:
    page.get_by_role("radio", name=re.compile("Alice Example")).check()
    page.get_by_role("radio", name="30 min").check()
    page.locator("button.cb-day:not([disabled])").first.click()
    slot = page.locator("button.cb-slot").first
    start = str(slot.get_attribute("data-start"))
    slot.click()
    page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    page.get_by_label("Email", exact=True).fill("ada@visitor.test")
    return start


def is_booking_post(response: Any) -> bool:
    return bool(response.request.method == "POST" and response.url.endswith("/booking/bookings"))


def test_the_page_sends_a_fresh_turnstile_token_with_each_booking(browser: Any, gateway: Gateway, emulator: Any,
                                                                  bot_checked: None) -> None:
    tokens = [mint(emulator) for _ in range(3)]
    page = open_page(browser, gateway, tokens)
    expect(page.locator("calendar-booking > [slot='bot-check']")).to_have_attribute("data-fake-turnstile", SITE_KEY)
    choose_a_slot(page)
    with page.expect_response(is_booking_post) as first:
        page.get_by_role("button", name="Book this time").click()
    assert first.value.status == 201, first.value.json()
    assert first.value.request.headers.get("x-turnstile-token") == tokens[0]
    expect(page.get_by_role("heading", name=CONFIRMED)).to_be_focused()

    page.get_by_role("button", name="Book another time").click()
    choose_a_slot(page)
    with page.expect_response(is_booking_post) as second:
        page.get_by_role("button", name="Book this time").click()
    # Turnstile tokens verify once: the page reset the widget after the first booking and sends the next one.
    assert second.value.request.headers.get("x-turnstile-token") == tokens[1]
    assert second.value.status == 201, second.value.json()
    assert len(confirmed_bookings(emulator)) == 2
    page.context.close()


def test_without_a_solved_check_the_page_does_not_book(browser: Any, gateway: Gateway, emulator: Any,
                                                       bot_checked: None) -> None:
    page = open_page(browser, gateway, [], solve=False)
    choose_a_slot(page)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.get_by_role("button", name="Book this time").click()
    expect(page.locator("calendar-booking")).to_contain_text("Please complete the check below")
    assert posts == []
    assert confirmed_bookings(emulator) == []
    page.context.close()
