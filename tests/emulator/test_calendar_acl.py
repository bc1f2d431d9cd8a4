"""Calendar ACL rules (share a calendar) through the real client, acting as users through DWD."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from emulator.demo_calendars import TEAM_HOLIDAYS_ID
from tests.helpers.clients import calendar_service, control, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
TEAM = "team@example.com"


def acl(server: Any, subject: str) -> Any:
    return calendar_service(server, delegated_credentials(server, subject, [AUTH + "calendar.acls"])).acl()


def calendar_list(server: Any, subject: str) -> dict[str, str]:
    """Calendar id -> access role on `subject`'s calendar list."""
    creds = delegated_credentials(server, subject, [AUTH + "calendar.calendarlist.readonly"])
    items = calendar_service(server, creds).calendarList().list().execute()["items"]
    return {e["id"]: e["accessRole"] for e in items}


def error(exc: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    body = json.loads(exc.value.content)["error"]
    return body["code"], body["errors"][0]["reason"]


def test_owner_rule_is_listed(emulator: Any) -> None:
    listed = acl(emulator, ALICE).list(calendarId="primary").execute()
    assert listed["kind"] == "calendar#acl"
    assert [(r["id"], r["role"], r["scope"]) for r in listed["items"]] == [
        (f"user:{ALICE}", "owner", {"type": "user", "value": ALICE}),
        ("domain:example.com", "freeBusyReader", {"type": "domain", "value": "example.com"}),
    ]


def test_insert_again_replaces_the_rule_and_shares_onto_the_calendar_list(emulator: Any) -> None:
    rules = acl(emulator, ALICE)
    control(emulator, "DELETE", "mailbox")
    first = rules.insert(calendarId=ALICE, body={"scope": {"type": "user", "value": BOB}, "role": "reader"}).execute()
    assert first["id"] == f"user:{BOB}"
    assert first["role"] == "reader"
    assert first["kind"] == "calendar#aclRule"
    assert calendar_list(emulator, BOB)[ALICE] == "reader"
    again = rules.insert(
        calendarId=ALICE,
        body={"scope": {"type": "user", "value": BOB.upper()}, "role": "writer"},
        sendNotifications=False,
    ).execute()
    assert again["id"] == first["id"]
    assert again["role"] == "writer"
    assert again["etag"] != first["etag"]
    assert [r["id"] for r in rules.list(calendarId=ALICE).execute()["items"]].count(first["id"]) == 1
    mail = control(emulator, "GET", "mailbox")["messages"]
    assert [(m["to"], m["kind"], m["role"], m["calendarId"]) for m in mail] == [(BOB, "share", "reader", ALICE)]

    patched = rules.patch(calendarId=ALICE, ruleId=first["id"], body={"role": "freeBusyReader"}).execute()
    assert patched["role"] == "freeBusyReader"
    assert rules.get(calendarId=ALICE, ruleId=first["id"]).execute()["role"] == "freeBusyReader"
    updated = rules.update(
        calendarId=ALICE, ruleId=first["id"], body={"scope": {"type": "user", "value": BOB}, "role": "reader"}
    ).execute()
    assert updated["role"] == "reader"

    assert rules.delete(calendarId=ALICE, ruleId=first["id"]).execute() == ""
    assert calendar_list(emulator, BOB)[ALICE] == "freeBusyReader"  # the domain rule still applies
    assert [r["id"] for r in rules.list(calendarId=ALICE).execute()["items"]] == [f"user:{ALICE}", "domain:example.com"]
    deleted = rules.list(calendarId=ALICE, showDeleted=True).execute()["items"]
    assert (first["id"], "none") in [(r["id"], r["role"]) for r in deleted]
    with pytest.raises(HttpError) as exc:
        rules.delete(calendarId=ALICE, ruleId=first["id"]).execute()
    assert error(exc) == (404, "notFound")


def test_only_owners_change_rules_and_writers_read_them(emulator: Any) -> None:
    acl(emulator, ALICE).insert(
        calendarId=ALICE, body={"scope": {"type": "user", "value": BOB}, "role": "writer"}
    ).execute()
    acl(emulator, ALICE).insert(
        calendarId=ALICE, body={"scope": {"type": "user", "value": CAROL}, "role": "reader"}
    ).execute()
    bob = acl(emulator, BOB)
    assert len(bob.list(calendarId=ALICE).execute()["items"]) == 4
    with pytest.raises(HttpError) as exc:
        bob.insert(calendarId=ALICE, body={"scope": {"type": "user", "value": BOB}, "role": "owner"}).execute()
    assert error(exc) == (403, "requiredAccessLevel")
    assert "owner access" in json.loads(exc.value.content)["error"]["message"]
    with pytest.raises(HttpError) as exc:
        acl(emulator, CAROL).list(calendarId=ALICE).execute()
    assert error(exc) == (403, "requiredAccessLevel")
    with pytest.raises(HttpError) as exc:
        acl(emulator, CAROL).list(calendarId=BOB).execute()  # freeBusyReader through the domain
    assert error(exc) == (403, "requiredAccessLevel")


def test_refusals(emulator: Any) -> None:
    rules = acl(emulator, ALICE)
    with pytest.raises(HttpError) as exc:
        rules.delete(calendarId=ALICE, ruleId=f"user:{ALICE}").execute()
    assert error(exc) == (403, "cannotChangeOwnAcl")
    with pytest.raises(HttpError) as exc:
        rules.patch(calendarId=ALICE, ruleId=f"user:{ALICE}", body={"role": "reader"}).execute()
    assert error(exc) == (403, "cannotChangeOwnAcl")
    for scope in (
        {"type": "user", "value": "not-an-email"},
        {"type": "user"},
        {"type": "group", "value": "no-such-group@example.com"},
        {"type": "domain", "value": "other.org"},
    ):
        with pytest.raises(HttpError) as exc:
            rules.insert(calendarId=ALICE, body={"scope": scope, "role": "reader"}).execute()
        assert error(exc) == (400, "invalidScopeValue"), scope
    with pytest.raises(HttpError) as exc:
        rules.insert(calendarId=ALICE, body={"scope": {"type": "default"}, "role": "writer"}).execute()
    assert error(exc) == (400, "illegalAccessRoleForDefault")
    with pytest.raises(HttpError) as exc:
        rules.insert(calendarId=ALICE, body={"scope": {"type": "user", "value": BOB}}).execute()
    assert error(exc) == (400, "required")
    with pytest.raises(HttpError) as exc:
        rules.get(calendarId=ALICE, ruleId="user:nobody@example.com").execute()
    assert error(exc) == (404, "notFound")


def test_missing_scope_type_is_public(emulator: Any) -> None:
    rule = acl(emulator, ALICE).insert(calendarId=ALICE, body={"scope": {}, "role": "freeBusyReader"}).execute()
    assert rule["id"] == "default"
    assert rule["scope"] == {"type": "default"}
    creds = delegated_credentials(emulator, None, [AUTH + "calendar.freebusy"])
    answer = (
        calendar_service(emulator, creds)
        .freebusy()
        .query(body={"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": ALICE}]})
        .execute()
    )
    assert "errors" not in answer["calendars"][ALICE]


def test_group_rules_and_the_last_owner(emulator: Any) -> None:
    alice = acl(emulator, ALICE)
    alice.insert(
        calendarId=TEAM_HOLIDAYS_ID, body={"scope": {"type": "group", "value": TEAM}, "role": "owner"}
    ).execute()
    assert TEAM_HOLIDAYS_ID in calendar_list(emulator, BOB)  # bob is a member of the team group
    # bob owns it through the group and may remove alice's own rule; alice stays owner through the group.
    assert acl(emulator, BOB).delete(calendarId=TEAM_HOLIDAYS_ID, ruleId=f"user:{ALICE}").execute() == ""
    with pytest.raises(HttpError) as exc:
        alice.delete(calendarId=TEAM_HOLIDAYS_ID, ruleId=f"group:{TEAM}").execute()
    assert error(exc) == (403, "cannotRemoveLastCalendarOwnerFromAcl")
