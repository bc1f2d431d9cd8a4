"""Each credentials mode against the emulator's token endpoint, through the real google-auth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.keys import cached_key
from shared.credentials import (
    ADMIN_CONSOLE_DWD,
    BOOKING_SCOPES,
    EVENTS,
    SHARING_SCOPES,
    SYNC_SCOPES,
    CredentialProvider,
)
from shared.endpoints import Endpoints
from shared.errors import DelegationError, SecretError
from shared.secrets import SecretSource, secret_manager_accessor
from tests.helpers.clients import secret_manager_client
from tests.helpers.support import SECRET, SHARING_SECRET, clear_log, counts, requests_log


def _provider(server: Any, version: str = "latest", secret: str = SECRET) -> CredentialProvider:
    endpoints = Endpoints.for_emulator(server.url)
    source = SecretSource(f"{secret}/versions/{version}", secret_manager_accessor(endpoints))
    return CredentialProvider(source, endpoints)


def _token_requests(server: Any) -> list[dict[str, Any]]:
    return requests_log(server, "oauth2.token")


def _add_version(server: Any, info: dict[str, Any]) -> str:
    response = secret_manager_client(server).add_secret_version(
        request={"parent": SECRET, "payload": {"data": json.dumps(info).encode()}}
    )
    return str(response.name).rsplit("/", 1)[1]


def test_delegated_token_request_carries_sub_and_exactly_the_scopes(emulator: Any) -> None:
    credentials = _provider(emulator).ready("delegated", "alice@example.com", BOOKING_SCOPES)
    assert credentials.valid
    [request] = _token_requests(emulator)
    assert request["sub"] == "alice@example.com"
    assert sorted(request["scopes"]) == sorted(BOOKING_SCOPES)
    assert request["status"] == 200


@pytest.mark.parametrize(("scopes", "secret"), [(SYNC_SCOPES, SECRET), (SHARING_SCOPES, SHARING_SECRET)])
def test_each_use_asks_for_its_least_scopes(emulator: Any, scopes: tuple[str, ...], secret: str) -> None:
    _provider(emulator, secret=secret).ready("delegated", "bob@example.com", scopes)
    [request] = _token_requests(emulator)
    assert (request["sub"], sorted(request["scopes"])) == ("bob@example.com", sorted(scopes))


def test_warm_provider_mints_no_second_token_and_reads_the_secret_once(emulator: Any) -> None:
    provider = _provider(emulator)
    first = provider.ready("delegated", "alice@example.com", BOOKING_SCOPES)
    for _ in range(10):
        assert provider.ready("delegated", "alice@example.com", BOOKING_SCOPES) is first
    provider.ready("delegated", "bob@example.com", BOOKING_SCOPES)
    subjects = [r["sub"] for r in _token_requests(emulator)]
    assert subjects == ["alice@example.com", "bob@example.com"]
    assert counts(emulator)["secretmanager.versions.access"] == 1


def test_expired_token_is_refreshed(emulator: Any) -> None:
    provider = _provider(emulator)
    credentials = provider.ready("delegated", "alice@example.com", BOOKING_SCOPES)
    credentials.expiry = credentials.expiry.replace(year=2000)  # what google-auth sees once the token aged out
    provider.ready("delegated", "alice@example.com", BOOKING_SCOPES)
    assert len(_token_requests(emulator)) == 2


def test_direct_mode_acts_as_the_service_account(emulator: Any) -> None:
    _provider(emulator).ready("direct", None, SYNC_SCOPES)
    [request] = _token_requests(emulator)
    assert request["sub"] is None
    assert request["iss"] == emulator.emulator.state.demo["service_account_key"]["client_email"]


def test_authorized_user_mode_uses_the_refresh_token(emulator: Any) -> None:
    client = emulator.emulator.state.demo["oauth_client"]
    version = _add_version(
        emulator,
        {"type": "authorized_user", "client_id": client["client_id"], "client_secret": client["client_secret"],
         "refresh_token": client["refresh_token"]},
    )
    credentials = _provider(emulator, version).ready("authorized_user", None, BOOKING_SCOPES)
    assert credentials.valid
    [request] = _token_requests(emulator)
    assert request["grant_type"] == "refresh_token"
    assert request["status"] == 200


def test_scope_outside_the_grant_explains_the_admin_console_fix(emulator: Any) -> None:
    wide = "https://www.googleapis.com/auth/calendar"
    with pytest.raises(DelegationError) as caught:
        _provider(emulator).ready("delegated", "alice@example.com", (EVENTS, wide))
    message = caught.value.message
    client_id = emulator.emulator.state.demo["service_account_key"]["client_id"]
    assert ADMIN_CONSOLE_DWD in message
    assert client_id in message
    assert wide in message
    assert caught.value.details["clientId"] == client_id


def test_unknown_user_explains_act_as(emulator: Any) -> None:
    with pytest.raises(DelegationError, match=r"nobody@example\.com") as caught:
        _provider(emulator).ready("delegated", "nobody@example.com", BOOKING_SCOPES)
    assert "act_as" in caught.value.message


def test_rotated_key_is_picked_up_after_google_refuses_the_old_one(emulator: Any) -> None:
    provider = _provider(emulator)
    provider.ready("delegated", "alice@example.com", BOOKING_SCOPES)
    state = emulator.emulator.state
    account = next(iter(state.service_accounts.values()))
    new_pair = cached_key("rotated-test-key")
    info = dict(state.demo["service_account_key"], private_key=new_pair.private_pem, private_key_id=new_pair.key_id)
    with state.lock:
        account.public_keys = {new_pair.key_id: new_pair.public_pem}  # the old key was deleted in the console
    _add_version(emulator, info)
    clear_log(emulator)
    credentials = provider.ready("delegated", "carol@example.com", BOOKING_SCOPES)
    assert credentials.valid
    statuses = [r["status"] for r in _token_requests(emulator)]
    assert statuses[0] != 200 and statuses[-1] == 200
    assert counts(emulator)["secretmanager.versions.access"] == 1  # re-read exactly once, after the refusal


def test_refused_key_with_nothing_newer_is_a_secret_error(emulator: Any) -> None:
    provider = _provider(emulator)
    state = emulator.emulator.state
    with state.lock:
        next(iter(state.service_accounts.values())).public_keys = {}
    with pytest.raises(SecretError, match=SECRET) as caught:
        provider.ready("delegated", "alice@example.com", BOOKING_SCOPES)
    assert "PRIVATE KEY" not in caught.value.message


@pytest.mark.parametrize(("secret", "foreign"), [(SECRET, SHARING_SCOPES), (SHARING_SECRET, BOOKING_SCOPES)])
def test_no_delegation_client_reaches_the_other_ones_scopes(
    emulator: Any, secret: str, foreign: tuple[str, ...]
) -> None:
    with pytest.raises(DelegationError, match="domain-wide delegation is not granted"):
        _provider(emulator, secret=secret).ready("delegated", "alice@example.com", foreign)
