"""Injected faults, latency and the per-user rate limit, as the real clients observe them."""

from __future__ import annotations

import time
from typing import Any

import google.auth.transport.requests
import pytest
import requests
from google.api_core import exceptions
from googleapiclient.errors import HttpError

from tests.helpers.clients import (
    calendar_service,
    control,
    delegated_credentials,
    secret_manager_client,
    storage_client,
)

SECRET = "projects/demo-project/secrets/calendar-credentials/versions/latest"
SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
]


def _access(server: Any) -> Any:
    return secret_manager_client(server).access_secret_version(name=SECRET, retry=None)


def _faults(server: Any, *rules: dict[str, Any], seed: int | None = None) -> Any:
    body: dict[str, Any] = {"faults": list(rules)}
    if seed is not None:
        body["seed"] = seed
    return control(server, "PUT", "faults", body)


def _calendar_ready(server: Any) -> bool:
    return any(route.method_id == "calendar.calendarList.list" for route in server.emulator._routes.values())


def test_an_injected_503_is_seen_by_the_client_then_clears(emulator: Any) -> None:
    _faults(emulator, {"method": "secretmanager.versions.*", "kind": "503", "remaining": 1})
    with pytest.raises(exceptions.ServiceUnavailable):
        _access(emulator)
    assert _access(emulator).name.endswith("/versions/1")

    assert control(emulator, "GET", "faults")["faults"][0]["remaining"] == 0
    entries = control(emulator, "GET", "requests?method=secretmanager.versions.access")["requests"]
    assert [(e["status"], e.get("fault")) for e in entries] == [(503, "backendError"), (200, None)]


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        ("429", exceptions.TooManyRequests, "rateLimitExceeded"),
        ("rateLimitExceeded", exceptions.Forbidden, "rateLimitExceeded"),
        ("userRateLimitExceeded", exceptions.Forbidden, "userRateLimitExceeded"),
        ("quotaExceeded", exceptions.Forbidden, "quotaExceeded"),
        ("500", exceptions.InternalServerError, "backendError"),
    ],
)
def test_fault_kinds_on_the_wire(emulator: Any, kind: str, error: type[Exception], reason: str) -> None:
    _faults(emulator, {"method": "storage.objects.get", "kind": kind})
    blob = storage_client(emulator).bucket("demo-project-availability").blob("x")
    with pytest.raises(error) as caught:
        blob.reload(retry=None)
    assert caught.value.errors[0]["reason"] == reason  # type: ignore[attr-defined]


def test_faults_only_hit_matching_methods(emulator: Any) -> None:
    _faults(emulator, {"method": "calendar.*", "kind": "503"})
    assert _access(emulator).name.endswith("/versions/1")


