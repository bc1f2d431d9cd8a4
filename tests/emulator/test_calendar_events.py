"""Calendar events against the emulator, through the real google-api-python-client and google-auth (DWD tokens)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.helpers.clients import calendar_service, control, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
EVENTS = [AUTH + "calendar.events"]
ALICE = "alice@example.com"
BOB = "bob@example.com"


def service(server: Any, subject: str | None = ALICE, scopes: list[str] | None = None) -> Any:
    return calendar_service(server, delegated_credentials(server, subject, scopes or EVENTS))


def event(start: str = "2030-01-07T10:00:00Z", end: str = "2030-01-07T10:30:00Z", **fields: Any) -> dict[str, Any]:
    return {"summary": "Meeting", "start": {"dateTime": start}, "end": {"dateTime": end}, **fields}


def error(exc: pytest.ExceptionInfo[HttpError]) -> tuple[int, str, str]:
    body = json.loads(exc.value.content)["error"]
    return body["code"], body["errors"][0]["reason"], body["message"]


def in_2030(svc: Any, **params: Any) -> list[dict[str, Any]]:
    """Events of alice's calendar in January 2030 (clear of the demo schedule, which follows today)."""
    params = {"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-02-01T00:00:00Z", **params}
    return svc.events().list(calendarId=ALICE, **params).execute()["items"]


def test_insert_returns_google_shape(emulator: Any) -> None:
    svc = service(emulator)
    created = svc.events().insert(calendarId=ALICE, body=event(transparency="transparent")).execute()
    assert re.fullmatch(r"[a-v0-9]{5,1024}", created["id"])
    assert created["kind"] == "calendar#event"
    assert created["status"] == "confirmed"
    assert created["transparency"] == "transparent"
    assert re.fullmatch(r'"\d+"', created["etag"])
    # Google writes `created` in whole seconds and `updated` with milliseconds, of the same moment.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", created["created"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["updated"])
    assert created["updated"][:19] == created["created"][:19]
    assert created["creator"] == {"email": ALICE, "self": True}
    assert created["organizer"] == {"email": ALICE, "self": True}
    assert created["iCalUID"] == f"{created['id']}@google.com"
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert created["sequence"] == 0
    # Times come back in the calendar's zone (alice: Europe/Berlin).
    assert created["start"] == {"dateTime": "2030-01-07T11:00:00+01:00"}
    fetched = svc.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert fetched == created


def test_defaults_and_attendee_flags(emulator: Any) -> None:
    svc = service(emulator)
    body = event(attendees=[{"email": "Visitor@External.org"}, {"email": ALICE, "responseStatus": "accepted"}])
    created = svc.events().insert(calendarId=ALICE, body=body).execute()
    assert "transparency" not in created  # opaque is the default, omitted as Google does
    visitor, owner = created["attendees"]
    assert visitor == {"email": "visitor@external.org", "responseStatus": "needsAction"}
    assert owner == {"email": ALICE, "responseStatus": "accepted", "organizer": True, "self": True}


@pytest.mark.parametrize("bad_id", ["ABCDE12345", "abc1", "wxyz12345", "abcde-12345", "a" * 1025])
def test_client_ids_must_be_base32hex(emulator: Any, bad_id: str) -> None:
    with pytest.raises(HttpError) as exc:
        service(emulator).events().insert(calendarId=ALICE, body=event(id=bad_id)).execute()
    assert error(exc) == (400, "invalid", "Invalid resource id value.")


def test_client_id_is_kept_and_duplicates_conflict_even_after_delete(emulator: Any) -> None:
    svc = service(emulator)
    created = svc.events().insert(calendarId=ALICE, body=event(id="booking0001")).execute()
    assert created["id"] == "booking0001"
    with pytest.raises(HttpError) as exc:
        svc.events().insert(calendarId=ALICE, body=event(id="booking0001")).execute()
    assert error(exc) == (409, "duplicate", "The requested identifier already exists.")
    svc.events().delete(calendarId=ALICE, eventId="booking0001").execute()
    with pytest.raises(HttpError) as exc:
        svc.events().insert(calendarId=ALICE, body=event(id="booking0001")).execute()
    assert error(exc)[:2] == (409, "duplicate")
    # Ids are per calendar: the same id on bob's calendar is fine.
    assert service(emulator, BOB).events().insert(calendarId=BOB, body=event(id="booking0001")).execute()


