"""The OAuth 2.0 token endpoint, driven by google-auth exactly as the functions use it."""

from __future__ import annotations

import datetime
import time
from typing import Any

import google.auth.transport.requests
import pytest
import requests
from google.auth import crypt
from google.auth import jwt as google_jwt
from google.auth.exceptions import RefreshError
from google.oauth2 import id_token, service_account

from tests.helpers.clients import (
    authorized_user_credentials,
    calendar_service,
    control,
    delegated_credentials,
    foreign_key_pem,
    service_account_info,
)

AUTH = "https://www.googleapis.com/auth/"
EVENTS, FREEBUSY = f"{AUTH}calendar.events", f"{AUTH}calendar.freebusy"
GRANTED = [EVENTS, FREEBUSY, f"{AUTH}calendar.acls", f"{AUTH}calendar.calendarlist.readonly"]


def _request() -> Any:
    return google.auth.transport.requests.Request()


def _token_requests(server: Any) -> list[dict[str, Any]]:
    return list(control(server, "GET", "requests?method=oauth2.token")["requests"])


def _assertion(server: Any, **overrides: Any) -> str:
    """A JWT-bearer assertion signed with the demo key, with some claims changed."""
    info = service_account_info(server)
    moment = int(time.time())
    claims = {
        "iss": info["client_email"],
        "aud": "https://oauth2.googleapis.com/token",
        "scope": EVENTS,
        "sub": "alice@example.com",
        "iat": moment,
        "exp": moment + 3600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    signer = crypt.RSASigner.from_service_account_info(info)
    return google_jwt.encode(signer, claims).decode()


def _post_assertion(server: Any, assertion: str) -> requests.Response:
    return requests.post(
        f"{server.url}/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=10,
    )


# --- JWT bearer with domain-wide delegation -------------------------------------------------------------
def test_dwd_grant_within_the_granted_scopes_succeeds_and_logs_sub_and_scopes(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS, FREEBUSY])
    credentials.refresh(_request())

    assert credentials.valid
    assert credentials.token.startswith("ya29.")
    (entry,) = _token_requests(emulator)
    assert entry["status"] == 200
    assert entry["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert entry["sub"] == "alice@example.com"
    assert entry["scopes"] == [EVENTS, FREEBUSY]
    assert "assertion" not in str(entry)
    stored = emulator.emulator.state.access_tokens[credentials.token]
    assert (stored.principal, stored.kind, stored.via_dwd) == ("alice@example.com", "user", True)
    assert stored.scopes == [EVENTS, FREEBUSY]


def test_copies_keep_the_subject(emulator: Any) -> None:
    """with_scopes()/with_quota_project() have dropped `subject` before (google-cloud-python#18428)."""
    base = delegated_credentials(emulator, "bob@example.com", [EVENTS])
    copy = base.with_scopes([EVENTS, FREEBUSY]).with_quota_project("demo-project")
    copy.refresh(_request())
    (entry,) = _token_requests(emulator)
    assert entry["sub"] == "bob@example.com"
    assert entry["scopes"] == [EVENTS, FREEBUSY]


def test_scope_outside_the_dwd_grant_is_unauthorized_client(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS, f"{AUTH}calendar"])
    with pytest.raises(RefreshError) as caught:
        credentials.refresh(_request())
    assert "unauthorized_client" in str(caught.value)
    assert "not authorized for any of the scopes requested" in str(caught.value)
    (entry,) = _token_requests(emulator)
    assert entry["status"] == 401
    assert entry["ungranted_scopes"] == [f"{AUTH}calendar"]


def test_unknown_subject_is_invalid_grant(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, "mallory@example.com", [EVENTS])
    with pytest.raises(RefreshError, match="invalid_grant: Invalid email or User ID"):
        credentials.refresh(_request())
    assert _token_requests(emulator)[0]["status"] == 400


def test_subject_email_is_matched_case_insensitively(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, "Alice@Example.com", [EVENTS])
    credentials.refresh(_request())
    assert emulator.emulator.state.access_tokens[credentials.token].principal == "alice@example.com"


