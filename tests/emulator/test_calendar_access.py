"""Who may see and change which calendar: ACL roles, scopes, service accounts acting as themselves, calendar lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from emulator.demo import SERVICE_ACCOUNT
from emulator.demo_calendars import TEAM_HOLIDAYS_ID, claims_calendar_id
from tests.helpers.clients import calendar_service, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
SLOT = {"summary": "Slot", "start": {"dateTime": "2030-02-04T10:00:00Z"}, "end": {"dateTime": "2030-02-04T10:30:00Z"}}


def service(server: Any, subject: str | None, *scopes: str) -> Any:
    names = scopes or ("calendar.events",)
    return calendar_service(server, delegated_credentials(server, subject, [AUTH + s for s in names]))


def error(exc: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    body = json.loads(exc.value.content)["error"]
    return body["code"], body["errors"][0]["reason"]


def share(server: Any, calendar: str, owner: str, scope: dict[str, str], role: str) -> dict[str, Any]:
    acl = service(server, owner, "calendar.acls").acl()
    return acl.insert(calendarId=calendar, body={"scope": scope, "role": role}, sendNotifications=False).execute()


def test_reader_cannot_insert_but_writer_can(emulator: Any) -> None:
    bob = service(emulator, BOB)
    # Inside the domain everyone is a freeBusyReader of everyone's primary calendar (Workspace's default).
    assert bob.events().list(calendarId=ALICE).execute()["accessRole"] == "freeBusyReader"
    with pytest.raises(HttpError) as exc:
        bob.events().insert(calendarId=ALICE, body=SLOT).execute()
    assert error(exc) == (403, "requiredAccessLevel")
    share(emulator, ALICE, ALICE, {"type": "user", "value": BOB}, "reader")
    listed = bob.events().list(calendarId=ALICE).execute()
    assert listed["accessRole"] == "reader"
    assert all("summary" in e for e in listed["items"])
    with pytest.raises(HttpError) as exc:
        bob.events().insert(calendarId=ALICE, body=SLOT).execute()
    assert error(exc) == (403, "requiredAccessLevel")
    assert json.loads(exc.value.content)["error"]["message"] == "You need to have writer access to this calendar."
    share(emulator, ALICE, ALICE, {"type": "user", "value": BOB}, "writer")
    created = bob.events().insert(calendarId=ALICE, body=SLOT).execute()
    # `self` marks the calendar this copy is on: alice's, which organizes; bob created it.
    assert created["creator"] == {"email": BOB}
    assert created["organizer"] == {"email": ALICE, "self": True}
    bob.events().delete(calendarId=ALICE, eventId=created["id"]).execute()


def test_free_busy_reader_sees_busy_blocks_only(emulator: Any) -> None:
    carol = service(emulator, CAROL)  # freeBusyReader through the demo's domain rule
    listed = carol.events().list(calendarId=ALICE, singleEvents=True, orderBy="startTime").execute()
    assert listed["accessRole"] == "freeBusyReader"
    assert listed["items"]
    for item in listed["items"]:
        assert set(item) <= {"kind", "etag", "id", "status", "start", "end"}
        assert item["status"] != "cancelled"
    with pytest.raises(HttpError) as exc:
        carol.events().insert(calendarId=ALICE, body=SLOT).execute()
    assert error(exc) == (403, "requiredAccessLevel")
    busy = (
        service(emulator, CAROL, "calendar.freebusy")
        .freebusy()
        .query(body={"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": ALICE}]})
        .execute()
    )
    assert busy["calendars"][ALICE] == {"busy": []}


def test_no_role_means_not_found(emulator: Any) -> None:
    bob = service(emulator, BOB)
    service(emulator, CAROL, "calendar.acls").acl().delete(calendarId=CAROL, ruleId="domain:example.com").execute()
    for call in (
        bob.events().list(calendarId=CAROL),
        bob.events().get(calendarId=CAROL, eventId="anything1"),
        bob.events().insert(calendarId=CAROL, body=SLOT),
        bob.events().delete(calendarId=CAROL, eventId="anything1"),
    ):
        with pytest.raises(HttpError) as exc:
            call.execute()
        assert error(exc) == (404, "notFound")  # Google hides calendars you cannot see
    busy = (
        service(emulator, BOB, "calendar.freebusy")
        .freebusy()
        .query(body={"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": CAROL}]})
        .execute()
    )
    assert busy["calendars"][CAROL] == {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}


def test_group_and_domain_rules_grant_access(emulator: Any) -> None:
    share(emulator, CAROL, CAROL, {"type": "group", "value": "team@example.com"}, "reader")
    assert service(emulator, BOB).events().list(calendarId=CAROL).execute()["accessRole"] == "reader"
    # Team Holidays is shared with the whole domain as reader in the demo.
    listed = service(emulator, CAROL).events().list(calendarId=TEAM_HOLIDAYS_ID).execute()
    assert listed["accessRole"] == "reader"
    assert listed["summary"] == "Team Holidays"


def test_token_scopes_are_enforced(emulator: Any) -> None:
    freebusy_only = service(emulator, ALICE, "calendar.freebusy")
    with pytest.raises(HttpError) as exc:
        freebusy_only.events().list(calendarId=ALICE).execute()
    assert error(exc) == (403, "insufficientPermissions")
    with pytest.raises(HttpError) as exc:
        service(emulator, ALICE).calendarList().list().execute()
    assert error(exc) == (403, "insufficientPermissions")
    with pytest.raises(HttpError) as exc:
        service(emulator, ALICE, "calendar.events").acl().list(calendarId=ALICE).execute()
    assert error(exc) == (403, "insufficientPermissions")


def test_service_account_acting_as_itself(emulator: Any) -> None:
    robot = service(emulator, None, "calendar")
    for call in (robot.events().list(calendarId=ALICE), robot.calendars().get(calendarId=ALICE)):
        with pytest.raises(HttpError) as exc:
            call.execute()
        assert error(exc) == (404, "notFound")
    assert robot.calendarList().list().execute()["items"] == []
    busy = (
        robot.freebusy()
        .query(body={"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": ALICE}]})
        .execute()
    )
    assert busy["calendars"][ALICE]["errors"] == [{"domain": "global", "reason": "notFound"}]

    share(emulator, ALICE, ALICE, {"type": "user", "value": SERVICE_ACCOUNT}, "writer")
    created = robot.events().insert(calendarId=ALICE, body=SLOT).execute()
    assert created["creator"] == {"email": SERVICE_ACCOUNT}
    assert created["organizer"] == {"email": ALICE, "self": True}
    invite = {**SLOT, "attendees": [{"email": "visitor@external.org"}]}
    with pytest.raises(HttpError) as exc:
        robot.events().insert(calendarId=ALICE, body=invite).execute()
    assert error(exc) == (403, "forbiddenForServiceAccounts")
    assert json.loads(exc.value.content)["error"]["message"] == (
        "Service accounts cannot invite attendees without Domain-Wide Delegation of Authority."
    )
    with pytest.raises(HttpError) as exc:
        robot.events().patch(calendarId=ALICE, eventId=created["id"], body=invite).execute()
    assert error(exc) == (403, "forbiddenForServiceAccounts")
    # The same key acting as alice through DWD may invite.
    assert service(emulator, ALICE).events().insert(calendarId=ALICE, body=invite).execute()["attendees"]

    # Shared calendars do not appear on a service account's list until it inserts them itself.
    assert robot.calendarList().list().execute()["items"] == []
    entry = robot.calendarList().insert(body={"id": ALICE}).execute()
    assert entry["id"] == ALICE
    assert entry["accessRole"] == "writer"
    assert "primary" not in entry
    assert [e["id"] for e in robot.calendarList().list().execute()["items"]] == [ALICE]
    assert robot.calendars().get(calendarId=ALICE).execute()["timeZone"] == "Europe/Berlin"
    with pytest.raises(HttpError) as exc:
        robot.calendarList().insert(body={"id": BOB}).execute()
    assert error(exc) == (404, "notFound")
    with pytest.raises(HttpError) as exc:
        robot.events().list(calendarId=BOB).execute()
    assert error(exc) == (404, "notFound")
    # Its own primary calendar exists (every account has one) and is its own.
    own = robot.events().insert(calendarId="primary", body=SLOT).execute()
    assert own["organizer"] == {"email": SERVICE_ACCOUNT, "self": True}


def test_calendar_list_paging_and_min_access_role(emulator: Any) -> None:
    share(emulator, BOB, BOB, {"type": "user", "value": ALICE}, "reader")
    share(emulator, CAROL, CAROL, {"type": "user", "value": ALICE}, "writer")
    listing = service(emulator, ALICE, "calendar.calendarlist.readonly").calendarList()
    pages, token = [], None
    while True:
        response = listing.list(maxResults=2, pageToken=token).execute()
        pages.append(response["items"])
        token = response.get("nextPageToken")
        if not token:
            break
    entries = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [e["id"] for e in entries] == [ALICE, claims_calendar_id(ALICE), TEAM_HOLIDAYS_ID, BOB, CAROL]
    assert [e["accessRole"] for e in entries] == ["owner", "owner", "owner", "reader", "writer"]
    assert entries[0]["primary"] is True
    assert entries[0]["timeZone"] == "Europe/Berlin"
    assert entries[0]["summary"] == "Alice Adams"
    assert "primary" not in entries[1]
    writable = listing.list(minAccessRole="writer").execute()["items"]
    assert [e["id"] for e in writable] == [ALICE, claims_calendar_id(ALICE), TEAM_HOLIDAYS_ID, CAROL]
    assert listing.get(calendarId=BOB).execute()["accessRole"] == "reader"


def test_a_private_event_shows_readers_busy_time_only(emulator: Any) -> None:
    """`visibility: "private"`: "only event attendees may view event details" (events resource): a reader by ACL gets
    the event's times, not its title or description, and `q` cannot search its text; a writer sees everything."""
    share(emulator, ALICE, ALICE, {"type": "user", "value": BOB}, "reader")
    share(emulator, ALICE, ALICE, {"type": "user", "value": CAROL}, "writer")
    owner = service(emulator, ALICE)
    secret = {**SLOT, "summary": "Private talk", "description": "link with token-123", "visibility": "private"}
    private = owner.events().insert(calendarId=ALICE, body=secret).execute()
    public = owner.events().insert(calendarId=ALICE, body={**SLOT, "summary": "Open talk"}).execute()
    reader = service(emulator, BOB)
    seen = reader.events().get(calendarId=ALICE, eventId=private["id"]).execute()
    assert "summary" not in seen and "description" not in seen and seen["start"] and seen["status"] == "confirmed"
    items = reader.events().list(calendarId=ALICE, timeMin="2030-02-04T00:00:00Z").execute()["items"]
    listed = {e["id"]: e for e in items}
    assert "description" not in listed[private["id"]] and listed[public["id"]]["summary"] == "Open talk"
    assert reader.events().list(calendarId=ALICE, q="token-123").execute()["items"] == []
    writer = service(emulator, CAROL).events().get(calendarId=ALICE, eventId=private["id"]).execute()
    assert writer["description"] == "link with token-123"
