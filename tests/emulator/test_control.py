"""The control API under /_emulator/ and the emulator's error shapes for bad requests."""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import pytest
import requests
from google.api_core import exceptions
from google.auth import exceptions as auth_exceptions
from google.oauth2 import id_token

from emulator.clock import CLOCK
from tests.helpers.clients import control, delegated_credentials, secret_manager_client, storage_client
from tests.helpers.clients import id_token as mint

SECRET = "projects/demo-project/secrets/calendar-credentials"
EVENTS = "https://www.googleapis.com/auth/calendar.events"


def _raw(server: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{server.url}{path}", timeout=10, **kwargs)


def _assert_google_error(response: requests.Response, code: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == code
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["errors"], list)
    assert error["errors"][0]["message"]
    if reason is not None:
        assert error["errors"][0]["reason"] == reason
    return dict(error)


def test_health(emulator: Any) -> None:
    assert control(emulator, "GET", "health") == {"status": "ok", "url": emulator.url}


def test_the_demo_domain(emulator: Any) -> None:
    state = control(emulator, "GET", "state")
    assert set(state["users"]) == {"alice@example.com", "bob@example.com", "carol@example.com", "admin@example.com"}
    assert state["domains"] == ["example.com"]
    assert state["groups"]["team@example.com"] == ["alice@example.com", "bob@example.com"]
    account = state["service_accounts"]["calendar-booking@demo-project.iam.gserviceaccount.com"]
    assert account["client_id"].isdigit()
    # Least privilege: two delegation clients, booking/sync's and sharing's, each with only its scopes.
    assert sorted(state["dwd_grants"][account["client_id"]]) == sorted(
        f"https://www.googleapis.com/auth/{s}" for s in ("calendar.events", "calendar.freebusy")
    )
    sharing = state["service_accounts"]["calendar-sharing@demo-project.iam.gserviceaccount.com"]
    assert sorted(state["dwd_grants"][sharing["client_id"]]) == sorted(
        f"https://www.googleapis.com/auth/{s}" for s in ("calendar.acls", "calendar.calendarlist.readonly")
    )
    assert state["metadata_identity"] == "booking-runtime@demo-project.iam.gserviceaccount.com"
    assert state["token_creators"]["calendar-booking@demo-project.iam.gserviceaccount.com"] == [
        "serviceAccount:booking-runtime@demo-project.iam.gserviceaccount.com",
        "serviceAccount:sync-runtime@demo-project.iam.gserviceaccount.com",
    ]
    assert [v["number"] for v in state["secrets"][SECRET]["versions"]] == [1]
    assert state["buckets"] == {"demo-project-availability": {}}
    demo = state["demo"]
    assert demo["admins"] == ["admin@example.com"]
    assert demo["scheduler"] == "scheduler@demo-project.iam.gserviceaccount.com"
    assert set(demo["oauth_client"]) == {"client_id", "client_secret", "refresh_token", "subject"}
    assert demo["service_account_key"]["token_uri"] == f"{emulator.url}/token"
    assert {"alice@example.com", "bob@example.com", "carol@example.com"} <= set(state["calendars"])


def test_reset_to_empty_and_back_to_demo(emulator: Any) -> None:
    client = secret_manager_client(emulator)
    assert control(emulator, "POST", "reset", {"empty": True})["demo"] is False
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert control(emulator, "GET", "state")["users"] == {}

    control(emulator, "POST", "reset")
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").name.endswith("/versions/1")


def test_dump_and_load_state_round_trip(emulator: Any) -> None:
    client = secret_manager_client(emulator)
    dump = control(emulator, "GET", "state")
    client.add_secret_version(parent=SECRET, payload={"data": b"later"})
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").name.endswith("/versions/2")

    control(emulator, "PUT", "state", dump)

    assert client.access_secret_version(name=f"{SECRET}/versions/latest").name.endswith("/versions/1")
    assert control(emulator, "GET", "state") == dump


def test_load_rejects_a_non_state(emulator: Any) -> None:
    response = _raw(emulator, "PUT", "/_emulator/state", json={"users": {"x": {"nope": 1}}})
    _assert_google_error(response, 400, "invalid")


def test_settings(emulator: Any) -> None:
    settings = control(emulator, "PUT", "settings", {"token_ttl_seconds": 30, "user_rate_limit_per_second": 5})
    assert settings["token_ttl_seconds"] == 30
    assert settings["user_rate_limit_per_second"] == 5
    assert control(emulator, "GET", "settings") == settings
    _assert_google_error(_raw(emulator, "PUT", "/_emulator/settings", json={"nope": 1}), 400, "invalid")
    _assert_google_error(_raw(emulator, "PUT", "/_emulator/settings", json={"token_ttl_seconds": "x"}), 400)


def test_expire_tokens(emulator: Any) -> None:
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS])
    credentials.refresh(google.auth.transport.requests.Request())
    assert control(emulator, "POST", "expire-tokens") == {"expired": 1}
    assert control(emulator, "POST", "expire-tokens") == {"expired": 0}
    token = emulator.emulator.state.access_tokens[credentials.token]
    assert token.expires_at < CLOCK.now()


