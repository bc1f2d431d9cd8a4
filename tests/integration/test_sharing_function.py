"""The sharing function end to end: functions-framework app -> shared.sharing -> real Google clients -> emulator.

Every assertion about what changed in Google reads the emulator's own state, never the function's answer alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from emulator.state import AclRule, Calendar
from shared.runtime import set_runtime
from tests.helpers.clients import control, id_token
from tests.helpers.function_app import function_app
from tests.helpers.support import clear_log, counts, make_config, make_runtime, requests_log, set_faults

ADMIN, ALICE, BOB, CAROL = "admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com"
TEAM = "team@example.com"
AUDIENCE = "http://localhost/"  # request.url_root of Flask's test client
ALLOWED_ROLES = ["none", "freeBusyReader", "reader", "writer"]
SCOPES = [
    pytest.param({"type": "user", "value": BOB}, id="user"),
    pytest.param({"type": "group", "value": TEAM}, id="group"),
    pytest.param({"type": "domain", "value": "example.com"}, id="domain"),
]


# --- helpers -------------------------------------------------------------------------------------------------
@pytest.fixture
def client(installed_runtime: Any) -> Any:
    return function_app("sharing").test_client()


@pytest.fixture
def configure(emulator: Any, tmp_path: Any) -> Iterator[Any]:
    """Install a runtime whose config is the example's with some text replaced; returns a test client."""

    def install(replace: dict[str, str]) -> Any:
        config = make_config(emulator, tmp_path / "snapshot", replace=replace)
        set_runtime(make_runtime(emulator, config=config))
        return function_app("sharing").test_client()

    yield install
    set_runtime(None)


def auth(server: Any, email: str = ADMIN, audience: str = AUDIENCE) -> dict[str, str]:
    return {"Authorization": f"Bearer {id_token(server, email, audience)}"}


