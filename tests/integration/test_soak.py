"""A soak across all three functions with 20% injected transient faults: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from tests.helpers.booking_support import at, booking_body, clear_events, confirmed_bookings, span, workday
from tests.helpers.clients import id_token
from tests.helpers.function_app import function_app
from tests.helpers.support import requests_log, set_faults

FAULTS = [
    {"method": "calendar.*", "kind": "503", "rate": 0.07},
    {"method": "calendar.*", "kind": "rateLimitExceeded", "rate": 0.07},
    {"method": "calendar.*", "kind": "drop", "rate": 0.07},
]
SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"


def _until_answered(send: Any, *, ok: tuple[int, ...] = (200, 201), limit: int = 50) -> Any:
    """What a careful client does: send the same request again until it gets an answer that is not a 503."""
    for _ in range(limit):
        response = send()
        if response.status_code != 503:
            assert response.status_code in ok, response.get_json()
            return response
    raise AssertionError("no answer after 50 tries")


@pytest.mark.slow
def test_soak_all_three_functions_under_faults(emulator: Any, installed_runtime: Any) -> None:
    clear_events(emulator)
    booking = function_app("booking").test_client()
    sharing = function_app("sharing").test_client()
    sync = function_app("sync").test_client()
    admin = {"Authorization": f"Bearer {id_token(emulator, 'admin@example.com', 'http://localhost/')}"}
    scheduler_token = id_token(emulator, SCHEDULER, "http://localhost/")
    set_faults(emulator, FAULTS, seed=11)

    starts: list[datetime] = []
    day = workday(3)
    while len(starts) < 30:
        if day.weekday() < 4:
            starts += [at(day, hour) for hour in (9, 10, 11, 14, 15, 16)]
        day += timedelta(days=1)
    booked: dict[str, datetime] = {}
    for index, start in enumerate(starts[:30]):
        body = booking_body(start, email=f"soak{index}@visitor.test")
        headers = {"Idempotency-Key": f"k{index}"}
        response = _until_answered(
            lambda body=body, headers=headers: booking.post("/bookings", json=body, headers=headers)
        )
        booked[response.get_json()["booking"]["id"]] = start

    grantees = [f"reader{i}@example.com" for i in range(15)]  # inside the domain: sharing.allow_outside_domain is off
    for role in ("freeBusyReader", "reader"):  # the second pass updates every rule instead of adding
        for grantee in grantees:
            share = {"calendar": "Team Holidays", "owner": "alice@example.com",
                     "scope": {"type": "user", "value": grantee}, "role": role}
            _until_answered(lambda share=share: sharing.post("/shares", json=share, headers=admin))

    base = installed_runtime.now().replace(second=0, microsecond=0)  # schedule times are refused far from now
    for run in range(8):
        stamp = (base + timedelta(minutes=5 * run)).isoformat().replace("+00:00", "Z")
        headers = {"Authorization": f"Bearer {scheduler_token}", "X-CloudScheduler-ScheduleTime": stamp}
        _until_answered(lambda headers=headers: sync.post("/", headers=headers))

    injected = sum(1 for r in requests_log(emulator) if r.get("fault"))
    set_faults(emulator, [])

    # bookings: every one exactly once, where it was asked for
    events = confirmed_bookings(emulator)
    assert {e["id"]: span(e)[0] for e in events} == {k: v.astimezone(UTC) for k, v in booked.items()}
    # sharing: one rule per grantee, with the last role
    state = emulator.emulator.state
    with state.lock:
        rules = {rid: rule.role for rid, rule in state.calendars[TEAM_HOLIDAYS_ID].acl.items()}
    assert all(rules[f"user:{g}"] == "reader" for g in grantees)
    assert len([r for r in rules if r.startswith("user:reader")]) == len(grantees)
    # sync: the last snapshot is whole and names the last schedule time
    raw = installed_runtime.store.read()
    snapshot = json.loads(raw)
    assert set(snapshot["calendars"]) == {"alice", "bob", "carol"}
    assert all(entry["status"] == "ok" for entry in snapshot["calendars"].values())
    last = (base + timedelta(minutes=5 * 7)).isoformat().replace("+00:00", "Z")
    assert snapshot["scheduleTime"] == last
    assert injected > 20, "faults must really have been injected"