def test_assertion_with_a_list_audience_is_refused(emulator: Any) -> None:
    response = _post_assertion(emulator, _assertion(emulator, aud=["https://oauth2.googleapis.com/token"]))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_client_without_any_dwd_grant_is_unauthorized(emulator: Any) -> None:
    emulator.emulator.state.dwd_grants.clear()
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS])
    with pytest.raises(RefreshError, match="unauthorized_client"):
        credentials.refresh(_request())


def test_service_account_acting_as_itself_gets_a_token(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, None, [EVENTS])
    credentials.refresh(_request())
    stored = emulator.emulator.state.access_tokens[credentials.token]
    assert (stored.principal, stored.kind, stored.via_dwd) == (
        "calendar-booking@demo-project.iam.gserviceaccount.com",
        "service_account",
        False,
    )
    (entry,) = _token_requests(emulator)
    assert entry["sub"] is None


def test_a_foreign_key_under_the_registered_key_id_is_refused(emulator: Any) -> None:
    info = {**service_account_info(emulator), "private_key": foreign_key_pem()}
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=[EVENTS], subject="alice@example.com"
    )
    with pytest.raises(RefreshError, match=r"invalid_grant: Invalid JWT Signature\."):
        credentials.refresh(_request())


def test_an_unknown_key_id_is_refused(emulator: Any) -> None:
    info = {**service_account_info(emulator), "private_key_id": "0" * 40}
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=[EVENTS], subject="alice@example.com"
    )
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(_request())


def test_an_unknown_service_account_is_refused(emulator: Any) -> None:
    info = {**service_account_info(emulator), "client_email": "ghost@demo-project.iam.gserviceaccount.com"}
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[EVENTS])
    with pytest.raises(RefreshError, match="invalid_grant: Invalid grant: account not found"):
        credentials.refresh(_request())


def test_a_tampered_assertion_is_refused(emulator: Any) -> None:
    header, _payload, signature = _assertion(emulator).split(".")
    other = _assertion(emulator, sub="bob@example.com").split(".")[1]
    response = _post_assertion(emulator, f"{header}.{other}.{signature}")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": int(time.time()) + 7200}, id="lives-longer-than-an-hour"),
        pytest.param({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3700}, id="issued-in-the-future"),
    ],
)
def test_assertion_time_window_is_enforced(emulator: Any, claims: dict[str, int]) -> None:
    response = _post_assertion(emulator, _assertion(emulator, **claims))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("Invalid JWT: Token must be a short-lived token (60 minutes)")


def test_assertion_for_another_audience_is_refused(emulator: Any) -> None:
    response = _post_assertion(emulator, _assertion(emulator, aud="https://example.com/token"))
    assert response.status_code == 400
    assert "audience" in response.json()["error_description"]


def test_the_emulators_own_token_url_is_an_accepted_audience(emulator: Any) -> None:
    response = _post_assertion(emulator, _assertion(emulator, aud=f"{emulator.url}/token"))
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "expires_in", "token_type"}


