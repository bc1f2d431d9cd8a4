"""A full run of the functions, failures included, writes no key, token or secret into any log or answer."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from shared.credentials import EVENTS
from tests.helpers.booking_support import at, booking_body, clear_events, workday
from tests.helpers.clients import id_token
from tests.helpers.function_app import function_app
from tests.helpers.support import set_faults

ADMIN = "admin@example.com"
SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"


def _secrets(server: Any, extra: list[str]) -> list[str]:
    state = server.emulator.state
    key = state.demo["service_account_key"]
    body_lines = [line for line in key["private_key"].splitlines() if line and "PRIVATE KEY" not in line]
    oauth = state.demo["oauth_client"]
    with state.lock:
        access_tokens = list(state.access_tokens)
    return [*body_lines, oauth["client_secret"], oauth["refresh_token"], *access_tokens, *extra]


def test_a_full_run_leaks_nothing(
    emulator: Any, installed_runtime: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    clear_events(emulator)
    issued: list[str] = []
    booking = function_app("booking").test_client()
    sharing = function_app("sharing").test_client()
    day = workday()

    # booking: slots, book, look up, cancel, a forged token, a busy slot, bad input
    assert booking.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30").status_code == 200
    made = booking.post("/bookings", json=booking_body(at(day, 10)), headers={"Idempotency-Key": "log-1"})
    assert made.status_code == 201
    token, booking_id = made.get_json()["token"], made.get_json()["booking"]["id"]
    issued.append(token)
    assert booking.get(f"/bookings/{booking_id}?token={token}").status_code == 200
    assert booking.delete(f"/bookings/{booking_id}?token={token}x").status_code == 403
    assert booking.delete(f"/bookings/{booking_id}?token={token}").status_code == 200
    assert booking.post("/bookings", data="{", content_type="application/json").status_code == 400

    # transient faults: retries are logged by the retry library
    set_faults(emulator, [{"method": "calendar.*", "kind": "503", "rate": 1.0, "remaining": 3}])
    assert booking.post("/bookings", json=booking_body(at(day, 14))).status_code in (201, 503)
    set_faults(emulator, [])

    # sharing: an admin, a non-admin, no token
    admin_token = id_token(emulator, ADMIN, "http://localhost/")
    stranger_token = id_token(emulator, "bob@example.com", "http://localhost/")
    issued += [admin_token, stranger_token]
    share = {"calendar": "Team Holidays", "owner": "alice@example.com",
             "scope": {"type": "user", "value": "bob@example.com"}, "role": "reader"}
    assert sharing.post("/shares", json=share, headers={"Authorization": f"Bearer {admin_token}"}).status_code in (
        200, 201)
    assert sharing.post("/shares", json=share, headers={"Authorization": f"Bearer {stranger_token}"}).status_code == 403
    assert sharing.post("/shares", json=share).status_code == 401

    # sync, when the function exists
    if (Path(__file__).parents[2] / "functions" / "sync" / "main.py").exists():
        scheduler_token = id_token(emulator, SCHEDULER, "http://localhost/")
        issued.append(scheduler_token)
        sync = function_app("sync").test_client()
        assert sync.post("/", headers={"Authorization": f"Bearer {scheduler_token}"}).status_code == 200

    # a delegation mistake: the grant loses a scope, so Google refuses the token and the answer explains it
    state = emulator.emulator.state
    client_id = state.demo["service_account_key"]["client_id"]
    with state.lock:
        state.dwd_grants[client_id] = [s for s in state.dwd_grants[client_id] if s != EVENTS]
        state.access_tokens.clear()
    installed_runtime.credentials.forget()  # a cold instance: it must ask for a new token
    refused = booking.post("/bookings", json=booking_body(at(workday(4), 10)))
    assert refused.status_code == 502
    assert client_id in refused.get_json()["error"]["message"]

    captured = capfd.readouterr()
    text = "\n".join([captured.out, captured.err, caplog.text,
                      *(r.getMessage() for r in caplog.records)])
    assert text.strip(), "the run must have logged something to check"
    leaks = [secret[:12] + "..." for secret in _secrets(emulator, issued) if secret and secret in text]
    assert not leaks, f"secrets in the logs: {leaks}"
    assert not re.search(r"Bearer\s+[\w.-]{20,}", text), "an Authorization header was logged"
    assert "PRIVATE KEY" not in text