def post(client: Any, server: Any, body: Any, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", None) or auth(server)
    return client.post("/shares", json=body, headers=headers, **kwargs)


def share_body(
    calendar: str, scope: dict[str, str], role: str, owner: str | None = ALICE, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"calendar": calendar, "scope": scope, "role": role, **extra}
    if owner is not None:
        body["owner"] = owner
    return body


def acl(server: Any, calendar_id: str) -> dict[str, str]:
    """The calendar's effective rules in the emulator: rule id -> role (deleted rules, role none, left out)."""
    state = server.emulator.state
    with state.lock:
        return {rid: rule.role for rid, rule in state.calendars[calendar_id].acl.items() if rule.role != "none"}


def rule_id(scope: dict[str, str]) -> str:
    return "default" if scope["type"] == "default" else f"{scope['type']}:{scope['value']}"


def acl_writes(server: Any) -> dict[str, int]:
    every = counts(server)
    return {m: every.get(f"calendar.acl.{m}", 0) for m in ("insert", "patch", "update", "delete")}


def calendar_calls(server: Any) -> list[dict[str, Any]]:
    return requests_log(server, "calendar.*")


def add_calendar(server: Any, calendar_id: str, summary: str, *, owner: str = ALICE) -> None:
    state = server.emulator.state
    with state.lock:
        calendar = Calendar(id=calendar_id, summary=summary, time_zone="Europe/Berlin", owner=owner)
        calendar.acl[f"user:{owner}"] = AclRule(f"user:{owner}", "user", owner, "owner", "1")
        state.calendars[calendar_id] = calendar
        state.calendar_lists.setdefault(owner, []).append(calendar_id)


def error_of(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


# --- every scope type and role, by name and by id ------------------------------------------------------
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ALLOWED_ROLES)
def test_share_by_name_every_scope_and_role(client: Any, emulator: Any, scope: dict[str, str], role: str) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    existed = rule_id(scope) in before
    response = post(client, emulator, share_body("Team Holidays", scope, role))
    assert response.status_code == (200 if existed else 201), response.get_json()
    assert response.get_json() == {
        "calendarId": TEAM_HOLIDAYS_ID,
        "rule": {"id": rule_id(scope), "scope": scope, "role": role},
    }
    after = acl(emulator, TEAM_HOLIDAYS_ID)
    expected = {k: v for k, v in before.items() if k != rule_id(scope)}
    if role != "none":
        expected[rule_id(scope)] = role
    assert after == expected


@pytest.mark.parametrize("scope", SCOPES)
def test_share_by_id_on_a_primary_calendar(client: Any, emulator: Any, scope: dict[str, str]) -> None:
    response = post(client, emulator, share_body(ALICE, scope, "reader"))
    assert response.status_code in (200, 201)
    # alice's primary calendar already has a domain rule (freeBusyReader): that one is updated, not duplicated.
    assert response.status_code == (200 if scope["type"] == "domain" else 201)
    assert response.get_json()["calendarId"] == ALICE
    assert acl(emulator, ALICE)[rule_id(scope)] == "reader"
    assert acl(emulator, ALICE)[f"user:{ALICE}"] == "owner"


def test_scope_values_are_normalized_and_the_calendar_id_by_id_skips_the_calendar_list(
    client: Any, emulator: Any
) -> None:
    clear_log(emulator)
    response = post(client, emulator, share_body(TEAM_HOLIDAYS_ID, {"type": "user", "value": " Bob@Example.COM "},
                                                 "reader"))
    assert response.status_code == 201
    assert response.get_json()["rule"]["scope"] == {"type": "user", "value": BOB}
    methods = [r["method"] for r in calendar_calls(emulator)]
    assert methods == ["calendar.acl.list", "calendar.acl.insert"]


def test_name_matching_ignores_case_when_nothing_matches_exactly(client: Any, emulator: Any) -> None:
    response = post(client, emulator, share_body("team holidays", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 201
    assert response.get_json()["calendarId"] == TEAM_HOLIDAYS_ID


def test_primary_means_the_acting_users_own_calendar(client: Any, emulator: Any) -> None:
    response = post(client, emulator, share_body("primary", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 201
    assert response.get_json()["calendarId"] == ALICE
    assert acl(emulator, ALICE)[f"user:{BOB}"] == "reader"


# --- names that match several calendars or none -------------------------------------------------------------
def test_ambiguous_name_is_refused_with_the_candidates(client: Any, emulator: Any) -> None:
    other = "c_0second0holidays@group.calendar.google.com"
    add_calendar(emulator, other, "Team Holidays")
    before = {cid: acl(emulator, cid) for cid in (TEAM_HOLIDAYS_ID, other)}
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    assert error["details"]["field"] == "calendar"
    assert sorted(c["id"] for c in error["details"]["candidates"]) == sorted([TEAM_HOLIDAYS_ID, other])
    assert {c["summary"] for c in error["details"]["candidates"]} == {"Team Holidays"}
    assert TEAM_HOLIDAYS_ID in error["message"] and other in error["message"]
    assert {cid: acl(emulator, cid) for cid in (TEAM_HOLIDAYS_ID, other)} == before
    # The id of either one works.
    assert post(client, emulator, share_body(other, {"type": "user", "value": BOB}, "reader")).status_code == 201


def test_unknown_name_is_404_naming_the_list_searched(client: Any, emulator: Any) -> None:
    response = post(client, emulator, share_body("Board Meetings", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "Board Meetings" in error["message"] and f"calendar list of {ALICE}" in error["message"]
    assert error["details"]["searched"] == f"the calendar list of {ALICE}"
    assert error["details"]["calendarsSearched"] == 3  # her own, her "Booking claims" and Team Holidays


def test_unknown_id_is_404_naming_what_was_tried(client: Any, emulator: Any) -> None:
    missing = "c_nope@group.calendar.google.com"
    response = post(client, emulator, share_body(missing, {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 404
    message = error_of(response)["message"]
    assert f"No calendar with id {missing!r} is visible to {ALICE}" in message


def test_a_calendar_of_someone_else_is_not_found_for_the_acting_user(client: Any, emulator: Any) -> None:
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": CAROL}, "reader",
                                                 owner=BOB))
    assert response.status_code == 404
    assert f"calendar list of {BOB}" in error_of(response)["message"]


def test_name_lookup_reads_every_page_of_the_calendar_list(client: Any, emulator: Any) -> None:
    for n in range(300):
        add_calendar(emulator, f"c_filler{n:03d}@group.calendar.google.com", f"Filler {n}")
    add_calendar(emulator, "c_last0one@group.calendar.google.com", "Last One")
    clear_log(emulator)
    response = post(client, emulator, share_body("Last One", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 201
    assert response.get_json()["calendarId"] == "c_last0one@group.calendar.google.com"
    assert counts(emulator)["calendar.calendarList.list"] >= 2


# --- upsert ---------------------------------------------------------------------------------------------------
def test_sharing_the_same_scope_again_updates_instead_of_adding(client: Any, emulator: Any) -> None:
    scope = {"type": "user", "value": BOB}
    first = post(client, emulator, share_body("Team Holidays", scope, "reader"))
    assert first.status_code == 201
    clear_log(emulator)
    second = post(client, emulator, share_body(TEAM_HOLIDAYS_ID, {"type": "user", "value": BOB.upper()}, "writer"))
    assert second.status_code == 200
    assert second.get_json()["rule"] == {"id": f"user:{BOB}", "scope": scope, "role": "writer"}
    assert acl_writes(emulator) == {"insert": 0, "patch": 1, "update": 0, "delete": 0}
    state = emulator.emulator.state
    with state.lock:
        rules = [r for r in state.calendars[TEAM_HOLIDAYS_ID].acl.values() if r.scope_value == BOB]
    assert [(r.id, r.role) for r in rules] == [(f"user:{BOB}", "writer")]

    clear_log(emulator)
    third = post(client, emulator, share_body("Team Holidays", scope, "writer"))
    assert third.status_code == 200
    assert third.get_json()["rule"]["role"] == "writer"
    assert acl_writes(emulator) == {"insert": 0, "patch": 0, "update": 0, "delete": 0}


def test_send_notifications_is_passed_through_and_off_by_default(client: Any, emulator: Any) -> None:
    control(emulator, "DELETE", "mailbox")
    post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "reader"))
    assert control(emulator, "GET", "mailbox")["messages"] == []
    post(client, emulator, share_body("Team Holidays", {"type": "user", "value": CAROL}, "reader",
                                      sendNotifications=True))
    mail = control(emulator, "GET", "mailbox")["messages"]
    assert [(m["to"], m["kind"], m["role"]) for m in mail] == [(CAROL, "share", "reader")]


# --- list and delete ------------------------------------------------------------------------------------------
def test_list_shows_every_rule(client: Any, emulator: Any) -> None:
    post(client, emulator, share_body("Team Holidays", {"type": "group", "value": TEAM}, "writer"))
    response = client.get("/shares", query_string={"calendar": "Team Holidays", "owner": ALICE},
                          headers=auth(emulator))
    assert response.status_code == 200
    body = response.get_json()
    assert body["calendarId"] == TEAM_HOLIDAYS_ID
    assert sorted(body["rules"], key=lambda r: r["id"]) == [
        {"id": "domain:example.com", "scope": {"type": "domain", "value": "example.com"}, "role": "reader"},
        {"id": f"group:{TEAM}", "scope": {"type": "group", "value": TEAM}, "role": "writer"},
        {"id": f"user:{ALICE}", "scope": {"type": "user", "value": ALICE}, "role": "owner"},
    ]


def test_delete_by_rule_id(client: Any, emulator: Any) -> None:
    post(client, emulator, share_body(ALICE, {"type": "user", "value": BOB}, "writer"))
    query = {"calendar": ALICE, "owner": ALICE, "rule": f"user:{BOB}"}
    response = client.delete("/shares", query_string=query, headers=auth(emulator))
    assert response.status_code == 200
    assert response.get_json() == {
        "calendarId": ALICE,
        "rule": {"id": f"user:{BOB}", "scope": {"type": "user", "value": BOB}, "role": "none"},
    }
    assert f"user:{BOB}" not in acl(emulator, ALICE)
    again = client.delete("/shares", query_string=query, headers=auth(emulator))
    assert again.status_code == 404
    assert error_of(again)["details"]["rule"] == f"user:{BOB}"


def test_delete_by_name_of_the_domain_rule(client: Any, emulator: Any) -> None:
    query = {"calendar": "Team Holidays", "owner": ALICE, "rule": "domain:example.com"}
    response = client.delete("/shares", query_string=query, headers=auth(emulator))
    assert response.status_code == 200
    assert acl(emulator, TEAM_HOLIDAYS_ID) == {f"user:{ALICE}": "owner"}


# --- bulk -------------------------------------------------------------------------------------------------
def test_bulk_one_bad_item_does_not_stop_the_others(client: Any, emulator: Any) -> None:
    items = [
        share_body("Team Holidays", {"type": "user", "value": BOB}, "reader"),
        share_body("Team Holidays", {"type": "user", "value": CAROL}, "editor"),  # not a role
        share_body(ALICE, {"type": "group", "value": TEAM}, "writer"),
        share_body("Team Holidays", {"type": "default"}, "reader"),  # public: off in config
        share_body("Board Meetings", {"type": "user", "value": BOB}, "reader"),  # no such calendar
        "not an object",
        share_body("Team Holidays", {"type": "user", "value": BOB}, "writer"),  # the first item again: an update
    ]
    response = post(client, emulator, {"items": items})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201, 403, 404, 400, 200]
    assert results[0] == {"status": 201, "calendarId": TEAM_HOLIDAYS_ID,
                          "rule": {"id": f"user:{BOB}", "scope": {"type": "user", "value": BOB}, "role": "reader"}}
    assert results[1]["error"]["code"] == "invalid_request"
    assert set(results[1]["error"]["details"]["fields"]) == {"role"}
    assert results[3]["error"]["details"]["reason"] == "publicSharingDisabled"
    assert results[4]["error"]["code"] == "not_found"
    assert results[5]["error"]["details"]["fields"] == {"body": "a JSON object"}
    assert results[6]["rule"]["role"] == "writer"
    assert acl(emulator, TEAM_HOLIDAYS_ID) == {f"user:{ALICE}": "owner", "domain:example.com": "reader",
                                               f"user:{BOB}": "writer"}
    assert acl(emulator, ALICE)[f"group:{TEAM}"] == "writer"
    assert CAROL not in json.dumps(acl(emulator, TEAM_HOLIDAYS_ID))


def test_bulk_reads_each_calendar_list_and_acl_once(client: Any, emulator: Any) -> None:
    items = [share_body("Team Holidays", {"type": "user", "value": u}, "reader") for u in (BOB, CAROL, ADMIN)]
    clear_log(emulator)
    response = post(client, emulator, {"items": items})
    assert [r["status"] for r in response.get_json()["results"]] == [201, 201, 201]
    every = counts(emulator)
    assert (every["calendar.calendarList.list"], every["calendar.acl.list"], every["calendar.acl.insert"]) == (1, 1, 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": "x"}, "items"),
        ({"items": [{}], "owner": ALICE}, "owner"),
        ({"items": [{}] * 101}, "items"),
    ],
)
def test_bulk_envelope_errors_are_400(client: Any, emulator: Any, body: Any, field: str) -> None:
    response = post(client, emulator, body)
    assert response.status_code == 400
    assert field in error_of(response)["details"]["fields"]


# --- public and owner, allowed roles ---------------------------------------------------------------------------
def test_public_is_refused_by_default(client: Any, emulator: Any) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    response = post(client, emulator, share_body("Team Holidays", {"type": "default"}, "reader"))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["details"] == {"reason": "publicSharingDisabled", "setting": "sharing.allow_public",
                                "field": "scope.type"}
    assert "sharing.allow_public" in error["message"]
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before


def test_public_is_allowed_when_enabled(configure: Any, emulator: Any) -> None:
    client = configure({"allow_public = false": "allow_public = true\nallow_outside_domain = true"})
    response = post(client, emulator, share_body("Team Holidays", {"type": "default"}, "freeBusyReader"))
    assert response.status_code == 201
    assert response.get_json()["rule"] == {"id": "default", "scope": {"type": "default"}, "role": "freeBusyReader"}
    assert acl(emulator, TEAM_HOLIDAYS_ID)["default"] == "freeBusyReader"
    # Google allows the public at most `reader`: its refusal comes back with its reason.
    refused = post(client, emulator, share_body("Team Holidays", {"type": "default"}, "writer"))
    assert refused.status_code == 400
    assert error_of(refused)["details"]["reason"] == "illegalAccessRoleForDefault"
    assert acl(emulator, TEAM_HOLIDAYS_ID)["default"] == "freeBusyReader"


def test_owner_is_refused_by_default(client: Any, emulator: Any) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "owner"))
    assert response.status_code == 403
    assert error_of(response)["details"]["reason"] == "ownerRoleDisabled"
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before


def test_owner_is_allowed_when_enabled(configure: Any, emulator: Any) -> None:
    client = configure({
        "allow_owner = false": "allow_owner = true",
        'allowed_roles = ["none", "freeBusyReader", "reader", "writer"]':
            'allowed_roles = ["none", "freeBusyReader", "reader", "writer", "owner"]',
    })
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "owner"))
    assert response.status_code == 201
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{BOB}"] == "owner"
    # bob now manages the calendar's sharing himself.
    as_bob = post(client, emulator, share_body(TEAM_HOLIDAYS_ID, {"type": "user", "value": CAROL}, "reader",
                                               owner=BOB))
    assert as_bob.status_code == 201


def test_roles_outside_allowed_roles_are_refused(configure: Any, emulator: Any) -> None:
    client = configure({'allowed_roles = ["none", "freeBusyReader", "reader", "writer"]':
                        'allowed_roles = ["freeBusyReader", "reader"]'})
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "writer"))
    assert response.status_code == 403
    assert error_of(response)["details"] == {
        "reason": "roleNotAllowed", "setting": "sharing.allowed_roles", "allowedRoles": ["freeBusyReader", "reader"],
        "field": "role",
    }
    assert f"user:{BOB}" not in acl(emulator, TEAM_HOLIDAYS_ID)
    assert post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "reader")).status_code \
        == 201