def test_assertion_without_scope_is_invalid_scope(emulator: Any) -> None:
    response = _post_assertion(emulator, _assertion(emulator, scope=None, sub=None))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_unsupported_grant_type(emulator: Any) -> None:
    response = requests.post(f"{emulator.url}/token", data={"grant_type": "password"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_assertion_is_invalid_request(emulator: Any) -> None:
    response = requests.post(
        f"{emulator.url}/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "Missing required parameter: assertion"}


def test_token_ttl_is_settable(emulator: Any) -> None:
    control(emulator, "PUT", "settings", {"token_ttl_seconds": 120})
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS])
    credentials.refresh(_request())
    utc_now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # google-auth's expiry is naive UTC
    remaining = (credentials.expiry - utc_now).total_seconds()
    assert 60 < remaining <= 120


# --- refresh-token grant ------------------------------------------------------------------------------------
def test_refresh_token_grant_with_authorized_user_credentials(emulator: Any) -> None:
    credentials = authorized_user_credentials(emulator)
    credentials.refresh(_request())
    stored = emulator.emulator.state.access_tokens[credentials.token]
    assert (stored.principal, stored.kind, stored.via_dwd) == ("alice@example.com", "user", False)
    assert sorted(stored.scopes) == sorted(GRANTED)
    (entry,) = _token_requests(emulator)
    assert (entry["grant_type"], entry["sub"]) == ("refresh_token", "alice@example.com")
    assert "client_secret" not in entry
    assert emulator.emulator.state.demo["oauth_client"]["client_secret"] not in str(entry)
    assert emulator.emulator.state.demo["oauth_client"]["refresh_token"] not in str(entry)


def test_refresh_token_grant_narrowed_to_requested_scopes(emulator: Any) -> None:
    credentials = authorized_user_credentials(emulator, scopes=[FREEBUSY])
    credentials.refresh(_request())
    assert emulator.emulator.state.access_tokens[credentials.token].scopes == [FREEBUSY]
    assert credentials.granted_scopes == [FREEBUSY]


def test_refresh_token_grant_beyond_the_original_grant_is_invalid_scope(emulator: Any) -> None:
    credentials = authorized_user_credentials(emulator, scopes=[FREEBUSY, f"{AUTH}drive"])
    with pytest.raises(RefreshError, match="invalid_scope"):
        credentials.refresh(_request())


def test_refresh_with_wrong_client_secret_is_invalid_client(emulator: Any) -> None:
    from google.oauth2.credentials import Credentials

    client = emulator.emulator.state.demo["oauth_client"]
    credentials = Credentials(
        token=None,
        refresh_token=client["refresh_token"],
        client_id=client["client_id"],
        client_secret="wrong",
        token_uri=f"{emulator.url}/token",
    )
    with pytest.raises(RefreshError, match="invalid_client"):
        credentials.refresh(_request())
    assert _token_requests(emulator)[0]["status"] == 401


def test_revoked_refresh_token_is_invalid_grant(emulator: Any) -> None:
    emulator.emulator.state.refresh_tokens.clear()
    with pytest.raises(RefreshError, match=r"invalid_grant: Token has been expired or revoked\."):
        authorized_user_credentials(emulator).refresh(_request())


# --- ID tokens through the token endpoint (IDTokenCredentials) ------------------------------------------------
@pytest.mark.usefixtures("machine_time")
def test_service_account_id_token_via_target_audience(emulator: Any) -> None:
    credentials = service_account.IDTokenCredentials.from_service_account_info(
        service_account_info(emulator), target_audience="https://sync.example.run.app"
    )
    credentials.refresh(_request())
    claims = id_token.verify_token(
        credentials.token,
        _request(),
        audience="https://sync.example.run.app",
        certs_url=f"{emulator.url}/oauth2/v1/certs",
    )
    assert claims["email"] == "calendar-booking@demo-project.iam.gserviceaccount.com"
    assert claims["iss"] == emulator.url


# --- an expired access token is refreshed transparently by the client ----------------------------------------
def _calendar_ready(server: Any) -> bool:
    return any(route.method_id == "calendar.calendarList.list" for route in server.emulator._routes.values())


def test_expired_token_gets_401_and_the_client_refreshes_transparently(emulator: Any) -> None:
    if not _calendar_ready(emulator):
        pytest.skip("emulator/calendar_lists.py has no calendarList.list yet")
    credentials = delegated_credentials(emulator, "alice@example.com", [f"{AUTH}calendar.calendarlist.readonly"])
    service = calendar_service(emulator, credentials)
    service.calendarList().list().execute()
    first = credentials.token
    assert control(emulator, "POST", "expire-tokens")["expired"] >= 1

    result = service.calendarList().list().execute()

    assert result["kind"] == "calendar#calendarList"
    assert credentials.token != first
    statuses = [(entry["method"], entry["status"]) for entry in control(emulator, "GET", "requests")["requests"]]
    assert statuses == [
        ("oauth2.token", 200),
        ("calendar.calendarList.list", 200),
        ("calendar.calendarList.list", 401),
        ("oauth2.token", 200),
        ("calendar.calendarList.list", 200),
    ]