def test_delete_keeps_a_cancelled_event_and_a_second_delete_is_gone(emulator: Any) -> None:
    svc = service(emulator)
    created = svc.events().insert(calendarId=ALICE, body=event()).execute()
    assert svc.events().delete(calendarId=ALICE, eventId=created["id"]).execute() == ""
    with pytest.raises(HttpError) as exc:
        svc.events().delete(calendarId=ALICE, eventId=created["id"]).execute()
    assert error(exc) == (410, "deleted", "Resource has been deleted")
    fetched = svc.events().get(calendarId=ALICE, eventId=created["id"]).execute()
    assert fetched["status"] == "cancelled"
    assert fetched["etag"] != created["etag"]
    assert created["id"] not in [e["id"] for e in in_2030(svc)]
    assert created["id"] in [e["id"] for e in in_2030(svc, showDeleted=True)]
    with pytest.raises(HttpError) as exc:
        svc.events().delete(calendarId=ALICE, eventId="neverexisted").execute()
    assert error(exc)[:2] == (404, "notFound")


def test_if_match_with_a_stale_etag_is_412(emulator: Any) -> None:
    svc = service(emulator)
    created = svc.events().insert(calendarId=ALICE, body=event()).execute()
    patched = svc.events().patch(calendarId=ALICE, eventId=created["id"], body={"summary": "Renamed"}).execute()
    assert patched["etag"] != created["etag"]
    for request in (
        svc.events().patch(calendarId=ALICE, eventId=created["id"], body={"summary": "Stale"}),
        svc.events().update(calendarId=ALICE, eventId=created["id"], body=event(summary="Stale")),
        svc.events().delete(calendarId=ALICE, eventId=created["id"]),
    ):
        request.headers["If-Match"] = created["etag"]
        with pytest.raises(HttpError) as exc:
            request.execute()
        assert error(exc) == (412, "conditionNotMet", "Precondition Failed")
    request = svc.events().patch(calendarId=ALICE, eventId=created["id"], body={"summary": "Fresh"})
    request.headers["If-Match"] = patched["etag"]
    fresh = request.execute()
    assert fresh["summary"] == "Fresh"
    # Conditional retrieval: an unchanged event is 304 Not Modified, a changed one comes back whole.
    request = svc.events().get(calendarId=ALICE, eventId=created["id"])
    request.headers["If-None-Match"] = fresh["etag"]
    with pytest.raises(HttpError) as exc:
        request.execute()
    assert exc.value.resp.status == 304
    request = svc.events().get(calendarId=ALICE, eventId=created["id"])
    request.headers["If-None-Match"] = created["etag"]
    assert request.execute() == fresh


def test_patch_merges_update_replaces_and_time_changes_bump_sequence(emulator: Any) -> None:
    svc = service(emulator)
    props = {"private": {"booking": "b1", "source": "web"}}
    created = svc.events().insert(calendarId=ALICE, body=event(description="notes", extendedProperties=props)).execute()
    patched = (
        svc.events()
        .patch(
            calendarId=ALICE,
            eventId=created["id"],
            body={"extendedProperties": {"private": {"source": "api"}}, "location": "Room 1"},
        )
        .execute()
    )
    assert patched["extendedProperties"]["private"] == {"booking": "b1", "source": "api"}
    assert patched["description"] == "notes"
    assert patched["sequence"] == 0
    assert patched["updated"] >= created["updated"]
    moved = (
        svc.events()
        .patch(calendarId=ALICE, eventId=created["id"], body={"start": {"dateTime": "2030-01-07T09:00:00Z"}})
        .execute()
    )
    assert moved["sequence"] == 1
    replaced = svc.events().update(calendarId=ALICE, eventId=created["id"], body=event(summary="Only")).execute()
    assert "description" not in replaced
    assert "location" not in replaced
    assert "extendedProperties" not in replaced
    assert replaced["sequence"] == 2  # back to 10:00
    assert replaced["created"] == created["created"]


