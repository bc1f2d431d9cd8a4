"""freeBusy and the demo schedule, through the real client (DWD tokens with the `calendar.freebusy` scope)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from emulator.demo import build_demo_state
from emulator.demo_calendars import TEAM_HOLIDAYS_ID, event_id
from tests.helpers.clients import calendar_service, delegated_credentials

AUTH = "https://www.googleapis.com/auth/"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
TODAY = dt.date(2030, 1, 6)  # a Sunday: the seeded window is Mon 7 .. Sun 27 January 2030 (winter time)


@pytest.fixture
def demo(emulator: Any) -> Any:
    emulator.emulator.replace_state(build_demo_state(emulator.url, today=TODAY))
    return emulator


def freebusy(server: Any, subject: str = ALICE) -> Any:
    creds = delegated_credentials(server, subject, [AUTH + "calendar.freebusy"])
    return calendar_service(server, creds).freebusy()


def events(server: Any, subject: str = ALICE) -> Any:
    return calendar_service(server, delegated_credentials(server, subject, [AUTH + "calendar.events"])).events()


def query(server: Any, ids: list[str], start: str, end: str, **extra: Any) -> dict[str, Any]:
    body = {"timeMin": start, "timeMax": end, "items": [{"id": i} for i in ids], **extra}
    return freebusy(server).query(body=body).execute()


def busy(answer: dict[str, Any], calendar: str) -> list[tuple[str, str]]:
    return [(b["start"], b["end"]) for b in answer["calendars"][calendar]["busy"]]


def error(exc: pytest.ExceptionInfo[HttpError]) -> tuple[int, str, str]:
    body = json.loads(exc.value.content)["error"]
    return body["code"], body["errors"][0]["reason"], body["message"]


def test_demo_schedule_excludes_transparent_cancelled_and_declined(demo: Any) -> None:
    answer = query(demo, [ALICE, BOB, CAROL], "2030-01-09T00:00:00Z", "2030-01-12T00:00:00Z")
    assert answer["kind"] == "calendar#freeBusy"
    assert answer["timeMin"] == "2030-01-09T00:00:00.000Z"
    # alice (Berlin, UTC+1): stand-ups; Wed focus time is transparent; Thu vendor demo is cancelled.
    assert busy(answer, ALICE) == [
        ("2030-01-09T08:00:00Z", "2030-01-09T08:30:00Z"),
        ("2030-01-10T08:00:00Z", "2030-01-10T08:30:00Z"),
        ("2030-01-10T13:00:00Z", "2030-01-10T14:00:00Z"),
        ("2030-01-11T08:00:00Z", "2030-01-11T08:30:00Z"),
    ]
    # bob (New York, UTC-5): the Wed all-hands he declined (16:00-17:00 local) is not busy.
    assert busy(answer, BOB)[:2] == [
        ("2030-01-09T15:00:00Z", "2030-01-09T15:30:00Z"),
        ("2030-01-09T18:00:00Z", "2030-01-09T19:00:00Z"),
    ]
    # carol (London, UTC+0): out of office all Friday merges with that day's stand-up.
    assert busy(answer, CAROL)[-1] == ("2030-01-11T00:00:00Z", "2030-01-12T00:00:00Z")
    # The three kinds of non-busy events are there, visible to the owner.
    shown = events(demo).get(calendarId=ALICE, eventId=event_id(ALICE, dt.date(2030, 1, 10), "vendor demo")).execute()
    assert shown["status"] == "cancelled"
    declined = events(demo, BOB).get(calendarId=BOB, eventId=event_id(BOB, dt.date(2030, 1, 9), "all-hands")).execute()
    assert {"email": BOB, "displayName": "Bob Baker", "responseStatus": "declined", "self": True} in declined[
        "attendees"
    ]
    assert declined["organizer"]["email"] == CAROL


def test_busy_rules_on_fresh_events_and_time_zone_rendering(demo: Any) -> None:
    cal = events(demo)
    day = {"start": {"dateTime": "2031-03-03T09:00:00Z"}, "end": {"dateTime": "2031-03-03T10:00:00Z"}}
    kept = cal.insert(calendarId=ALICE, body={**day, "summary": "busy"}).execute()
    cal.insert(calendarId=ALICE, body={**day, "summary": "free", "transparency": "transparent"}).execute()
    declined = {**day, "attendees": [{"email": ALICE, "responseStatus": "declined"}]}
    cal.insert(
        calendarId=ALICE,
        body={**declined, "start": {"dateTime": "2031-03-03T11:00:00Z"}, "end": {"dateTime": "2031-03-03T12:00:00Z"}},
    ).execute()
    gone = cal.insert(
        calendarId=ALICE,
        body={"start": {"dateTime": "2031-03-03T13:00:00Z"}, "end": {"dateTime": "2031-03-03T14:00:00Z"}},
    ).execute()
    cal.delete(calendarId=ALICE, eventId=gone["id"]).execute()
    touching = {"start": {"dateTime": "2031-03-03T10:00:00Z"}, "end": {"dateTime": "2031-03-03T10:15:00Z"}}
    cal.insert(calendarId=ALICE, body=touching).execute()
    window = ("2031-03-03T09:30:00Z", "2031-03-04T00:00:00Z")
    assert busy(query(demo, [ALICE], *window), ALICE) == [("2031-03-03T09:30:00Z", "2031-03-03T10:15:00Z")]
    berlin = query(demo, [ALICE], *window, timeZone="Europe/Berlin")
    assert busy(berlin, ALICE) == [("2031-03-03T10:30:00+01:00", "2031-03-03T11:15:00+01:00")]
    cal.patch(calendarId=ALICE, eventId=kept["id"], body={"transparency": "transparent"}).execute()
    assert busy(query(demo, [ALICE], *window), ALICE) == [("2031-03-03T10:00:00Z", "2031-03-03T10:15:00Z")]


def test_more_than_50_calendars_and_unknown_ones(demo: Any) -> None:
    ids = [ALICE, BOB, CAROL] + [f"nobody{n}@example.com" for n in range(47)] + [TEAM_HOLIDAYS_ID]
    assert len(ids) == 51
    answer = query(demo, ids, "2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z")
    assert busy(answer, ALICE)
    assert busy(answer, CAROL)
    assert answer["calendars"]["nobody0@example.com"] == {
        "errors": [{"domain": "global", "reason": "notFound"}],
        "busy": [],
    }
    assert answer["calendars"][TEAM_HOLIDAYS_ID] == {
        "errors": [{"domain": "usageLimits", "reason": "tooManyCalendarsRequested"}],
        "busy": [],
    }
    assert len(answer["calendars"]) == 51


def test_invisible_calendars_are_not_found_inside_a_200(demo: Any) -> None:
    creds = delegated_credentials(demo, CAROL, [AUTH + "calendar.acls"])
    calendar_service(demo, creds).acl().delete(calendarId=CAROL, ruleId="domain:example.com").execute()
    answer = (
        freebusy(demo, BOB)
        .query(
            body={
                "timeMin": "2030-01-07T00:00:00Z",
                "timeMax": "2030-01-08T00:00:00Z",
                "items": [{"id": CAROL}, {"id": "primary"}, {"id": TEAM_HOLIDAYS_ID}],
            }
        )
        .execute()
    )
    assert answer["calendars"][CAROL]["errors"] == [{"domain": "global", "reason": "notFound"}]
    assert busy(answer, "primary")[0] == ("2030-01-07T15:00:00Z", "2030-01-07T15:30:00Z")
    assert answer["calendars"][TEAM_HOLIDAYS_ID] == {"busy": []}


def test_groups_expand_to_their_members(demo: Any) -> None:
    answer = query(demo, ["team@example.com"], "2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z")
    assert answer["groups"] == {"team@example.com": {"calendars": [ALICE, BOB]}}
    assert set(answer["calendars"]) == {ALICE, BOB}


def test_range_rules(demo: Any) -> None:
    assert query(demo, [ALICE], "2030-01-01T00:00:00Z", "2030-04-01T00:00:00Z")["calendars"]  # exactly 90 days
    with pytest.raises(HttpError) as exc:
        query(demo, [ALICE], "2030-01-01T00:00:00Z", "2030-04-01T00:00:01Z")
    assert error(exc) == (400, "timeRangeTooLong", "The requested time range is too long.")
    with pytest.raises(HttpError) as exc:
        query(demo, [ALICE], "2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z")
    assert error(exc)[:2] == (400, "timeRangeEmpty")
    with pytest.raises(HttpError) as exc:
        freebusy(demo).query(body={"timeMax": "2030-01-01T00:00:00Z", "items": [{"id": ALICE}]}).execute()
    assert error(exc)[:2] == (400, "required")
    with pytest.raises(HttpError) as exc:
        query(demo, [ALICE], "2030-01-01T00:00:00", "2030-01-02T00:00:00")
    assert error(exc)[:2] == (400, "badRequest")
