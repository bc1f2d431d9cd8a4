"""The Calendar client: retries what Google says is transient, nothing else, within its deadline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stamina

from shared.calendar_client import CalendarClient, Identity, RetryPolicy, split_range
from shared.credentials import BOOKING_SCOPES, SYNC_SCOPES
from shared.errors import Conflict, Forbidden, InvalidRequest, NotFound, UpstreamUnavailable
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import clear_log, counts, requests_log, set_faults, set_latency

ALICE = Identity("delegated", "alice@example.com", BOOKING_SCOPES)


def _client(runtime: Any, **kwargs: Any) -> CalendarClient:
    return CalendarClient(runtime.credentials, runtime.endpoints, **kwargs)


def _event(event_id: str, hours_from_now: int = 50) -> dict[str, Any]:
    start = current_clock().now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)
    return {
        "id": event_id,
        "summary": "test",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
    }


@pytest.mark.parametrize("kind", ["429", "rateLimitExceeded", "userRateLimitExceeded", "503", "500", "drop"])
def test_transient_faults_are_retried_and_succeed(emulator: Any, runtime: Any, kind: str) -> None:
    client = _client(runtime)
    client.get_event  # noqa: B018  (nothing is fetched until a call)
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": kind, "rate": 1.0, "remaining": 2}])
    event = client.insert_event(ALICE, "alice@example.com", _event("retried0" + kind.lower()[:5].replace("5", "f")))
    assert event["status"] == "confirmed"
    assert counts(emulator)["calendar.events.insert"] == 3


@pytest.mark.parametrize(
    ("kind", "error"),
    [("quotaExceeded", Forbidden)],
)
def test_quota_exceeded_is_not_retried(emulator: Any, runtime: Any, kind: str, error: type[Exception]) -> None:
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": kind, "rate": 1.0}])
    with pytest.raises(error) as caught:
        _client(runtime).insert_event(ALICE, "alice@example.com", _event("quota0001"))
    assert caught.value.details["reason"] == "quotaExceeded"  # type: ignore[attr-defined]
    assert counts(emulator)["calendar.events.insert"] == 1


def test_bad_request_and_conflict_are_not_retried(emulator: Any, runtime: Any) -> None:
    client = _client(runtime)
    with pytest.raises(InvalidRequest):
        client.insert_event(ALICE, "alice@example.com", _event("BAD_ID"))
    assert counts(emulator)["calendar.events.insert"] == 1
    client.insert_event(ALICE, "alice@example.com", _event("again0001"))
    clear_log(emulator)
    with pytest.raises(Conflict) as caught:
        client.insert_event(ALICE, "alice@example.com", _event("again0001"))
    assert caught.value.details["reason"] == "duplicate"
    assert counts(emulator)["calendar.events.insert"] == 1


def test_not_found_is_tried_once(emulator: Any, runtime: Any) -> None:
    with pytest.raises(NotFound):
        _client(runtime).get_event(ALICE, "alice@example.com", "missing01")
    assert counts(emulator)["calendar.events.get"] == 1


def test_stale_etag_is_a_conflict_not_retried(emulator: Any, runtime: Any) -> None:
    client = _client(runtime)
    event = client.insert_event(ALICE, "alice@example.com", _event("etag00001"))
    client.patch_event(ALICE, "alice@example.com", "etag00001", {"summary": "changed"})
    clear_log(emulator)
    with pytest.raises(Conflict):
        client.patch_event(ALICE, "alice@example.com", "etag00001", {"summary": "again"}, etag=event["etag"])
    assert counts(emulator)["calendar.events.patch"] == 1


def test_exhausted_retries_become_upstream_unavailable(emulator: Any, runtime: Any) -> None:
    set_faults(emulator, [{"method": "calendar.events.get", "kind": "503", "rate": 1.0}])
    with pytest.raises(UpstreamUnavailable) as caught:
        _client(runtime).get_event(ALICE, "alice@example.com", "absent002")
    assert caught.value.headers()["Retry-After"]
    assert counts(emulator)["calendar.events.get"] == 6  # the test switch caps attempts at 6


def test_the_deadline_holds_with_real_backoff(emulator: Any, runtime: Any) -> None:
    set_faults(emulator, [{"method": "calendar.events.get", "kind": "503", "rate": 1.0}])
    set_latency(emulator, [{"method": "calendar.events.get", "ms": 100}])
    client = _client(runtime, retry=RetryPolicy(deadline=1.0, attempts=100, wait_initial=0.05, wait_max=0.2))
    client.insert_event(ALICE, "alice@example.com", _event("preheat01"))  # token and secret out of the way
    with stamina.set_testing(False), pytest.raises(UpstreamUnavailable):
        client.get_event(ALICE, "alice@example.com", "absent002")
    # Each attempt waits 100 ms at the emulator, so a 1 s deadline leaves room for at most 11 of the 100 allowed
    # (on any machine: a slower one makes fewer); without the deadline all 100 would run.
    attempts = counts(emulator)["calendar.events.get"]
    assert 1 <= attempts <= 11, attempts
    hits = [r for r in requests_log(emulator, "calendar.events.get") if r.get("delayMs") == 100]
    assert len(hits) == attempts


def test_free_busy_splits_calendars_by_fifty_and_ranges_by_ninety_days(emulator: Any, runtime: Any) -> None:
    client = _client(runtime)
    identity = Identity("delegated", "alice@example.com", SYNC_SCOPES)
    ids = ["alice@example.com", "bob@example.com", "carol@example.com"] + [f"ghost{i}@example.com" for i in range(60)]
    start = current_clock().now()
    result = client.free_busy(identity, ids, start, start + timedelta(days=120))
    assert counts(emulator)["calendar.freebusy.query"] == 2 * 2  # ceil(63/50) chunks x two windows
    assert result["alice@example.com"].error is None
    assert result["alice@example.com"].busy, "the demo seeds busy events for alice"
    assert result["ghost1@example.com"].error == "notFound"


def test_split_range_is_contiguous_and_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = list(split_range(start, start + timedelta(days=200)))
    assert windows[0][0] == start and windows[-1][1] == start + timedelta(days=200)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(end - begin <= timedelta(days=90) for begin, end in windows)


def test_batch_returns_mixed_results(emulator: Any, runtime: Any) -> None:
    client = _client(runtime)
    client.insert_event(ALICE, "alice@example.com", _event("present01"))
    clear_log(emulator)
    outcome = client.batch(
        ALICE,
        {
            "found": lambda api: api.events().get(calendarId="alice@example.com", eventId="present01"),
            "missing": lambda api: api.events().get(calendarId="alice@example.com", eventId="absent001"),
            "dup": lambda api: api.events().insert(calendarId="alice@example.com", body=_event("present01")),
        },
    )
    assert outcome["found"]["id"] == "present01"
    assert isinstance(outcome["missing"], NotFound)
    assert isinstance(outcome["dup"], Conflict)
    assert counts(emulator)["calendar.batch"] == 1


def test_batch_resends_only_transiently_failed_parts(emulator: Any, runtime: Any) -> None:
    client = _client(runtime)
    client.insert_event(ALICE, "alice@example.com", _event("present02"))
    set_faults(emulator, [{"method": "calendar.freebusy.query", "kind": "503", "rate": 1.0, "remaining": 1}])
    clear_log(emulator)
    start = current_clock().now()
    outcome = client.batch(
        ALICE,
        {
            "event": lambda api: api.events().get(calendarId="alice@example.com", eventId="present02"),
            "busy": lambda api: api.freebusy().query(
                body={"timeMin": start.isoformat(), "timeMax": (start + timedelta(days=1)).isoformat(),
                      "items": [{"id": "alice@example.com"}]}
            ),
        },
    )
    assert outcome["event"]["id"] == "present02"
    assert "calendars" in outcome["busy"]
    assert counts(emulator)["calendar.events.get"] == 1
    assert counts(emulator)["calendar.freebusy.query"] == 2


def test_batch_parts_refused_for_a_lapsed_token_are_sent_again_with_a_new_one(emulator: Any, runtime: Any) -> None:
    import requests

    client = _client(runtime)
    client.insert_event(ALICE, "alice@example.com", _event("present03"))
    requests.post(f"{emulator.url}/_emulator/expire-tokens", timeout=10).raise_for_status()
    clear_log(emulator)
    outcome = client.batch(
        ALICE, {"event": lambda api: api.events().get(calendarId="alice@example.com", eventId="present03")}
    )
    assert outcome["event"]["id"] == "present03"
    statuses = [entry["status"] for entry in requests_log(emulator, "calendar.events.get")]
    assert statuses == [401, 200]
    assert counts(emulator)["oauth2.token"] == 1
    assert counts(emulator)["calendar.batch"] == 2