def test_time_validation(emulator: Any) -> None:
    svc = service(emulator)
    with pytest.raises(HttpError) as exc:
        svc.events().insert(calendarId=ALICE, body={"start": {"dateTime": "2030-01-07T10:00:00Z"}}).execute()
    assert error(exc) == (400, "required", "Missing end time.")
    with pytest.raises(HttpError) as exc:
        svc.events().insert(calendarId=ALICE, body=event(end="2030-01-07T09:00:00Z")).execute()
    assert error(exc) == (400, "timeRangeEmpty", "The specified time range is empty.")
    with pytest.raises(HttpError) as exc:
        svc.events().insert(
            calendarId=ALICE,
            body={"start": {"dateTime": "2030-01-07T10:00:00"}, "end": {"dateTime": "2030-01-07T11:00:00"}},
        ).execute()
    assert error(exc)[:2] == (400, "required")
    zoned = (
        svc.events()
        .insert(
            calendarId=ALICE,
            body={
                "start": {"dateTime": "2030-07-01T10:00:00", "timeZone": "America/New_York"},
                "end": {"dateTime": "2030-07-01T11:00:00", "timeZone": "America/New_York"},
            },
        )
        .execute()
    )
    assert zoned["start"] == {"dateTime": "2030-07-01T10:00:00-04:00", "timeZone": "America/New_York"}
    all_day = (
        svc.events()
        .insert(calendarId=ALICE, body={"start": {"date": "2030-01-08"}, "end": {"date": "2030-01-09"}})
        .execute()
    )
    assert all_day["start"] == {"date": "2030-01-08"}


def test_malformed_json_is_a_parse_error(emulator: Any) -> None:
    request = service(emulator).events().insert(calendarId=ALICE, body=event())
    request.body = '{"summary": "broken",'
    request.headers["content-length"] = str(len(request.body))
    with pytest.raises(HttpError) as exc:
        request.execute()
    assert error(exc)[:2] == (400, "parseError")


