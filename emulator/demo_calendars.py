"""The demo domain's calendars: three primary calendars, alice's `Team Holidays`, and busy weeks ahead.

Everything is derived from `today` alone (no clock, no randomness in times or ids), so tests and people can rely on
it; `emulator/CALENDAR.md` lists the same schedule in a table. Times are wall-clock times in each owner's time zone,
so they stay right across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from .calendar_common import new_etag
from .calendar_event_model import make_event
from .clock import CLOCK
from .state import AclRule, Calendar, State, User, rfc3339

DOMAIN = "example.com"
# email -> (time zone, name used when the state has no user record yet)
PEOPLE: dict[str, tuple[str, str]] = {
    "alice@example.com": ("Europe/Berlin", "Alice Adams"),
    "bob@example.com": ("America/New_York", "Bob Baker"),
    "carol@example.com": ("Europe/London", "Carol Clark"),
}
TEAM_HOLIDAYS_ID = "c_" + hashlib.sha256(b"example.com/team-holidays").hexdigest()[:40] + "@group.calendar.google.com"
TEAM_HOLIDAYS_SUMMARY = "Team Holidays"
CLAIMS_SUMMARY = "Booking claims"


def claims_calendar_id(owner: str) -> str:
    """The id of `owner`'s secondary calendar holding the booking product's claims (config `claims_calendar`)."""
    digest = hashlib.sha256(f"{DOMAIN}/booking-claims/{owner}".encode()).hexdigest()[:40]
    return f"c_{digest}@group.calendar.google.com"


WINDOW_DAYS = 21  # the seeded weeks: the 21 days after `today`

MON, TUE, WED, THU, FRI = range(5)

# (owner, weekdays, start "HH:MM", end "HH:MM", summary, extra fields): recurring weekday meetings.
WEEKLY: list[tuple[str, tuple[int, ...], str, str, str, dict[str, Any]]] = [
    ("alice@example.com", (MON, TUE, WED, THU, FRI), "09:00", "09:30", "Daily stand-up", {}),
    ("alice@example.com", (TUE, THU), "14:00", "15:00", "Project sync", {}),
    ("alice@example.com", (WED,), "11:00", "12:00", "Focus time", {"transparency": "transparent"}),
    ("bob@example.com", (MON, TUE, WED, THU, FRI), "10:00", "10:30", "Team stand-up", {}),
    ("bob@example.com", (MON, WED), "13:00", "14:00", "Customer call", {}),
    ("bob@example.com", (FRI,), "15:00", "16:00", "Weekly review", {}),
    ("carol@example.com", (MON, TUE, WED, THU, FRI), "09:30", "10:00", "Stand-up", {}),
    ("carol@example.com", (TUE,), "13:00", "14:30", "Workshop", {}),
    ("carol@example.com", (THU,), "16:00", "17:00", "1:1 with Alice", {}),
]


def demo_today() -> dt.date:
    """Today's date (UTC) on the emulator's clock: the day the demo schedule is seeded from."""
    return dt.datetime.fromtimestamp(CLOCK.now(), dt.UTC).date()


def window(today: dt.date) -> list[dt.date]:
    """The seeded days: the 21 days after `today` (today itself is not seeded)."""
    return [today + dt.timedelta(days=offset) for offset in range(1, WINDOW_DAYS + 1)]


def first_weekday(today: dt.date, weekday: int, nth: int = 1) -> dt.date:
    """The `nth` day with `weekday` (0 = Monday) in the seeded window."""
    return [day for day in window(today) if day.weekday() == weekday][nth - 1]


def event_id(owner: str, day: dt.date, label: str) -> str:
    """Deterministic demo event id (hex digits are valid base32hex)."""
    return "demo" + hashlib.sha256(f"{owner}|{day.isoformat()}|{label}".encode()).hexdigest()[:24]


def _timed(day: dt.date, clock: str, zone: str) -> dict[str, str]:
    return {"dateTime": f"{day.isoformat()}T{clock}:00", "timeZone": zone}


def _calendar(state: State, cid: str, summary: str, zone: str, owner: str) -> Calendar:
    calendar = Calendar(id=cid, summary=summary, time_zone=zone, owner=owner)
    calendar.acl[f"user:{owner}"] = AclRule(f"user:{owner}", "user", owner, "owner", new_etag())
    state.calendars[cid] = calendar
    ids = state.calendar_lists.setdefault(owner, [])
    if cid not in ids:
        ids.append(cid)
    return calendar


def _add(calendar: Calendar, owner: str, eid: str, body: dict[str, Any], created: str) -> dict[str, Any]:
    event = make_event(calendar, body, creator=owner, event_id=eid, created=created)
    calendar.events[eid] = event
    return event


def seed_calendars(state: State, today: dt.date | None = None) -> None:
    """Add the demo calendars and their events for the three weeks after `today` (default: the emulator's date)."""
    today = today or demo_today()
    created = rfc3339(dt.datetime.combine(today - dt.timedelta(days=7), dt.time(8), dt.UTC).timestamp())
    if DOMAIN not in state.domains:
        state.domains.append(DOMAIN)
    calendars: dict[str, Calendar] = {}
    for email, (zone, default_name) in PEOPLE.items():
        user = state.users.setdefault(email, User(email=email, name=default_name))
        calendars[email] = _calendar(state, email, user.name or default_name, zone, email)
        # Workspace's default for primary calendars: everyone in the organization sees free/busy only.
        rule_id = f"domain:{DOMAIN}"
        calendars[email].acl[rule_id] = AclRule(rule_id, "domain", DOMAIN, "freeBusyReader", new_etag())

    for owner, weekdays, start, end, summary, extra in WEEKLY:
        zone = PEOPLE[owner][0]
        for day in window(today):
            if day.weekday() in weekdays:
                body = {"summary": summary, "start": _timed(day, start, zone), "end": _timed(day, end, zone), **extra}
                _add(calendars[owner], owner, event_id(owner, day, summary), body, created)

    # alice: a meeting that was cancelled (kept with status "cancelled", never busy).
    alice, bob, carol = "alice@example.com", "bob@example.com", "carol@example.com"
    day = first_weekday(today, THU)
    _add(
        calendars[alice],
        alice,
        event_id(alice, day, "vendor demo"),
        {
            "summary": "Vendor demo (cancelled)",
            "status": "cancelled",
            "start": _timed(day, "10:00", PEOPLE[alice][0]),
            "end": _timed(day, "11:00", PEOPLE[alice][0]),
        },
        created,
    )
    # bob: an all-hands carol organizes that bob declined (not busy for bob).
    day = first_weekday(today, WED)
    declined = _add(
        calendars[bob],
        bob,
        event_id(bob, day, "all-hands"),
        {
            "summary": "All-hands (optional)",
            "start": _timed(day, "16:00", PEOPLE[bob][0]),
            "end": _timed(day, "17:00", PEOPLE[bob][0]),
            "attendees": [
                {"email": carol, "displayName": "Carol Clark", "responseStatus": "accepted"},
                {"email": bob, "displayName": "Bob Baker", "responseStatus": "declined"},
            ],
        },
        created,
    )
    declined["organizer"] = {"email": carol, "displayName": "Carol Clark"}
    declined["creator"] = {"email": carol}
    for attendee in declined["attendees"]:
        attendee.pop("organizer", None)
        if attendee["email"] == carol:
            attendee["organizer"] = True
    # carol: out of office for the whole first Friday (an opaque all-day event: busy all day).
    day = first_weekday(today, FRI)
    _add(
        calendars[carol],
        carol,
        event_id(carol, day, "out of office"),
        {
            "summary": "Out of office",
            "start": {"date": day.isoformat()},
            "end": {"date": (day + dt.timedelta(days=1)).isoformat()},
        },
        created,
    )

    # Each person's own "Booking claims" calendar (private, empty): the booking product writes its claims there, so
    # their own calendars show only bookings (config/example.toml `claims_calendar`).
    for email, (zone, _) in PEOPLE.items():
        claims = _calendar(state, claims_calendar_id(email), CLAIMS_SUMMARY, zone, email)
        claims.description = "Written by the booking product; do not edit."

    # alice's secondary calendar, readable by the whole domain; one transparent all-day holiday.
    holidays = _calendar(state, TEAM_HOLIDAYS_ID, TEAM_HOLIDAYS_SUMMARY, PEOPLE[alice][0], alice)
    holidays.description = "Days the team is off."
    holidays.acl[f"domain:{DOMAIN}"] = AclRule(f"domain:{DOMAIN}", "domain", DOMAIN, "reader", new_etag())
    day = first_weekday(today, MON, 2)
    _add(
        holidays,
        alice,
        event_id(TEAM_HOLIDAYS_ID, day, "team holiday"),
        {
            "summary": "Team holiday",
            "transparency": "transparent",
            "start": {"date": day.isoformat()},
            "end": {"date": (day + dt.timedelta(days=1)).isoformat()},
        },
        created,
    )