def test_request_log_filter_clear_and_counts(emulator: Any) -> None:
    client = secret_manager_client(emulator)
    client.access_secret_version(name=f"{SECRET}/versions/latest")
    client.access_secret_version(name=f"{SECRET}/versions/1")
    storage_client(emulator).bucket("demo-project-availability").blob("x").upload_from_string(b"x")

    everything = control(emulator, "GET", "requests")
    assert everything["count"] == len(everything["requests"]) >= 3
    secrets = control(emulator, "GET", "requests?method=secretmanager.*")["requests"]
    assert [(e["method"], e["httpMethod"], e["status"]) for e in secrets] == [
        ("secretmanager.versions.access", "GET", 200)
    ] * 2
    assert secrets[0]["path"] == f"/v1/{SECRET}/versions/latest:access"

    counts = control(emulator, "GET", "counts")
    assert counts["counts"]["secretmanager.versions.access"] == 2
    assert counts["counts"]["storage.objects.insert"] == 1
    assert counts["total"] == sum(counts["counts"].values())
    assert control(emulator, "GET", "counts?method=storage.*")["counts"] == {
        k: v for k, v in counts["counts"].items() if k.startswith("storage.")
    }
    assert not any(e["method"].startswith("control.") for e in everything["requests"])

    control(emulator, "DELETE", "requests")
    assert control(emulator, "GET", "requests") == {"requests": [], "count": 0}
    assert control(emulator, "GET", "counts") == {"counts": {}, "total": 0}


def test_mailbox(emulator: Any) -> None:
    assert control(emulator, "GET", "mailbox") == {"messages": [], "count": 0}
    message = {"to": "visitor@example.org", "kind": "invitation", "eventId": "abcde12345"}
    emulator.emulator.state.mailbox.append(message)
    assert control(emulator, "GET", "mailbox") == {"messages": [message], "count": 1}
    control(emulator, "DELETE", "mailbox")
    assert control(emulator, "GET", "mailbox")["count"] == 0


# --- ID tokens ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("certs", ["/oauth2/v1/certs", "/oauth2/v3/certs"])
@pytest.mark.usefixtures("machine_time")
def test_id_token_verifies_with_google_auth_against_both_certs_urls(emulator: Any, certs: str) -> None:
    token = mint(emulator, "admin@example.com", audience="https://sharing.example.run.app")
    claims = id_token.verify_token(
        token,
        google.auth.transport.requests.Request(),
        audience="https://sharing.example.run.app",
        certs_url=f"{emulator.url}{certs}",
    )
    assert claims["email"] == "admin@example.com"
    assert claims["email_verified"] is True
    assert claims["iss"] == emulator.url
    assert claims["aud"] == "https://sharing.example.run.app"
    assert claims["sub"].isdigit()
    assert len(claims["sub"]) == 21
    assert claims["exp"] - claims["iat"] == 3600
    assert mint(emulator, "admin@example.com") != mint(emulator, "bob@example.com")


