"""Google's own semantics a booking protocol must survive, through the real google-api-python-client: `created` in
whole seconds, read-after-write lag of list and freeBusy, deleted items in their minimal shape, restoring from
the trash, attendees' own copies, and Google's item messages."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError

from tests.helpers.clients import calendar_service, control, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
EVENTS = [AUTH + "calendar.events", AUTH + "calendar.freebusy"]
ALICE = "alice@example.com"
BOB = "bob@example.com"
WINDOW = {"timeMin": "2030-03-01T00:00:00Z", "timeMax": "2030-04-01T00:00:00Z"}


def service(server: Any, subject: str = ALICE, scopes: list[str] | None = None) -> Any:
    return calendar_service(server, delegated_credentials(server, subject, scopes or EVENTS))


def event(**fields: Any) -> dict[str, Any]:
    return {"summary": "Meeting", "start": {"dateTime": "2030-03-04T10:00:00Z"},
            "end": {"dateTime": "2030-03-04T10:30:00Z"}, **fields}


def listed(svc: Any, calendar: str = ALICE, **params: Any) -> list[dict[str, Any]]:
    return list(svc.events().list(calendarId=calendar, **WINDOW, **params).execute()["items"])


def busy(svc: Any, calendar: str = ALICE) -> list[dict[str, str]]:
    body = {**WINDOW, "items": [{"id": calendar}]}
    return list(svc.freebusy().query(body=body).execute()["calendars"][calendar]["busy"])


def test_created_is_whole_seconds_and_two_writes_in_one_second_share_it(emulator: Any) -> None:
    svc = service(emulator)
    for _ in range(5):
        first = svc.events().insert(calendarId=ALICE, body=event(id="same00001")).execute()
        second = svc.events().insert(calendarId=ALICE, body=event(id="same00002")).execute()
        if first["created"] == second["created"]:
            break
        for eid in ("same00001", "same00002"):  # crossed a second boundary: try again with fresh ids
            emulator.emulator.state.calendars[ALICE].events.pop(eid)
    assert first["created"] == second["created"]
    assert first["created"].endswith(".000Z")
    assert first["updated"] != first["created"] or first["updated"].endswith(".000Z")


def test_read_lag_hides_fresh_writes_from_list_and_freebusy_but_not_from_get(emulator: Any) -> None:
    svc = service(emulator)
    assert control(emulator, "GET", "settings")["read_lag_ms"] == 0  # off by default
    control(emulator, "PUT", "settings", {"read_lag_ms": 400})
    made = svc.events().insert(calendarId=ALICE, body=event(id="lagged001")).execute()
    assert svc.events().get(calendarId=ALICE, eventId="lagged001").execute()["id"] == made["id"]
    assert [e["id"] for e in listed(svc)] == []
    assert busy(svc) == []
    with pytest.raises(HttpError) as duplicate:  # uniqueness of ids is immediate
        svc.events().insert(calendarId=ALICE, body=event(id="lagged001")).execute()
    assert duplicate.value.resp.status == 409
    time.sleep(0.5)
    assert [e["id"] for e in listed(svc)] == ["lagged001"]
    assert busy(svc) == [{"start": "2030-03-04T10:00:00Z", "end": "2030-03-04T10:30:00Z"}]
    svc.events().delete(calendarId=ALICE, eventId="lagged001").execute()
    assert [e["id"] for e in listed(svc)] == ["lagged001"]  # the deletion is not visible yet either
    time.sleep(0.5)
    assert listed(svc) == [] and busy(svc) == []


def test_deleted_events_are_listed_in_the_minimal_shape_and_restored_by_a_patch(emulator: Any) -> None:
    svc = service(emulator)
    svc.events().insert(
        calendarId=ALICE, body=event(id="trash0001", extendedProperties={"private": {"k": "v"}})
    ).execute()
    svc.events().delete(calendarId=ALICE, eventId="trash0001").execute()
    [item] = listed(svc, showDeleted=True)
    assert item["id"] == "trash0001" and item["status"] == "cancelled"
    assert not {"start", "end", "created", "updated", "summary", "extendedProperties"} & set(item)
    # The organizer's copy keeps its details, so that it can be restored (undeleted) from the trash.
    kept = svc.events().get(calendarId=ALICE, eventId="trash0001").execute()
    assert kept["status"] == "cancelled" and kept["summary"] == "Meeting"
    restored = svc.events().patch(calendarId=ALICE, eventId="trash0001", body={"status": "confirmed"}).execute()
    assert restored["status"] == "confirmed" and restored["extendedProperties"]["private"] == {"k": "v"}
    assert [e["id"] for e in listed(svc)] == ["trash0001"]
    assert busy(svc) == [{"start": "2030-03-04T10:00:00Z", "end": "2030-03-04T10:30:00Z"}]


def test_an_invited_user_of_the_domain_gets_googles_copy_in_their_own_calendar(emulator: Any) -> None:
    alice, bob = service(emulator), service(emulator, BOB)
    made = alice.events().insert(
        calendarId=ALICE,
        body=event(id="invite001", attendees=[{"email": BOB}], extendedProperties={"private": {"mine": "1"}}),
    ).execute()
    [copy] = listed(bob, BOB)
    assert copy["id"] == made["id"] and copy["iCalUID"] == made["iCalUID"]
    assert copy["organizer"]["email"] == ALICE
    assert [a for a in copy["attendees"] if a.get("self")] == [
        {"email": BOB, "responseStatus": "needsAction", "self": True}
    ]
    assert "private" not in (copy.get("extendedProperties") or {})  # private properties belong to one copy
    assert busy(bob, BOB)  # an invitation not declined makes the invitee busy
    alice.events().patch(calendarId=ALICE, eventId="invite001", body={"summary": "Moved"}).execute()
    assert listed(bob, BOB)[0]["summary"] == "Moved"
    alice.events().delete(calendarId=ALICE, eventId="invite001").execute()
    assert listed(bob, BOB) == []
    assert listed(bob, BOB, showDeleted=True) == [
        {"kind": "calendar#event", "etag": listed(bob, BOB, showDeleted=True)[0]["etag"], "id": "invite001",
         "status": "cancelled"}
    ]


def test_error_items_carry_googles_own_messages(emulator: Any) -> None:
    answer = requests.get(f"{emulator.url}/calendar/v3/calendars/{ALICE}/events",
                          headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    body = answer.json()["error"]
    assert answer.status_code == 401
    assert body["errors"][0] == {"domain": "global", "reason": "authError", "message": "Invalid Credentials",
                                 "location": "Authorization", "locationType": "header"}
    assert body["message"].startswith("Request had invalid authentication credentials.")
    readonly = service(emulator, scopes=[AUTH + "calendar.calendarlist.readonly"])
    with pytest.raises(HttpError) as refused:
        readonly.events().list(calendarId=ALICE).execute()
    inner = json.loads(refused.value.content)["error"]
    assert inner["code"] == 403 and inner["message"] == "Request had insufficient authentication scopes."
    assert inner["errors"][0]["reason"] == "insufficientPermissions"
    assert inner["errors"][0]["message"] == "Insufficient Permission"
