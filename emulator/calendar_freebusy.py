"""Google Calendar API v3: freeBusy.query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .calendar_common import (
    BASE,
    FREEBUSY_MAX_CALENDARS,
    FREEBUSY_MAX_GROUP,
    FREEBUSY_MAX_RANGE,
    SCOPES,
    UTC,
    _bad_request,
    _invalid,
    _object_body,
    _required,
    _resolve,
    _rfc3339_ms,
    _time_range_empty,
    _zone,
    format_instant,
    parse_instant,
)
from .calendar_event_model import event_bounds, is_busy
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import Calendar

routes = RouteTable()


# --- freeBusy ---------------------------------------------------------------------------------------------------
def busy_intervals(
    calendar: Calendar, time_min: dt.datetime, time_max: dt.datetime, events: Iterable[dict[str, Any]] | None = None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Merged busy intervals of `calendar` (or of `events` on it) clipped to [time_min, time_max)."""
    spans = []
    for event in calendar.events.values() if events is None else events:
        if not is_busy(event, calendar):
            continue
        start, end = event_bounds(event, calendar)
        start, end = max(start, time_min), min(end, time_max)
        if start < end:
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _body_int(body: dict[str, Any], name: str, maximum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > maximum:
        raise _invalid(f"Invalid {name} value.", location=name)
    return value


@routes.route(f"{BASE}/freeBusy", "POST", "calendar.freebusy.query")
def freebusy_query(ctx: Ctx) -> Any:
    token = ctx.authorize(SCOPES["calendar.freebusy.query"])
    body = _object_body(ctx)
    bounds = []
    for name in ("timeMin", "timeMax"):
        if not body.get(name):
            raise _required(location=name)
        parsed = parse_instant(body[name])
        if parsed is None:
            raise _bad_request()
        bounds.append(parsed)
    time_min, time_max = bounds
    if time_max <= time_min:
        raise _time_range_empty("timeMax")
    if time_max - time_min > FREEBUSY_MAX_RANGE:
        raise GoogleError(400, "timeRangeTooLong", "The requested time range is too long.", domain="calendar")
    zone: dt.tzinfo = UTC
    if body.get("timeZone"):
        found = _zone(str(body["timeZone"]))
        if found is None:
            raise _invalid("Invalid time zone definition.", location="timeZone")
        zone = found
    limit = _body_int(body, "calendarExpansionMax", FREEBUSY_MAX_CALENDARS) or FREEBUSY_MAX_CALENDARS
    group_limit = _body_int(body, "groupExpansionMax", FREEBUSY_MAX_GROUP) or FREEBUSY_MAX_GROUP
    items = body.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        raise _invalid("Invalid items value.", location="items")
    with ctx.state.lock:
        state = ctx.state
        wanted: list[str] = []
        groups: dict[str, Any] = {}
        for item in items:
            key = item["id"]
            if key in state.groups:
                members = state.groups[key]
                if len(members) > group_limit:
                    groups[key] = {"errors": [{"domain": "global", "reason": "groupTooBig"}], "calendars": []}
                    continue
                groups[key] = {"calendars": list(members)}
                wanted.extend(members)
            else:
                wanted.append(key)
        calendars: dict[str, Any] = {}
        answered = 0
        for key in wanted:
            if key in calendars:
                continue
            if answered >= limit:
                calendars[key] = {
                    "errors": [{"domain": "usageLimits", "reason": "tooManyCalendarsRequested"}],
                    "busy": [],
                }
                continue
            answered += 1
            calendar = _resolve(state, token, key)
            if calendar is None or state.role_on(calendar, token.principal) == "none":
                calendars[key] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            calendars[key] = {
                "busy": [
                    {"start": format_instant(start, zone), "end": format_instant(end, zone)}
                    for start, end in busy_intervals(calendar, time_min, time_max, state.lagged_events(calendar))
                ]
            }
        response: dict[str, Any] = {
            "kind": "calendar#freeBusy",
            "timeMin": _rfc3339_ms(time_min),
            "timeMax": _rfc3339_ms(time_max),
            "calendars": calendars,
        }
        if groups:
            response["groups"] = groups
        return response