@pytest.mark.usefixtures("machine_time")
def test_id_token_defaults_and_wrong_audience(emulator: Any) -> None:
    token = mint(emulator, "scheduler@demo-project.iam.gserviceaccount.com")
    request = google.auth.transport.requests.Request()
    claims = id_token.verify_token(token, request, audience=emulator.url, certs_url=f"{emulator.url}/oauth2/v1/certs")
    assert claims["email"] == "scheduler@demo-project.iam.gserviceaccount.com"
    with pytest.raises(ValueError, match="audience"):
        id_token.verify_token(token, request, audience="https://other", certs_url=f"{emulator.url}/oauth2/v1/certs")


@pytest.mark.usefixtures("machine_time")
def test_expired_id_token_is_rejected_by_google_auth(emulator: Any) -> None:
    token = control(emulator, "POST", "id-token", {"email": "admin@example.com", "lifetime": -60})["token"]
    with pytest.raises(ValueError, match="expired"):
        id_token.verify_token(
            token,
            google.auth.transport.requests.Request(),
            audience=emulator.url,
            certs_url=f"{emulator.url}/oauth2/v1/certs",
        )


def test_id_token_signed_by_a_foreign_key_fails_verification(emulator: Any) -> None:
    from google.auth import crypt, jwt

    from tests.helpers.clients import foreign_key_pem

    kid = next(iter(_raw(emulator, "GET", "/oauth2/v1/certs").json()))
    signer = crypt.RSASigner.from_string(foreign_key_pem(), key_id=kid)
    forged = jwt.encode(signer, {"iss": emulator.url, "aud": "a", "email": "admin@example.com", "iat": 0, "exp": 9e9})
    with pytest.raises((ValueError, auth_exceptions.GoogleAuthError)):
        id_token.verify_token(
            forged, google.auth.transport.requests.Request(), audience="a", certs_url=f"{emulator.url}/oauth2/v1/certs"
        )


def test_id_token_requires_an_email(emulator: Any) -> None:
    _assert_google_error(_raw(emulator, "POST", "/_emulator/id-token", json={}), 400, "required")
    _assert_google_error(_raw(emulator, "POST", "/_emulator/id-token", json={"email": "x@y", "lifetime": "1"}), 400)


def test_openid_configuration_points_at_the_jwks(emulator: Any) -> None:
    config = _raw(emulator, "GET", "/.well-known/openid-configuration").json()
    assert config["issuer"] == emulator.url
    assert config["jwks_uri"] == f"{emulator.url}/oauth2/v3/certs"


# --- Google's error shapes for bad requests -----------------------------------------------------------------
def test_malformed_json_gets_a_google_parse_error(emulator: Any) -> None:
    headers = {"Content-Type": "application/json"}
    for path in ("/_emulator/faults", "/_emulator/state"):
        _assert_google_error(_raw(emulator, "PUT", path, data=b"{not json", headers=headers), 400, "parseError")
    _assert_google_error(_raw(emulator, "PUT", "/_emulator/faults", json=[1, 2]), 400)
    bad_storage = _raw(emulator, "POST", "/storage/v1/b?project=demo-project", data=b"{", headers=headers)
    _assert_google_error(bad_storage, 400, "parseError")


