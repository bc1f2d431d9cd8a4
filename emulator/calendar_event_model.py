"""Google Calendar API v3: the event resource -- its times, attendees, conference data, validation and rendering."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from .calendar_common import (
    ATTENDEE_FIELDS,
    ENUMS,
    RESPONSE_STATUSES,
    UTC,
    WRITABLE,
    _calendar_zone,
    _invalid,
    _required,
    _time_range_empty,
    _zone,
    format_instant,
    new_etag,
    new_event_id,
    parse_instant,
)
from .state import Calendar, json_copy, rfc3339, rfc3339_seconds, stamp_ms


# --- event times -------------------------------------------------------------------------------------------------
def _normalize_time(value: Any, which: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        raise _required(f"Missing {which} time.")
    zone_name = value.get("timeZone")
    zone = _zone(zone_name) if zone_name else None
    if zone_name and zone is None:
        raise _invalid(f"Invalid time zone definition for {which} time.")
    if value.get("date") and value.get("dateTime"):
        raise _invalid(f"Invalid {which} time.")
    if value.get("date"):
        raw = value["date"]
        try:
            day = dt.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise _invalid(f"Invalid {which} time.")
        result: dict[str, Any] = {"date": day.isoformat()}
        if zone_name:
            result["timeZone"] = zone_name
        return result
    raw = value["dateTime"]
    try:
        parsed = dt.datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) >= 19 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _invalid(f"Invalid {which} time.")
    if parsed.tzinfo is None:
        if zone is None:
            raise _required(f"Missing time zone definition for {which} time.")
        parsed = parsed.replace(tzinfo=zone)
    result = {"dateTime": format_instant(parsed, zone or parsed.tzinfo or UTC)}
    if zone_name:
        result["timeZone"] = zone_name
    return result


def _boundary(value: dict[str, Any], zone: dt.tzinfo) -> dt.datetime:
    if "date" in value:
        return dt.datetime.combine(dt.date.fromisoformat(value["date"]), dt.time(0), zone)
    parsed = parse_instant(value["dateTime"])
    assert parsed is not None  # stored times are normalized on write
    return parsed


def event_bounds(event: dict[str, Any], calendar: Calendar) -> tuple[dt.datetime, dt.datetime]:
    """The event's [start, end) as aware datetimes; all-day dates count in the calendar's time zone."""
    zone = _calendar_zone(calendar)
    return _boundary(event["start"], zone), _boundary(event["end"], zone)


def _check_range(event: dict[str, Any], calendar: Calendar) -> None:
    start, end = event["start"], event["end"]
    if ("date" in start) != ("date" in end):
        raise _invalid("Start and end times must either both be date or both be dateTime.")
    begin, finish = event_bounds(event, calendar)
    if finish < begin or ("date" in start and finish == begin):
        raise _time_range_empty()


# --- event resources ------------------------------------------------------------------------------------------
def _organizer(calendar: Calendar) -> dict[str, Any]:
    if "@group.calendar.google.com" in calendar.id or calendar.owner != calendar.id:
        return {"email": calendar.id, "displayName": calendar.summary}
    return {"email": calendar.id}


def _normalize_attendees(raw: Any, organizer_email: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise _invalid("Invalid attendees value.")
    attendees = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("email"):
            raise _required("Missing attendee email.")
        if not isinstance(item["email"], str) or "@" not in item["email"]:
            raise _invalid("Invalid attendee email.")
        attendee = {key: value for key, value in item.items() if key in ATTENDEE_FIELDS}
        attendee["email"] = item["email"].strip().lower()
        attendee.setdefault("responseStatus", "needsAction")
        if attendee["responseStatus"] not in RESPONSE_STATUSES:
            raise _invalid("Invalid attendee response status.")
        if attendee["email"] == organizer_email.lower():
            attendee["organizer"] = True
        attendees.append(attendee)
    return attendees


def _meet_code(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    letters = "".join(chr(ord("a") + byte % 26) for byte in digest[:10])
    return f"{letters[:3]}-{letters[3:7]}-{letters[7:]}"


def _conference(requested: Any, existing: dict[str, Any] | None, calendar_id: str, event_id: str) -> dict[str, Any]:
    if not isinstance(requested, dict):
        raise _invalid("Invalid conference data.")
    create = requested.get("createRequest")
    if not create:
        return json_copy(requested)  # conferenceDataVersion=1 also copies given conference data
    key = ((create.get("conferenceSolutionKey") or {}).get("type")) if isinstance(create, dict) else None
    request_id = create.get("requestId") if isinstance(create, dict) else None
    if key != "hangoutsMeet":
        raise _invalid("Invalid conference type value.")
    if not request_id:
        raise _required("Missing conference create request id.")
    if existing and (existing.get("createRequest") or {}).get("requestId") == request_id:
        return existing
    code = _meet_code(calendar_id, event_id, str(request_id))
    return {
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": "success"},
        },
        "entryPoints": [
            {"entryPointType": "video", "uri": f"https://meet.google.com/{code}", "label": f"meet.google.com/{code}"}
        ],
        "conferenceSolution": {
            "key": {"type": "hangoutsMeet"},
            "name": "Google Meet",
            "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
        },
        "conferenceId": code,
    }


def _apply_conference(event: dict[str, Any], requested: Any, calendar_id: str, event_id: str) -> None:
    conference = _conference(requested, event.get("conferenceData"), calendar_id, event_id)
    event["conferenceData"] = conference
    video = next((p for p in conference.get("entryPoints", []) if p.get("entryPointType") == "video"), None)
    if video and "meet.google.com" in str(video.get("uri", "")):
        event["hangoutLink"] = video["uri"]


def _validate_fields(event: dict[str, Any]) -> None:
    for field, allowed in ENUMS.items():
        if field in event and event[field] not in allowed:
            raise _invalid(f"Invalid {field} value.")
    for field in ("summary", "description", "location"):
        if field in event and not isinstance(event[field], str):
            raise _invalid(f"Invalid {field} value.")
    extended = event.get("extendedProperties")
    if extended is not None:
        if not isinstance(extended, dict):
            raise _invalid("Invalid extendedProperties value.")
        for kind in ("private", "shared"):
            values = extended.get(kind)
            if values is not None and (
                not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values())
            ):
                raise _invalid("Invalid extendedProperties value.")


def _finish(event: dict[str, Any], calendar: Calendar, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Validate and complete an event about to be stored (normalized times, attendees, defaults, stamps)."""
    event["start"] = _normalize_time(event.get("start"), "start")
    event["end"] = _normalize_time(event.get("end"), "end")
    _check_range(event, calendar)
    _validate_fields(event)
    if "attendees" in event:
        if event["attendees"]:
            event["attendees"] = _normalize_attendees(event["attendees"], event["organizer"]["email"])
        else:
            del event["attendees"]
    event.setdefault("status", "confirmed")
    event.setdefault("reminders", {"useDefault": True})
    event.setdefault("eventType", "default")
    sequence = event.get("sequence", 0)
    if not isinstance(sequence, int) or sequence < 0:
        raise _invalid("Invalid sequence value.")
    if previous is not None:
        sequence = max(sequence, previous.get("sequence", 0))
        if event_bounds(previous, calendar) != event_bounds(event, calendar):
            sequence += 1
    event["sequence"] = sequence
    event["updated"] = rfc3339()
    event["etag"] = new_etag()
    return event