def test_a_dropped_connection_is_a_connection_error(emulator: Any) -> None:
    _faults(emulator, {"method": "secretmanager.versions.access", "kind": "drop", "remaining": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        _access(emulator)
    assert _access(emulator).name.endswith("/versions/1")
    statuses = [e["status"] for e in control(emulator, "GET", "requests?method=secretmanager.*")["requests"]]
    assert statuses == [0, 200]


def test_fault_rate_is_drawn_reproducibly_from_the_seed(emulator: Any) -> None:
    def run() -> list[bool]:
        _faults(emulator, {"method": "secretmanager.versions.access", "kind": "503", "rate": 0.5}, seed=7)
        outcomes = []
        for _ in range(20):
            try:
                _access(emulator)
                outcomes.append(True)
            except exceptions.ServiceUnavailable:
                outcomes.append(False)
        return outcomes

    first = run()
    assert 0 < sum(first) < 20
    assert run() == first


def test_bad_fault_rules_are_refused(emulator: Any) -> None:
    for rules in ([{"kind": "teapot"}], [{"kind": "503", "rate": 2}], [{"bogus": 1}]):
        response = requests.put(f"{emulator.url}/_emulator/faults", json={"faults": rules}, timeout=10)
        assert response.status_code == 400
        assert response.json()["error"]["errors"][0]["reason"] == "invalid"


def test_delete_faults_clears_them(emulator: Any) -> None:
    _faults(emulator, {"method": "*", "kind": "503"})
    assert control(emulator, "DELETE", "faults")["faults"] == []
    assert _access(emulator).name.endswith("/versions/1")


def test_reset_clears_faults(emulator: Any) -> None:
    _faults(emulator, {"method": "*", "kind": "503"})
    control(emulator, "POST", "reset")
    assert control(emulator, "GET", "faults") == {"faults": [], "latency": []}


def test_latency_is_added_to_matching_methods(emulator: Any) -> None:
    control(emulator, "PUT", "latency", {"latency": [{"method": "secretmanager.versions.access", "ms": 200}]})
    control(emulator, "DELETE", "requests")
    started = time.perf_counter()
    _access(emulator)
    assert time.perf_counter() - started >= 0.2  # a lower bound holds on any machine
    storage_client(emulator).bucket("demo-project-availability").reload()
    log = {entry["method"]: entry for entry in control(emulator, "GET", "requests")["requests"]}
    assert log["secretmanager.versions.access"]["delayMs"] == 200
    assert "delayMs" not in log["storage.buckets.get"]  # not delayed: only the matching method is
    assert control(emulator, "DELETE", "latency")["latency"] == []


def test_injected_503_on_calendar_is_an_http_error(emulator: Any) -> None:
    if not _calendar_ready(emulator):
        pytest.skip("emulator/calendar_lists.py has no calendarList.list yet")
    listing = ["https://www.googleapis.com/auth/calendar.calendarlist.readonly"]
    service = calendar_service(emulator, delegated_credentials(emulator, "alice@example.com", listing))
    _faults(emulator, {"method": "calendar.calendarList.list", "kind": "503", "remaining": 1})
    with pytest.raises(HttpError) as caught:
        service.calendarList().list().execute()
    assert caught.value.resp.status == 503
    assert service.calendarList().list().execute()["kind"] == "calendar#calendarList"


def test_per_user_rate_limit(emulator: Any) -> None:
    """Requests carrying a user's access token count against that user's per-second limit (403 rateLimitExceeded).
    The clock stands still, so the three requests fall in one second however slow the machine is."""
    control(emulator, "PUT", "settings", {"user_rate_limit_per_second": 2})
    control(emulator, "POST", "clock", {"frozen": True})
    credentials = delegated_credentials(emulator, "alice@example.com", SCOPES)
    credentials.refresh(google.auth.transport.requests.Request())
    from google.cloud import storage  # type: ignore[attr-defined, unused-ignore]

    client = storage.Client(
        project="demo-project", credentials=credentials, client_options={"api_endpoint": emulator.url}
    )
    bucket = client.bucket("demo-project-availability")
    bucket.reload(retry=None)
    bucket.reload(retry=None)
    with pytest.raises(exceptions.Forbidden) as caught:
        bucket.reload(retry=None)
    assert caught.value.errors[0]["reason"] == "rateLimitExceeded"
    storage_client(emulator).bucket("demo-project-availability").reload(retry=None)  # anonymous: not limited
    control(emulator, "POST", "clock", {"advance": "PT1S"})
    bucket.reload(retry=None)


def test_a_fault_that_is_not_a_google_json_error_is_answered_and_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault without Google's JSON `reason` (the token endpoint's OAuth-shaped errors) was read as `.reason`
    # and broke the request with an AttributeError; it is answered in its own shape and logged by its type.
    from werkzeug.test import Client

    from emulator.app import Emulator
    from emulator.errors import OAuthError

    app = Emulator()
    monkeypatch.setattr(
        app.faults, "pick", lambda method_id: OAuthError(503, "temporarily_unavailable", "Try again later.")
    )
    answer = Client(app).post("/token", data={"grant_type": "refresh_token"})
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "temporarily_unavailable", "error_description": "Try again later."}
    entries, _ = app.log_snapshot()
    assert entries[-1]["fault"] == "OAuthError"
    assert entries[-1]["status"] == 503
