"""Keyless domain-wide delegation end to end: the function's runtime identity (the emulator's metadata server)
signs the delegation JWT through IAM Credentials, with no service account key anywhere."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import demo
from shared.runtime import Runtime, set_runtime
from tests.helpers.booking_support import ALICE, at, booking_body, clear_events, confirmed_bookings, workday
from tests.helpers.function_app import function_app
from tests.helpers.support import clear_log, config_text, counts, make_runtime, requests_log

KEY_MARKERS = ("private_key", "PRIVATE KEY")
KEYLESS = {
    "secrets/calendar-credentials/": "secrets/calendar-keyless/",
    "secrets/sharing-credentials/": "secrets/sharing-keyless/",
}


def _without_keys(server: Any) -> None:
    """No key exists at all: the key secrets are gone and the delegation accounts have Google-managed keys only."""
    from emulator.keys import system_managed_key

    state = server.emulator.state
    with state.lock:
        for name in (demo.CREDENTIALS_SECRET, demo.SHARING_CREDENTIALS_SECRET):
            del state.secrets[name]
        for email in (demo.SERVICE_ACCOUNT, demo.SHARING_SERVICE_ACCOUNT):
            managed = system_managed_key(email)
            state.service_accounts[email].public_keys = {managed.key_id: managed.public_pem}
        state.demo.pop("service_account_key")
        state.demo.pop("sharing_service_account_key")


@pytest.fixture
def keyless(emulator: Any, tmp_path: Path) -> Iterator[tuple[Any, Runtime, str]]:
    _without_keys(emulator)
    clear_events(emulator)
    text = config_text(emulator, tmp_path / "snapshot", replace=KEYLESS)
    config_file = tmp_path / "booking.toml"
    config_file.write_text(text)
    from shared.config import load_config

    runtime = make_runtime(emulator, config=load_config(config_file))
    set_runtime(runtime)
    yield emulator, runtime, text
    set_runtime(None)


def _book(day_hour: tuple[Any, int], key: str) -> Any:
    day, hour = day_hour
    return function_app("booking").test_client().post(
        "/bookings", json=booking_body(at(day, hour)), headers={"Idempotency-Key": key}
    )


def test_books_into_alices_calendar_with_no_key_anywhere(keyless: tuple[Any, Runtime, str]) -> None:
    server, runtime, config = keyless
    day = workday()
    response = _book((day, 10), "keyless-1")
    assert response.status_code == 201, response.get_json()
    [event] = confirmed_bookings(server, ALICE)
    assert event["start"]["dateTime"].startswith(day.isoformat())

    # Signed by IAM Credentials as the delegation account, for the runtime identity the metadata server gave.
    [signed] = requests_log(server, "iamcredentials.serviceAccounts.signBlob")
    assert (signed["principal"], signed["target"], signed["status"]) == (
        demo.BOOKING_RUNTIME, demo.SERVICE_ACCOUNT, 200
    )
    [token] = [r for r in requests_log(server, "oauth2.token") if r.get("sub")]
    assert (token["iss"], token["sub"], token["status"]) == (demo.SERVICE_ACCOUNT, ALICE, 200)

    # Nothing the process read or holds names a key: its secrets, its config, its environment.
    read = [runtime.secrets.get().info, runtime.token_key.get()[0] if runtime.token_key else None]
    assert runtime.secrets.get().kind == "keyless_dwd"
    haystack = json.dumps(read) + config + json.dumps(dict(os.environ))
    assert not [marker for marker in KEY_MARKERS if marker in haystack]
    accessed = {r["version"].rsplit("/versions/", 1)[0] for r in requests_log(server, "secretmanager.versions.access")}
    assert accessed <= {demo.KEYLESS_SECRET, demo.TOKEN_KEY_SECRET}


def test_warm_booking_makes_no_signing_and_no_token_call(keyless: tuple[Any, Runtime, str]) -> None:
    server, _, _ = keyless
    day = workday()
    assert _book((day, 10), "warm-1").status_code == 201
    clear_log(server)
    assert _book((day, 11), "warm-2").status_code == 201
    seen = counts(server)
    auth_calls = ("iamcredentials.", "metadata.", "oauth2.")
    assert not {method: n for method, n in seen.items() if method.startswith(auth_calls)}
    assert seen.get("calendar.events.insert", 0) >= 1  # its claims and the booking, on the warm credentials
    assert len(confirmed_bookings(server, ALICE)) == 2


def test_runtime_identity_without_token_creator_gets_a_502_naming_the_role(keyless: tuple[Any, Runtime, str]) -> None:
    server, _, _ = keyless
    server.emulator.state.metadata_identity = demo.UNGRANTED_RUNTIME
    response = _book((workday(), 10), "ungranted-1")
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert "roles/iam.serviceAccountTokenCreator" in error["message"]
    assert demo.UNGRANTED_RUNTIME in error["message"] and demo.SERVICE_ACCOUNT in error["message"]
    assert error["details"]["missingRole"] == "roles/iam.serviceAccountTokenCreator"
    [denied] = requests_log(server, "iamcredentials.serviceAccounts.signBlob")
    assert denied["status"] == 403
    assert not confirmed_bookings(server, ALICE)


def test_each_runtime_reaches_only_its_own_delegation_account(keyless: tuple[Any, Runtime, str]) -> None:
    server, runtime, _ = keyless
    from shared.credentials import BOOKING_SCOPES, SHARING_SCOPES
    from shared.errors import DelegationError

    assert runtime.sharing_credentials is not None
    # The booking runtime may sign as the booking/sync account, not as sharing's.
    with pytest.raises(DelegationError, match="serviceAccountTokenCreator"):
        runtime.sharing_credentials.ready("delegated", ALICE, SHARING_SCOPES)
    # The sharing runtime may sign as sharing's account only, and that client holds only sharing's scopes.
    server.emulator.state.metadata_identity = demo.SHARING_RUNTIME
    runtime.sharing_credentials.forget()
    fresh = make_runtime(server, config=runtime.config)
    assert fresh.sharing_credentials is not None
    assert fresh.sharing_credentials.ready("delegated", ALICE, SHARING_SCOPES).valid
    with pytest.raises(DelegationError, match="serviceAccountTokenCreator"):
        fresh.credentials.ready("delegated", ALICE, BOOKING_SCOPES)


def test_metadata_server_refuses_requests_without_the_flavor_header(emulator: Any) -> None:
    import requests

    url = f"{emulator.url}/computeMetadata/v1/instance/service-accounts/default/token"
    assert requests.get(url, timeout=5).status_code == 403
    answer = requests.get(url, headers={"Metadata-Flavor": "Google"}, timeout=5)
    assert answer.status_code == 200 and answer.headers["Metadata-Flavor"] == "Google"
    assert answer.json()["token_type"] == "Bearer"
