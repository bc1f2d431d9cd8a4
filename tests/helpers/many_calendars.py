"""Many calendars in the emulator's demo domain, for the sync's scale tests and `make bench`'s sync and scale
scenarios: `add_calendars` seeds the emulator's state, `calendars_toml` the matching `[[calendars]]` config.

It lives beside the tests (not in bench/) so that no test imports the benchmarks; bench imports it from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

DOMAIN = "example.com"
ZONES = ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo")


def calendar_email(index: int) -> str:
    return f"member{index:04d}@{DOMAIN}"


def add_calendars(state: Any, count: int, *, today: dt.date | None = None, events: int = 3) -> list[str]:
    """`count` users of the demo domain, each with a primary calendar that the whole domain sees as free/busy
    (Workspace's default) and `events` busy one-hour meetings over the coming weeks. Returns their emails."""
    from emulator.calendar_common import new_etag
    from emulator.calendar_event_model import make_event
    from emulator.demo_calendars import demo_today
    from emulator.state import AclRule, Calendar, User

    today = today or demo_today()  # the emulator's date, as the demo schedule's
    emails = []
    with state.lock:
        for index in range(count):
            email = calendar_email(index)
            zone = ZONES[index % len(ZONES)]
            state.users[email] = User(email=email, name=f"Member {index}")
            calendar = Calendar(id=email, summary=f"Member {index}", time_zone=zone, owner=email)
            calendar.acl[f"user:{email}"] = AclRule(f"user:{email}", "user", email, "owner", new_etag())
            domain_rule = AclRule(f"domain:{DOMAIN}", "domain", DOMAIN, "freeBusyReader", new_etag())
            calendar.acl[domain_rule.id] = domain_rule
            for number in range(events):
                day = today + dt.timedelta(days=1 + (index + number * 5) % 27)
                hour = 9 + (index + number) % 8
                body = {
                    "summary": f"Meeting {number}",
                    "start": {"dateTime": f"{day.isoformat()}T{hour:02d}:00:00", "timeZone": zone},
                    "end": {"dateTime": f"{day.isoformat()}T{hour:02d}:45:00", "timeZone": zone},
                }
                event_id = f"bench{index:04d}n{number}"
                calendar.events[event_id] = make_event(calendar, body, creator=email, event_id=event_id)
            state.calendars[email] = calendar
            state.calendar_lists.setdefault(email, []).append(email)
            emails.append(email)
    return emails


def add_meetings(state: Any, emails: list[str], *, today: dt.date | None = None) -> int:
    """One more busy meeting on each of `emails`' calendars (what a booking does to free/busy); how many."""
    from emulator.calendar_event_model import make_event
    from emulator.demo_calendars import demo_today

    day = (today or demo_today()) + dt.timedelta(days=2)
    with state.lock:
        for email in emails:
            calendar = state.calendars[email]
            zone = calendar.time_zone
            body = {"summary": "Added", "start": {"dateTime": f"{day.isoformat()}T17:00:00", "timeZone": zone},
                    "end": {"dateTime": f"{day.isoformat()}T17:30:00", "timeZone": zone}}
            event_id = f"added{len(calendar.events)}"
            calendar.events[event_id] = make_event(calendar, body, creator=email, event_id=event_id)
    return len(emails)


def calendars_toml(emails: list[str], *, first: int = 0) -> str:
    """`[[calendars]]` entries (slugs `m0000`...) for the calendars `add_calendars` made."""
    blocks = []
    for offset, email in enumerate(emails):
        index = first + offset
        blocks.append(
            f"""
[[calendars]]
slug = "m{index:04d}"
name = "Member {index}"
calendar_id = "{email}"
act_as = "{email}"
timezone = "{ZONES[index % len(ZONES)]}"

[calendars.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
"""
        )
    return "".join(blocks)