def test_malformed_json_to_secret_manager_is_a_bad_request(emulator: Any) -> None:
    response = _raw(
        emulator, "POST", f"/v1/{SECRET}:addVersion", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "errors" not in response.json()["error"]  # gRPC-transcoded shape


def test_unknown_path_is_a_google_404(emulator: Any) -> None:
    error = _assert_google_error(_raw(emulator, "GET", "/nothing/here"), 404, "notFound")
    assert "/nothing/here" in error["message"]
    _assert_google_error(_raw(emulator, "GET", "/_emulator/nothing"), 404, "notFound")


def test_wrong_method_is_a_google_405(emulator: Any) -> None:
    _assert_google_error(_raw(emulator, "DELETE", "/_emulator/health"), 405, "httpMethodNotAllowed")
    _assert_google_error(_raw(emulator, "GET", "/token"), 405, "httpMethodNotAllowed")


# --- the clock ------------------------------------------------------------------------------------------------
def test_the_clock_can_be_pinned_frozen_advanced_and_reset(emulator: Any) -> None:
    pinned = control(emulator, "POST", "clock", {"now": "2028-02-29T08:00:00Z", "frozen": True})
    assert pinned == {"now": "2028-02-29T08:00:00.000Z", "frozen": True, "pinned": True}
    assert control(emulator, "GET", "clock")["now"] == "2028-02-29T08:00:00.000Z"  # frozen: it stands still
    assert control(emulator, "POST", "clock", {"advance": "P1DT2H30M"})["now"] == "2028-03-01T10:30:00.000Z"
    assert control(emulator, "POST", "clock", {"advance": "-PT30M"})["now"] == "2028-03-01T10:00:00.000Z"
    running = control(emulator, "POST", "clock", {"frozen": False})
    assert running["frozen"] is False and running["now"].startswith("2028-03-01T10:00")
    control(emulator, "POST", "clock", {"reset": True})
    assert control(emulator, "GET", "clock")["pinned"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"now": "29/02/2028"}, "now"),
        ({"now": "2028-02-29T08:00:00"}, "now"),
        ({"advance": "5 minutes"}, "advance"),
        ({"advance": "PT"}, "advance"),
        ({"frozen": "yes"}, "frozen"),
        ({"when": "now"}, "when"),
    ],
)
def test_a_bad_clock_request_is_400_naming_the_field(emulator: Any, body: dict[str, Any], field: str) -> None:
    before = control(emulator, "GET", "clock")
    error = _assert_google_error(_raw(emulator, "POST", "/_emulator/clock", json=body), 400, "invalid")
    assert error["errors"][0]["location"] == field
    assert control(emulator, "GET", "clock")["now"][:16] == before["now"][:16]


def test_what_google_stamps_follows_the_pinned_clock(emulator: Any) -> None:
    from tests.helpers.clients import calendar_service

    control(emulator, "POST", "clock", {"now": "2027-10-31T00:30:00+02:00", "frozen": True})
    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS])
    event = calendar_service(emulator, credentials).events().insert(calendarId="alice@example.com", body={
        "start": {"dateTime": "2027-11-02T10:00:00Z"}, "end": {"dateTime": "2027-11-02T11:00:00Z"}}).execute()
    assert event["created"].startswith("2027-10-30T22:30:00")
    assert event["updated"].startswith("2027-10-30T22:30:00")
    claims = id_token.verify_token(mint(emulator, "admin@example.com"), google.auth.transport.requests.Request(),
                                   audience=emulator.url, certs_url=f"{emulator.url}/oauth2/v1/certs",
                                   clock_skew_in_seconds=10**9)  # google-auth judges time by the machine's clock
    assert claims["iat"] == int(CLOCK.now())
    token = emulator.emulator.state.access_tokens[credentials.token]
    assert token.expires_at == CLOCK.now() + emulator.emulator.state.settings.token_ttl_seconds


def test_advancing_the_clock_expires_tokens_and_clients_refresh(emulator: Any) -> None:
    from tests.helpers.clients import calendar_service

    credentials = delegated_credentials(emulator, "alice@example.com", [EVENTS])
    service = calendar_service(emulator, credentials)
    service.events().list(calendarId="alice@example.com", maxResults=1).execute()
    first = credentials.token
    control(emulator, "POST", "clock", {"advance": "PT2H"})
    service.events().list(calendarId="alice@example.com", maxResults=1).execute()  # 401, refresh, retry
    assert credentials.token != first
    assert emulator.emulator.state.access_tokens[first].expires_at < CLOCK.now()


def test_the_demo_schedule_is_seeded_from_the_clocks_today(emulator: Any) -> None:
    import datetime as dt

    from emulator.demo import build_demo_state

    control(emulator, "POST", "clock", {"now": "2028-02-29T12:00:00Z", "frozen": True})
    state = build_demo_state(emulator.url)
    starts = sorted(
        dt.datetime.fromisoformat(e["start"]["dateTime"]).date()
        for e in state.calendars["alice@example.com"].events.values() if "dateTime" in e.get("start", {})
    )
    assert starts[0] > dt.date(2028, 2, 29) and starts[-1] <= dt.date(2028, 2, 29) + dt.timedelta(days=21)