def test_conference_data_only_with_version_1(emulator: Any) -> None:
    svc = service(emulator)
    create = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    ignored = svc.events().insert(calendarId=ALICE, body=event(conferenceData=create)).execute()
    assert "conferenceData" not in ignored
    assert "hangoutLink" not in ignored
    made = svc.events().insert(calendarId=ALICE, body=event(conferenceData=create), conferenceDataVersion=1).execute()
    assert re.fullmatch(r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", made["hangoutLink"])
    video = made["conferenceData"]["entryPoints"][0]
    assert video["entryPointType"] == "video"
    assert video["uri"] == made["hangoutLink"]
    assert made["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    # Patching without the version leaves the conference alone; the same request id keeps the same link.
    kept = svc.events().patch(calendarId=ALICE, eventId=made["id"], body={"summary": "x"}).execute()
    assert kept["hangoutLink"] == made["hangoutLink"]
    later = (
        svc.events()
        .patch(calendarId=ALICE, eventId=ignored["id"], body={"conferenceData": create}, conferenceDataVersion=1)
        .execute()
    )
    assert "hangoutLink" in later


def test_private_extended_property_filter_requires_all_constraints(emulator: Any) -> None:
    svc = service(emulator)
    wanted = (
        svc.events()
        .insert(calendarId=ALICE, body=event(extendedProperties={"private": {"booking": "1", "kind": "a"}}))
        .execute()
    )
    svc.events().insert(
        calendarId=ALICE, body=event(extendedProperties={"private": {"booking": "2", "kind": "a"}})
    ).execute()
    svc.events().insert(
        calendarId=ALICE, body=event(extendedProperties={"shared": {"booking": "1", "kind": "a"}})
    ).execute()
    found = in_2030(svc, privateExtendedProperty=["booking=1", "kind=a"])
    assert [e["id"] for e in found] == [wanted["id"]]
    assert len(in_2030(svc, privateExtendedProperty="kind=a")) == 2
    assert len(in_2030(svc, sharedExtendedProperty="booking=1")) == 1


def test_list_time_window_order_and_paging(emulator: Any) -> None:
    svc = service(emulator)
    ids = []
    for day in (9, 5, 7, 3, 8, 4, 6):  # inserted out of order
        created = (
            svc.events()
            .insert(calendarId=ALICE, body=event(f"2030-01-{day:02d}T10:00:00Z", f"2030-01-{day:02d}T11:00:00Z"))
            .execute()
        )
        ids.append((day, created["id"]))
    window = {"timeMin": "2030-01-04T10:30:00Z", "timeMax": "2030-01-08T10:00:00Z"}  # overlap: 4th..7th
    pages, token = [], None
    while True:
        response = (
            svc.events()
            .list(calendarId=ALICE, singleEvents=True, orderBy="startTime", maxResults=3, pageToken=token, **window)
            .execute()
        )
        pages.append([e["id"] for e in response["items"]])
        token = response.get("nextPageToken")
        if not token:
            break
    assert [len(page) for page in pages] == [3, 1]
    assert [item for page in pages for item in page] == [eid for day, eid in sorted(ids) if 4 <= day <= 7]
    assert response["kind"] == "calendar#events"
    assert response["accessRole"] == "owner"
    assert response["timeZone"] == "Europe/Berlin"
    assert response["summary"] == "Alice Adams"
    with pytest.raises(HttpError) as exc:
        svc.events().list(calendarId=ALICE, orderBy="startTime").execute()
    assert error(exc)[:2] == (400, "badRequest")
    with pytest.raises(HttpError) as exc:
        svc.events().list(calendarId=ALICE, timeMin="2030-01-02T00:00:00Z", timeMax="2030-01-01T00:00:00Z").execute()
    assert error(exc)[:2] == (400, "timeRangeEmpty")
    with pytest.raises(HttpError) as exc:
        svc.events().list(calendarId=ALICE, timeMin="2030-01-02T00:00:00").execute()
    assert error(exc)[:2] == (400, "badRequest")


def test_send_updates_lands_in_the_mailbox(emulator: Any) -> None:
    svc = service(emulator)
    control(emulator, "DELETE", "mailbox")
    people = [{"email": "visitor@external.org"}, {"email": BOB}]
    quiet = svc.events().insert(calendarId=ALICE, body=event(attendees=people)).execute()
    assert control(emulator, "GET", "mailbox")["count"] == 0
    svc.events().insert(
        calendarId=ALICE, body=event(summary="Ext", attendees=people), sendUpdates="externalOnly"
    ).execute()
    created = (
        svc.events().insert(calendarId=ALICE, body=event(summary="All", attendees=people), sendUpdates="all").execute()
    )
    svc.events().patch(
        calendarId=ALICE, eventId=created["id"], body={"attendees": [{"email": BOB}]}, sendNotifications=True
    ).execute()
    svc.events().delete(calendarId=ALICE, eventId=created["id"], sendUpdates="all").execute()
    svc.events().delete(calendarId=ALICE, eventId=quiet["id"], sendUpdates="none").execute()
    mail = [
        (m["to"], m["kind"], m["summary"], m["sendUpdates"]) for m in control(emulator, "GET", "mailbox")["messages"]
    ]
    assert mail == [
        ("visitor@external.org", "invitation", "Ext", "externalOnly"),
        ("visitor@external.org", "invitation", "All", "all"),
        (BOB, "invitation", "All", "all"),
        (BOB, "update", "All", "all"),
        ("visitor@external.org", "cancellation", "All", "all"),
        (BOB, "cancellation", "All", "all"),
    ]
    first = control(emulator, "GET", "mailbox")["messages"][1]
    assert first["calendarId"] == ALICE
    assert first["eventId"] == created["id"]
    assert first["start"] == "2030-01-07T10:00:00Z"


def test_concurrent_inserts_of_one_id_have_exactly_one_winner(emulator: Any) -> None:
    services = [service(emulator) for _ in range(20)]
    for svc in services:  # mint every token first, so the inserts themselves race
        svc.events().list(calendarId=ALICE, maxResults=1).execute()
    barrier = threading.Barrier(len(services))
    outcomes: list[int] = []
    lock = threading.Lock()

    def insert(svc: Any) -> None:
        barrier.wait()
        try:
            svc.events().insert(calendarId=ALICE, body=event(id="racing00001")).execute()
            status = 200
        except HttpError as exc:
            status = exc.resp.status
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=insert, args=(svc,)) for svc in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [200] + [409] * 19
    assert [e["id"] for e in in_2030(services[0])].count("racing00001") == 1