# --- who may call -------------------------------------------------------------------------------------------
def _every_request(server: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("POST", {"json": share_body("Team Holidays", {"type": "user", "value": BOB}, "writer")}),
        ("POST", {"json": {"items": [share_body("Team Holidays", {"type": "user", "value": BOB}, "writer")]}}),
        ("GET", {"query_string": {"calendar": "Team Holidays", "owner": ALICE}}),
        ("DELETE", {"query_string": {"calendar": "Team Holidays", "owner": ALICE, "rule": "domain:example.com"}}),
    ]


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda server: {}, id="no-header"),
        pytest.param(lambda server: {"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param(lambda server: {"Authorization": "Basic YWRtaW46YWRtaW4="}, id="basic"),
        pytest.param(lambda server: {"Authorization": "Bearer not.a.jwt"}, id="garbage"),
        pytest.param(lambda server: auth(server, ADMIN, "https://other.example/"), id="wrong-audience"),
        pytest.param(
            lambda server: {"Authorization": "Bearer " + control(server, "POST", "id-token", {
                "email": ADMIN, "audience": AUDIENCE, "lifetime": -120})["token"]},
            id="expired",
        ),
        pytest.param(
            lambda server: {"Authorization": "Bearer " + ".".join(id_token(server, ADMIN, AUDIENCE).split(".")[:2])
                            + ".SIGNATURE_REMOVED_BY_GOOGLE"},
            id="stripped-signature-without-iam",
        ),
    ],
)
def test_no_valid_token_is_401_and_changes_nothing(client: Any, emulator: Any, make_headers: Any) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    headers = make_headers(emulator)
    clear_log(emulator)
    for method, kwargs in _every_request(emulator):
        response = client.open("/shares", method=method, headers=headers, **kwargs)
        assert response.status_code == 401, (method, response.get_json())
        assert error_of(response)["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before
    assert calendar_calls(emulator) == []


@pytest.mark.parametrize("who", [BOB, ALICE, "scheduler@demo-project.iam.gserviceaccount.com"])
def test_a_valid_token_of_a_non_admin_is_403_and_changes_nothing(client: Any, emulator: Any, who: str) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    headers = auth(emulator, who)
    clear_log(emulator)
    for method, kwargs in _every_request(emulator):
        response = client.open("/shares", method=method, headers=headers, **kwargs)
        assert response.status_code == 403, (method, response.get_json())
        error = error_of(response)
        assert error["code"] == "forbidden"
        assert who in error["message"] and "sharing.admins" in error["message"]
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before
    assert calendar_calls(emulator) == []


def test_the_identity_is_checked_before_the_body(client: Any, emulator: Any) -> None:
    response = client.post("/shares", data="{nonsense", content_type="application/json")
    assert response.status_code == 401


# --- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"value": BOB}, "role": "reader"}, {"scope.type"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user"}, "role": "reader"}, {"scope.value"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": "bob"}, "role": "reader"},
         {"scope.value"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "domain", "value": BOB}, "role": "reader"},
         {"scope.value"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "default", "value": "x"}, "role": "reader"},
         {"scope.value"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "anyone"}, "role": "reader"},
         {"scope.type"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "editor"},
         {"role"}),
        ({"calendar": "", "owner": "alice", "scope": {"type": "user", "value": BOB}}, {"calendar", "owner", "role"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "reader",
          "colour": "red"}, {"colour"}),
        ({"calendar": "Team Holidays", "owner": ALICE, "scope": {"type": "user", "value": BOB}, "role": "reader",
          "sendNotifications": "yes"}, {"sendNotifications"}),
        ({"calendar": "Team Holidays", "scope": {"type": "user", "value": BOB}, "role": "reader"}, {"owner"}),
    ],
)
def test_bad_input_is_400_naming_the_fields(client: Any, emulator: Any, body: Any, fields: set[str]) -> None:
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    response = post(client, emulator, body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert set(error["details"]["fields"]) == fields
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before


def test_body_must_be_json(client: Any, emulator: Any) -> None:
    headers = auth(emulator)
    assert client.post("/shares", data="calendar=x", headers=headers,
                       content_type="application/x-www-form-urlencoded").status_code == 415
    broken = client.post("/shares", data="{", headers=headers, content_type="application/json")
    assert broken.status_code == 400
    assert error_of(broken)["details"]["fields"] == {"body": "a JSON object"}
    assert client.post("/shares", json=[1], headers=headers).status_code == 400


@pytest.mark.parametrize(
    ("method", "query", "fields"),
    [
        ("GET", {"owner": ALICE}, {"calendar"}),
        ("GET", {"calendar": "Team Holidays", "owner": ALICE, "colour": "red"}, {"colour"}),
        ("DELETE", {"calendar": "Team Holidays", "owner": ALICE}, {"rule"}),
        ("DELETE", {"calendar": "Team Holidays", "owner": "not-an-email", "rule": "x"}, {"owner"}),
        ("DELETE", {"calendar": "Team Holidays", "rule": "domain:example.com"}, {"owner"}),
    ],
)
def test_bad_queries_are_400_naming_the_fields(
    client: Any, emulator: Any, method: str, query: dict[str, str], fields: set[str]
) -> None:
    response = client.open("/shares", method=method, query_string=query, headers=auth(emulator))
    assert response.status_code == 400
    assert set(error_of(response)["details"]["fields"]) == fields
    assert "domain:example.com" in acl(emulator, TEAM_HOLIDAYS_ID)


def test_unknown_routes_and_methods(client: Any, emulator: Any) -> None:
    assert client.get("/nope", headers=auth(emulator)).status_code == 404
    response = client.put("/shares", json={}, headers=auth(emulator))
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, POST"


# --- Google's refusals ---------------------------------------------------------------------------------------
def test_removing_the_last_owner_comes_back_with_googles_reason(client: Any, emulator: Any) -> None:
    # Team Holidays owned through a group only: alice is an owner as a member of team@.
    state = emulator.emulator.state
    with state.lock:
        rules = state.calendars[TEAM_HOLIDAYS_ID].acl
        del rules[f"user:{ALICE}"]
        rules[f"group:{TEAM}"] = AclRule(f"group:{TEAM}", "group", TEAM, "owner", "1")
    before = acl(emulator, TEAM_HOLIDAYS_ID)
    response = post(client, emulator, share_body("Team Holidays", {"type": "group", "value": TEAM}, "reader"))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert error["details"]["reason"] == "cannotRemoveLastCalendarOwnerFromAcl"
    assert error["details"]["googleStatus"] == 403
    assert TEAM_HOLIDAYS_ID in error["message"]
    deleted = client.delete("/shares", query_string={"calendar": TEAM_HOLIDAYS_ID, "owner": ALICE,
                                                     "rule": f"group:{TEAM}"}, headers=auth(emulator))
    assert deleted.status_code == 403
    assert error_of(deleted)["details"]["reason"] == "cannotRemoveLastCalendarOwnerFromAcl"
    assert acl(emulator, TEAM_HOLIDAYS_ID) == before


def test_changing_your_own_access_comes_back_with_googles_reason(client: Any, emulator: Any) -> None:
    response = client.delete("/shares", query_string={"calendar": "Team Holidays", "owner": ALICE,
                                                      "rule": f"user:{ALICE}"}, headers=auth(emulator))
    assert response.status_code == 403
    assert error_of(response)["details"]["reason"] == "cannotChangeOwnAcl"
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{ALICE}"] == "owner"


def test_an_unknown_group_comes_back_with_googles_reason(client: Any, emulator: Any) -> None:
    response = post(client, emulator, share_body("Team Holidays", {"type": "group", "value": "ghosts@example.com"},
                                                 "reader"))
    assert 400 <= response.status_code < 500
    assert error_of(response)["details"]["reason"] == "invalidScopeValue"


def test_acting_as_a_user_who_only_reads_the_calendar(client: Any, emulator: Any) -> None:
    # bob reads Team Holidays through the domain rule but does not own it: Google refuses, with its reason.
    response = post(client, emulator, share_body(TEAM_HOLIDAYS_ID, {"type": "user", "value": CAROL}, "reader",
                                                 owner=BOB))
    assert response.status_code == 403
    assert error_of(response)["details"]["reason"] == "requiredAccessLevel"


def test_google_unavailable_is_503_with_retry_after_not_500(client: Any, emulator: Any) -> None:
    set_faults(emulator, [{"method": "calendar.acl.insert", "kind": "503", "rate": 1.0}])
    response = post(client, emulator, share_body("Team Holidays", {"type": "user", "value": BOB}, "reader"))
    assert response.status_code == 503
    assert error_of(response)["code"] == "upstream_unavailable"
    assert "Retry-After" in response.headers


# --- logging ---------------------------------------------------------------------------------------------
def _log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_every_change_is_one_structured_line_without_the_token(
    client: Any, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = auth(emulator)
    token = headers["Authorization"].split()[1]
    capsys.readouterr()
    client.post("/shares", json=share_body("Team Holidays", {"type": "user", "value": BOB}, "reader"),
                headers=headers)
    client.post("/shares", json=share_body("Team Holidays", {"type": "user", "value": BOB}, "writer"),
                headers=headers)
    client.post("/shares", json=share_body("Team Holidays", {"type": "default"}, "reader"), headers=headers)
    client.delete("/shares", query_string={"calendar": "Team Holidays", "owner": ALICE, "rule": f"user:{BOB}"},
                  headers=headers)
    output = capsys.readouterr().out
    assert token not in output
    lines = [line for line in _log_lines(output) if line.get("function") == "sharing"]
    assert [(line["action"], line["outcome"]) for line in lines] == [
        ("insert", "ok"), ("update", "ok"), ("share", "forbidden"), ("delete", "ok")
    ]
    first, second, refused, deleted = lines
    assert first["admin"] == ADMIN and first["actingAs"] == ALICE
    assert first["calendarId"] == TEAM_HOLIDAYS_ID
    assert (first["scopeType"], first["scopeValue"], first["role"], first["previousRole"]) == ("user", BOB, "reader",
                                                                                              None)
    assert (second["role"], second["previousRole"]) == ("writer", "reader")
    assert refused["reason"] == "publicSharingDisabled" and refused["scopeType"] == "default"
    assert (deleted["rule"], deleted["scopeValue"], deleted["previousRole"], deleted["role"]) == (
        f"user:{BOB}", BOB, "writer", "none")


def test_refused_callers_are_logged_without_their_token(
    client: Any, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = auth(emulator, BOB)
    capsys.readouterr()
    client.post("/shares", json=share_body("Team Holidays", {"type": "user", "value": BOB}, "owner"), headers=headers)
    output = capsys.readouterr().out
    assert headers["Authorization"].split()[1] not in output
    [line] = [line for line in _log_lines(output) if line.get("function") == "sharing"]
    assert (line["outcome"], line["caller"]) == ("forbidden", BOB)


def test_bulk_revoke_with_role_none_then_share_again(client: Any, emulator: Any) -> None:
    scope = {"type": "user", "value": BOB}
    items = [share_body("Team Holidays", scope, r) for r in ("reader", "none", "writer")]
    response = post(client, emulator, {"items": items})
    assert [(r["status"], r["rule"]["role"]) for r in response.get_json()["results"]] == [
        (201, "reader"), (200, "none"), (201, "writer")
    ]
    assert acl(emulator, TEAM_HOLIDAYS_ID)[f"user:{BOB}"] == "writer"


def test_behind_iam_a_signature_stripped_token_is_accepted_for_admins_only(configure: Any, emulator: Any) -> None:
    client = configure({"allow_owner = false\niam_protected = false": "allow_owner = false\niam_protected = true"})

    def stripped(email: str) -> dict[str, str]:
        header, payload, _ = id_token(emulator, email, AUDIENCE).split(".")
        return {"Authorization": f"Bearer {header}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"}

    body = share_body("Team Holidays", {"type": "user", "value": BOB}, "reader")
    assert client.post("/shares", json=body, headers=stripped(BOB)).status_code == 403
    assert client.post("/shares", json=body, headers=stripped(ADMIN)).status_code == 201
