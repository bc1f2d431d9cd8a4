"""The sharing function in each credentials mode, the roles taking effect for the grantee, and the local gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from emulator.demo import SHARING_SERVICE_ACCOUNT as SERVICE_ACCOUNT
from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from shared.runtime import set_runtime
from tests.helpers.clients import calendar_service, delegated_credentials, id_token, secret_manager_client
from tests.helpers.function_app import function_app
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import SHARING_SECRET as SECRET
from tests.helpers.support import make_config, make_runtime, requests_log

AUTH = "https://www.googleapis.com/auth/"
ADMIN, ALICE, BOB, CAROL = "admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com"
AUDIENCE = "http://localhost/"
LATEST = 'sharing_secret = "projects/demo-project/secrets/sharing-credentials/versions/latest"'


@pytest.fixture
def configure(emulator: Any, tmp_path: Any) -> Iterator[Any]:
    def install(replace: dict[str, str]) -> Any:
        config = make_config(emulator, tmp_path / "snapshot", replace=replace)
        set_runtime(make_runtime(emulator, config=config))
        return function_app("sharing").test_client()

    yield install
    set_runtime(None)


@pytest.fixture
def client(installed_runtime: Any) -> Any:
    return function_app("sharing").test_client()


def headers(server: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {id_token(server, ADMIN, AUDIENCE)}"}


def acl(server: Any, calendar_id: str) -> dict[str, str]:
    state = server.emulator.state
    with state.lock:
        return {rid: rule.role for rid, rule in state.calendars[calendar_id].acl.items() if rule.role != "none"}


def mode(name: str) -> dict[str, str]:
    return {"[sharing]\n": f'[sharing]\nmode = "{name}"\n'}


def as_user(server: Any, email: str, *scopes: str) -> Any:
    names = scopes or ("calendar.events", "calendar.freebusy")
    return calendar_service(server, delegated_credentials(server, email, [AUTH + s for s in names]))


def google_error(caught: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    body = json.loads(caught.value.content)["error"]
    return int(body["code"]), str(body["errors"][0]["reason"])


# --- credentials modes --------------------------------------------------------------------------------------
def test_delegated_mode_acts_as_the_owner(client: Any, emulator: Any) -> None:
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert response.status_code == 201
    [write] = requests_log(emulator, "calendar.acl.insert")
    assert write["principal"] == ALICE
    tokens = requests_log(emulator, "oauth2.token")
    assert {t["sub"] for t in tokens} == {ALICE}
    assert sorted(tokens[0]["scopes"]) == sorted([AUTH + "calendar.acls", AUTH + "calendar.calendarlist.readonly"])


def test_delegated_mode_refuses_an_unknown_owner_as_bad_input(client: Any, emulator: Any) -> None:
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "owner": "nobody@example.com", "scope": {"type": "user", "value": BOB},
        "role": "reader"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert set(error["details"]["fields"]) == {"owner"}
    assert "nobody@example.com" in error["message"]


def test_direct_mode_acts_as_the_service_account(configure: Any, emulator: Any) -> None:
    # alice lets the service account manage sharing of Team Holidays (DESIGN mode 2, with "owner" for ACLs).
    as_user(emulator, ALICE, "calendar.acls").acl().insert(
        calendarId=TEAM_HOLIDAYS_ID, body={"scope": {"type": "user", "value": SERVICE_ACCOUNT}, "role": "owner"},
        sendNotifications=False,
    ).execute()
    client = configure(mode("direct"))
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": TEAM_HOLIDAYS_ID, "scope": {"type": "user", "value": BOB}, "role": "writer"})
    assert response.status_code == 201, response.get_json()
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{BOB}"] == "writer"
    setup, write = requests_log(emulator, "calendar.acl.insert")
    assert (setup["principal"], write["principal"]) == (ALICE, SERVICE_ACCOUNT)
    assert [t["sub"] for t in requests_log(emulator, "oauth2.token")] == [ALICE, None]
    # `owner` is not needed (and not used) in direct mode.
    listed = client.get("/shares", query_string={"calendar": TEAM_HOLIDAYS_ID, "owner": CAROL},
                        headers=headers(emulator))
    assert listed.status_code == 200
    assert {r["id"] for r in listed.get_json()["rules"]} >= {f"user:{SERVICE_ACCOUNT}", f"user:{BOB}"}
    # A shared calendar is not on the service account's own calendar list, so it is not found by name.
    by_name = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "scope": {"type": "user", "value": CAROL}, "role": "reader"})
    assert by_name.status_code == 404
    assert f"calendar list of {SERVICE_ACCOUNT}" in by_name.get_json()["error"]["message"]


def test_direct_mode_on_a_calendar_not_shared_with_the_service_account(configure: Any, emulator: Any) -> None:
    client = configure(mode("direct"))
    before = acl(emulator, ALICE)
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": ALICE, "scope": {"type": "user", "value": BOB}, "role": "writer"})
    assert response.status_code == 404
    assert SERVICE_ACCOUNT in response.get_json()["error"]["message"]
    assert acl(emulator, ALICE) == before


def test_authorized_user_mode_acts_as_the_grants_user(configure: Any, emulator: Any) -> None:
    grant = emulator.emulator.state.demo["oauth_client"]
    info = {"type": "authorized_user", "client_id": grant["client_id"], "client_secret": grant["client_secret"],
            "refresh_token": grant["refresh_token"]}
    added = secret_manager_client(emulator).add_secret_version(
        request={"parent": SECRET, "payload": {"data": json.dumps(info).encode()}}
    )
    version = str(added.name).rsplit("/", 1)[1]
    client = configure({**mode("authorized_user"), LATEST: LATEST.replace("latest", version)})
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert response.status_code == 201, response.get_json()
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{BOB}"] == "reader"
    [write] = requests_log(emulator, "calendar.acl.insert")
    assert write["principal"] == grant["subject"]
    assert {t["grant_type"] for t in requests_log(emulator, "oauth2.token")} == {"refresh_token"}
    primary = client.post("/shares", headers=headers(emulator), json={
        "calendar": "primary", "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert primary.get_json()["calendarId"] == grant["subject"]


def test_authorized_user_mode_with_a_service_account_key_is_an_operator_error(configure: Any, emulator: Any) -> None:
    client = configure(mode("authorized_user"))
    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_error"
    assert "authorized_user" in response.get_json()["error"]["message"]


# --- the role takes effect for the grantee ----------------------------------------------------------------
def test_reader_lets_the_user_list_the_calendars_events(client: Any, emulator: Any) -> None:
    bob = as_user(emulator, BOB)
    before = bob.events().list(calendarId=ALICE, singleEvents=True).execute()
    assert before["accessRole"] == "freeBusyReader"  # the domain's default: busy blocks only
    assert before["items"] and not any("summary" in e for e in before["items"])

    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": ALICE, "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert response.status_code == 201

    after = bob.events().list(calendarId=ALICE, singleEvents=True).execute()
    assert after["accessRole"] == "reader"
    assert "Daily stand-up" in {e.get("summary") for e in after["items"]}


def test_free_busy_reader_lets_the_user_see_free_busy_only(client: Any, emulator: Any) -> None:
    # Team Holidays is readable by the whole domain; take that away first, so bob has no access at all.
    revoked = client.delete("/shares", headers=headers(emulator), query_string={
        "calendar": "Team Holidays", "owner": ALICE, "rule": "domain:example.com"})
    assert revoked.status_code == 200
    start = (current_clock().now() + timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
    as_user(emulator, ALICE).events().insert(calendarId=TEAM_HOLIDAYS_ID, body={
        "summary": "Offsite planning", "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=2)).isoformat()}}).execute()

    bob = as_user(emulator, BOB)
    window = {"timeMin": (start - timedelta(days=1)).isoformat(), "timeMax": (start + timedelta(days=1)).isoformat(),
              "items": [{"id": TEAM_HOLIDAYS_ID}]}
    with pytest.raises(HttpError) as caught:
        bob.events().list(calendarId=TEAM_HOLIDAYS_ID).execute()
    assert google_error(caught) == (404, "notFound")
    no_access = bob.freebusy().query(body=window).execute()["calendars"][TEAM_HOLIDAYS_ID]
    assert no_access.get("errors")

    response = client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB},
        "role": "freeBusyReader"})
    assert response.status_code == 201

    busy = bob.freebusy().query(body=window).execute()["calendars"][TEAM_HOLIDAYS_ID]
    assert not busy.get("errors")
    assert [(b["start"], b["end"]) for b in busy["busy"]] == [
        (start.strftime("%Y-%m-%dT%H:%M:%SZ"), (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    ]
    # No event detail: events.list is either refused or answers detail-free busy blocks (the emulator does the
    # latter, with accessRole freeBusyReader).
    try:
        listed = bob.events().list(calendarId=TEAM_HOLIDAYS_ID, singleEvents=True).execute()
    except HttpError as refused:
        listed = {"status": refused.resp.status}
    if "status" in listed:
        assert listed["status"] in (403, 404)
    else:
        assert listed["accessRole"] == "freeBusyReader"
        assert listed["items"]
        assert all(set(e) & {"summary", "description", "attendees", "location"} == set() for e in listed["items"])
    # ...and nothing to write with.
    with pytest.raises(HttpError) as caught:
        bob.events().insert(calendarId=TEAM_HOLIDAYS_ID, body={
            "summary": "x", "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()}}).execute()
    assert google_error(caught)[0] == 403


def test_revoking_takes_access_away(client: Any, emulator: Any) -> None:
    client.post("/shares", headers=headers(emulator), json={
        "calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": CAROL}, "role": "writer"})
    carol = as_user(emulator, CAROL)
    assert carol.events().list(calendarId=TEAM_HOLIDAYS_ID).execute()["accessRole"] == "writer"
    client.delete("/shares", headers=headers(emulator), query_string={
        "calendar": "Team Holidays", "owner": ALICE, "rule": f"user:{CAROL}"})
    assert carol.events().list(calendarId=TEAM_HOLIDAYS_ID).execute()["accessRole"] == "reader"  # the domain rule


# --- the local gateway (`make run`) -------------------------------------------------------------------------
def test_the_gateway_serves_sharing_under_its_prefix(installed_runtime: Any, emulator: Any) -> None:
    from werkzeug.test import Client

    from devserver.gateway import gateway_app

    base = "http://127.0.0.1:8080"
    token = id_token(emulator, ADMIN, f"{base}/sharing")
    gateway = Client(gateway_app(("sharing",)))
    response = gateway.post("/sharing/shares", base_url=base, headers={"Authorization": f"Bearer {token}"}, json={
        "calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "reader"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{BOB}"] == "reader"
    # A token minted for another function's URL is refused here.
    other = id_token(emulator, ADMIN, f"{base}/sync")
    refused = gateway.get("/sharing/shares", base_url=base, headers={"Authorization": f"Bearer {other}"},
                          query_string={"calendar": "Team Holidays", "owner": ALICE})
    assert refused.status_code == 401
