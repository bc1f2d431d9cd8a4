"""Helpers for booking tests: clean calendars, local times, OpenAPI response checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
ALICE = "alice@example.com"


def clear_events(server: Any, calendar_id: str = ALICE) -> None:
    """Drop the demo's busy events so a test controls every event on the calendar (and its booking claims, in
    the owner's "Booking claims" calendar of the demo)."""
    from emulator.demo_calendars import claims_calendar_id

    state = server.emulator.state
    with state.lock:
        state.calendars[calendar_id].events.clear()
        claims = state.calendars.get(claims_calendar_id(calendar_id))
        if claims is not None:
            claims.events.clear()


def workdays(
    count: int, days_ahead: int = 3, zone: ZoneInfo = BERLIN, weekdays: tuple[int, ...] = (0, 1, 2, 3)
) -> list[date]:
    """`count` distinct Monday-to-Thursdays (alice's long days), the first at least `days_ahead` days after the
    pinned today in `zone`, skipping every date the example config overrides (holidays, short days)."""
    from tests.helpers.pinned_time import overridden_dates, today

    days: list[date] = []
    day = today(zone) + timedelta(days=days_ahead)
    while len(days) < count:
        if day.weekday() in weekdays and day not in overridden_dates():
            days.append(day)
        day += timedelta(days=1)
    return days


def workday(days_ahead: int = 3, zone: ZoneInfo = BERLIN, weekdays: tuple[int, ...] = (0, 1, 2, 3)) -> date:
    """The first of `workdays`: a regular long day at least `days_ahead` days after the pinned today."""
    return workdays(1, days_ahead, zone, weekdays)[0]


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), zone)


def booking_body(start: datetime, duration: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "calendar": "alice",
        "start": start.isoformat(),
        "duration": duration,
        "name": "Vera Visitor",
        "email": "vera@visitor.test",
        **extra,
    }


def confirmed_bookings(server: Any, calendar_id: str = ALICE) -> list[dict[str, Any]]:
    state = server.emulator.state
    with state.lock:
        events = [dict(e) for e in state.calendars[calendar_id].events.values()]
    return [
        e
        for e in events
        if e.get("status") != "cancelled"
        and ((e.get("extendedProperties") or {}).get("private") or {}).get("wcbBooking") == "1"
    ]


def span(event: dict[str, Any]) -> tuple[datetime, datetime]:
    def parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)

    return parse(event["start"]["dateTime"]), parse(event["end"]["dateTime"])


def add_busy(server: Any, start: datetime, end: datetime, calendar_id: str = ALICE, **extra: Any) -> str:
    """A meeting on the calendar, inserted through the real Calendar API as its owner."""
    from tests.helpers.clients import calendar_service, delegated_credentials

    credentials = delegated_credentials(server, calendar_id, ["https://www.googleapis.com/auth/calendar.events"])
    event = (
        calendar_service(server, credentials)
        .events()
        .insert(
            calendarId=calendar_id,
            body={"summary": "Busy", "start": {"dateTime": start.isoformat()},
                  "end": {"dateTime": end.isoformat()}, **extra},
        )
        .execute()
    )
    return str(event["id"])


def assert_matches_openapi(response: Any, path: str, method: str) -> None:
    """The response body validates against the schema the OpenAPI document gives for its status."""
    from jsonschema import Draft202012Validator

    from shared.booking_api import openapi_document

    document = openapi_document()
    operation = document["paths"][path][method.lower()]
    entry = operation["responses"].get(str(response.status_code))
    assert entry is not None, f"{method} {path} -> {response.status_code} is not in the OpenAPI document"
    if "$ref" in entry:
        entry = document["components"]["responses"][entry["$ref"].rsplit("/", 1)[1]]
    schema = {**entry["content"]["application/json"]["schema"], "components": document["components"]}
    Draft202012Validator(schema).validate(response.get_json())
