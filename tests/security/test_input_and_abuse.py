"""Input and abuse attacks on the public booking function (issue 13), each kept as a regression test."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.runtime import set_runtime
from tests.helpers.booking_support import at, booking_body, clear_events, confirmed_bookings, workday
from tests.helpers.security_support import client, install

OUTSIDE = "victim@outside.test"


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    set_runtime(None)


@pytest.fixture
def booking(emulator: Any, tmp_path: Any) -> Any:
    clear_events(emulator)
    install(emulator, tmp_path)
    return client("booking")


def test_control_bidi_and_zero_width_characters_never_reach_the_event(booking: Any, emulator: Any) -> None:
    name = "Eve\r\nBcc: x@y.test \u202eevil\u200b\u2066Name\u0007"
    notes = "line one\r\nline\u200d two \u202e\u2028three"
    answer = booking.post("/bookings", json=booking_body(at(workday(), 10), name=name, notes=notes))
    assert answer.status_code == 201, answer.get_json()
    [event] = confirmed_bookings(emulator)
    text = json.dumps([event["summary"], event["description"], event.get("attendees")], ensure_ascii=False)
    for bad in ("\r", "\u202e", "\u200b", "\u200d", "\u2066", "\u2028", "\u0007"):
        assert bad not in text
    assert "\n" not in event["summary"] and event["summary"].endswith(": Eve Bcc: x@y.test evilName")
    assert event["attendees"][0]["displayName"] == "Eve Bcc: x@y.test evilName"


def test_a_name_of_invisible_characters_only_is_400(booking: Any) -> None:
    answer = booking.post("/bookings", json=booking_body(at(workday(), 10), name="\u200b\u202e\r\n"))
    assert answer.status_code == 400 and "name" in answer.get_json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    "email",
    ["ceo@example.com.", "ceo@ex\u0430mple.com", "ceo@xn--exmple-4nf.com", "a@b@example.com", "x@localhost",
     "ceo@-example.com", "ceo@example.c0m"],
)
def test_odd_addresses_are_refused(booking: Any, emulator: Any, email: str) -> None:
    answer = booking.post("/bookings", json=booking_body(at(workday(), 10), email=email))
    assert answer.status_code == 400, answer.get_json()
    assert "email" in answer.get_json()["error"]["details"]["fields"]
    assert confirmed_bookings(emulator) == []


@pytest.mark.parametrize("email", ["ceo@example.com", "CEO@Example.COM", "ceo@mail.example.com"])
def test_company_addresses_are_refused_by_default(booking: Any, emulator: Any, email: str) -> None:
    answer = booking.post("/bookings", json=booking_body(at(workday(), 10), email=email))
    assert answer.status_code == 400
    assert confirmed_bookings(emulator) == []


def test_idn_addresses_are_kept_in_ascii_form_when_allowed(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"allow_idn_emails = false": "allow_idn_emails = true"})
    answer = client("booking").post("/bookings", json=booking_body(at(workday(), 10), email="ceo@ex\u0430mple.com"))
    assert answer.status_code == 201
    [event] = confirmed_bookings(emulator)
    assert event["attendees"][0]["email"] == "ceo@xn--exmple-4nf.com"


@pytest.mark.parametrize(
    "query",
    ["from=9999-12-01&to=9999-12-31", "from=0001-01-01&to=0001-01-02", "from=2026-01-01&to=9999-12-31"],
)
def test_out_of_range_dates_are_400(booking: Any, query: str) -> None:
    answer = booking.get(f"/slots?calendar=alice&duration=30&{query}")
    assert answer.status_code == 400, answer.get_data(as_text=True)


def test_a_far_future_start_is_400(booking: Any) -> None:
    body = {**booking_body(at(workday(), 10)), "start": "9999-12-31T23:45:00+00:00"}
    assert booking.post("/bookings", json=body).status_code == 400


@pytest.mark.parametrize("depth", [33, 8000])
def test_deeply_nested_json_is_400(booking: Any, depth: int) -> None:
    raw = '{"calendar": "alice", "notes": ' + "[" * depth + "]" * depth + "}"
    answer = booking.post("/bookings", data=raw, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["details"]["fields"] == {"body": "a flat JSON object"}


def test_an_unexpected_error_logs_a_module_not_a_path(capsys: Any) -> None:
    import flask

    from shared import http

    app = flask.Flask("probe")
    with app.test_request_context("/x"):
        response = http.guarded("booking", flask.request, lambda: 1 / 0)
    assert response.status_code == 500
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines() if "unexpected" in text]
    assert line["where"].startswith("tests.security.test_input_and_abuse:") and "/" not in line["where"]


# --- abuse ---------------------------------------------------------------------------------------------------
def test_one_client_cannot_flood_live_availability(booking: Any, emulator: Any) -> None:
    day = workday()
    url = f"/slots?calendar=alice&from={day}&to={day}&duration=30&live=true"
    answers = [booking.get(url).status_code for _ in range(14)]
    assert answers[:10] == [200] * 10 and set(answers[10:]) == {429}
    limited = booking.get(url)
    assert limited.headers["Retry-After"].isdigit()
    other = booking.get(url, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert other.status_code == 200


def test_the_relay_sends_at_most_the_configured_number_of_mails(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    limits = {"# bookings_per_visitor_per_day = 5": "bookings_per_visitor_per_day = 3",
              "bookings_per_client_per_minute = 10000": "bookings_per_client_per_minute = 100"}
    install(emulator, tmp_path, limits)
    booking = client("booking")
    requests.delete(f"{emulator.url}/_emulator/mailbox", timeout=10).raise_for_status()
    day, statuses = workday(), []
    for cycle in range(25):
        email = OUTSIDE if cycle % 2 else OUTSIDE.replace("@", f"+{cycle}@").upper()  # tags and case: one mailbox
        made = booking.post("/bookings", json=booking_body(at(day, 9 + cycle % 8), email=email, name="Spam Link"))
        statuses.append(made.status_code)
        if made.status_code == 201:
            booking.delete(f"/bookings/{made.get_json()['booking']['id']}",
                           headers={"Authorization": f"Bearer {made.get_json()['token']}"})
    assert statuses.count(201) == 3 and set(statuses[3:]) == {429}
    mailbox = requests.get(f"{emulator.url}/_emulator/mailbox", timeout=10).json()
    assert mailbox["count"] <= 2 * 3


def test_one_client_cannot_flood_bookings(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"bookings_per_client_per_minute = 10000": "bookings_per_client_per_minute = 3"})
    booking, day = client("booking"), workday()
    answers = [booking.post("/bookings", json=booking_body(at(day, 9 + hour), email=f"v{hour}@visitor.test"))
               for hour in range(5)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    assert answers[3].get_json()["error"]["code"] == "rate_limited" and answers[3].headers["Retry-After"]
    assert len(confirmed_bookings(emulator)) == 3


def test_future_bookings_per_visitor(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {"# future_bookings_per_visitor = 3": "future_bookings_per_visitor = 2"})
    booking = client("booking")
    day = workday()
    answers = [booking.post("/bookings", json=booking_body(at(day, hour))).status_code for hour in (9, 10, 11)]
    assert answers == [201, 201, 429]
    assert len(confirmed_bookings(emulator)) == 2


def test_the_token_bucket_is_thread_safe() -> None:
    import threading
    from datetime import UTC, datetime

    from shared.abuse import TokenBucket

    moment = datetime(2030, 1, 1, tzinfo=UTC)
    bucket = TokenBucket(50, now=lambda: moment)
    taken: list[float] = []
    threads = [threading.Thread(target=lambda: taken.extend(bucket.take("c") for _ in range(20))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for wait in taken if wait == 0) == 50


# --- bot check (Cloudflare Turnstile against the emulator) --------------------------------------------------------
TURNSTILE_SECRET = "0x4AAAAAAAtestsecret"
TURNSTILE_SITE_KEY = "0x4AAAAAAAtestsitekey"


@pytest.fixture
def with_bot_check(emulator: Any, tmp_path: Any) -> Any:
    from tests.helpers.clients import secret_manager_client

    sm = secret_manager_client(emulator)
    parent = "projects/demo-project"
    with contextlib.suppress(Exception):  # created by an earlier test in this emulator
        sm.create_secret(request={"parent": parent, "secret_id": "turnstile-secret",
                                  "secret": {"replication": {"automatic": {}}}})
    sm.add_secret_version(request={"parent": f"{parent}/secrets/turnstile-secret",
                                   "payload": {"data": TURNSTILE_SECRET.encode()}})
    clear_events(emulator)
    text = {"# [bot_check]": "[bot_check]",
            '# site_key = "1x00000000000000000000AA"': f'site_key = "{TURNSTILE_SITE_KEY}"',
            '# secret = "projects/demo-project/secrets/turnstile-secret/versions/1"':
            'secret = "projects/demo-project/secrets/turnstile-secret/versions/latest"',
            f'# verify_url = "{emulator.url}/turnstile/v0/siteverify"':
            f'verify_url = "{emulator.url}/turnstile/v0/siteverify"'}
    install(emulator, tmp_path, text)
    return client("booking")


def turnstile_token(server: Any, secret: str = TURNSTILE_SECRET) -> str:
    answer = requests.post(f"{server.url}/_emulator/turnstile-token", json={"secret": secret}, timeout=10)
    return str(answer.json()["token"])


def test_the_page_learns_the_public_site_key_and_never_the_secret(with_bot_check: Any) -> None:
    answer = with_bot_check.get("/calendars")
    assert answer.status_code == 200
    assert answer.get_json()["botCheck"] == {"provider": "turnstile", "siteKey": TURNSTILE_SITE_KEY}
    assert TURNSTILE_SECRET not in answer.get_data(as_text=True)


def test_without_a_bot_check_the_page_hears_of_none(booking: Any) -> None:
    assert "botCheck" not in booking.get("/calendars").get_json()


def test_the_bot_check_is_verified_server_side(with_bot_check: Any, emulator: Any) -> None:
    booking, body = with_bot_check, booking_body(at(workday(), 10))
    assert booking.post("/bookings", json=body).status_code == 400  # no token
    forged = {"X-Turnstile-Token": "XXXX.DUMMY.TOKEN.XXXX"}
    assert booking.post("/bookings", json=body, headers=forged).status_code == 403
    other_site = {"X-Turnstile-Token": turnstile_token(emulator, "0x4AAAAAAAothersite")}
    assert booking.post("/bookings", json=body, headers=other_site).status_code == 403
    assert confirmed_bookings(emulator) == []
    token = {"X-Turnstile-Token": turnstile_token(emulator)}
    assert booking.post("/bookings", json=body, headers=token).status_code == 201
    replayed = booking.post("/bookings", json=booking_body(at(workday(), 11)), headers=token)
    assert replayed.status_code == 403  # single use
    assert len(confirmed_bookings(emulator)) == 1