def make_event(
    calendar: Calendar,
    body: dict[str, Any],
    *,
    creator: str,
    event_id: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """A new event resource for `calendar`, as events.insert stores it (also used to seed the demo)."""
    eid = event_id or new_event_id()
    moment = stamp_ms() / 1000  # one instant for both stamps: `updated` in milliseconds, `created` cut to seconds
    stamp = created or rfc3339_seconds(moment)  # Google writes `created` in whole seconds
    event: dict[str, Any] = {key: json_copy(value) for key, value in body.items() if key in WRITABLE}
    event.update(
        {
            "kind": "calendar#event",
            "id": eid,
            "htmlLink": "https://www.google.com/calendar/event?eid="
            + base64.urlsafe_b64encode(f"{eid} {calendar.id}".encode()).decode().rstrip("="),
            "created": stamp,
            "creator": {"email": creator},
            "organizer": _organizer(calendar),
            "iCalUID": body.get("iCalUID") or f"{eid}@google.com",
        }
    )
    event = _finish(event, calendar, None)
    event["updated"] = created or rfc3339(moment)
    return event


def _render(
    event: dict[str, Any], calendar: Calendar, zone: dt.tzinfo | None, *, reduced: bool = False
) -> dict[str, Any]:
    """The event as it appears on `calendar`: times in the event's (else the requested or calendar's) zone."""
    out = {key: json_copy(value) for key, value in event.items() if not key.startswith("_")}
    default_zone = zone or _calendar_zone(calendar)
    for key in ("start", "end"):
        value = out.get(key) or {}
        if "dateTime" in value:
            instant = parse_instant(value["dateTime"])
            if instant is not None:
                value["dateTime"] = format_instant(instant, _zone(value.get("timeZone")) or default_zone)
    if reduced:
        return {key: out[key] for key in ("kind", "etag", "id", "status", "start", "end") if key in out}
    # `self` marks "the calendar on which this copy of the event appears" (Event resource reference).
    if out.get("creator", {}).get("email") == calendar.id:
        out["creator"]["self"] = True
    if out.get("organizer", {}).get("email") == calendar.id:
        out["organizer"]["self"] = True
    for attendee in out.get("attendees", []):
        if attendee.get("email") == calendar.id.lower():
            attendee["self"] = True
    return out


def _declined_by_owner(event: dict[str, Any], calendar: Calendar) -> bool:
    owners = {calendar.id.lower(), (calendar.owner or calendar.id).lower()}
    return any(
        a.get("email", "").lower() in owners and a.get("responseStatus") == "declined"
        for a in event.get("attendees", [])
    )


def is_busy(event: dict[str, Any], calendar: Calendar) -> bool:
    """Whether `event` blocks time in free/busy: not cancelled, not transparent, not declined by the owner."""
    return (
        event.get("status") != "cancelled"
        and event.get("transparency", "opaque") != "transparent"
        and not _declined_by_owner(event, calendar)
    )
