"""Google Calendar API v3: calendarList, calendars, events, freeBusy and acl, as Google's reference describes them.

Every rule here is listed in `emulator/CALENDAR.md` with the Google page it follows. Events are kept in
`state.calendars[id].events` in the shape Google returns them (minus the calendar-relative `self` flags, which are
computed per response); deleted events stay there with `status: "cancelled"`. Each handler holds `state.lock` for
its whole read-modify-write, so concurrent clients see linearizable answers (one insert of an id wins, the rest
get 409).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import itertools
import re
import uuid
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.wrappers import Response

from .clock import CLOCK
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import ROLE_ORDER, AccessToken, AclRule, Calendar, State, rfc3339, rfc3339_seconds, stamp_ms

routes = RouteTable()

BASE = "/calendar/v3"
_AUTH = "https://www.googleapis.com/auth/"


def _scopes(*names: str) -> frozenset[str]:
    return frozenset(_AUTH + name for name in names)


# The scopes Google accepts per method: copied from the `scopes` of each method in the Calendar v3 discovery
# document (googleapiclient/discovery_cache/documents/calendar.v3.json).
_EVENT_READ = _scopes(
    "calendar",
    "calendar.app.created",
    "calendar.events",
    "calendar.events.freebusy",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
    "calendar.events.public.readonly",
    "calendar.events.readonly",
    "calendar.readonly",
)
_EVENT_WRITE = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
SCOPES: dict[str, frozenset[str]] = {
    "calendar.calendarList.list": _scopes(
        "calendar", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.readonly"
    ),
    "calendar.calendarList.get": _scopes(
        "calendar",
        "calendar.app.created",
        "calendar.calendarlist",
        "calendar.calendarlist.readonly",
        "calendar.readonly",
    ),
    "calendar.calendarList.insert": _scopes("calendar", "calendar.calendarlist"),
    "calendar.calendars.get": _scopes(
        "calendar", "calendar.app.created", "calendar.calendars", "calendar.calendars.readonly", "calendar.readonly"
    ),
    "calendar.events.list": _EVENT_READ,
    "calendar.events.get": _EVENT_READ,
    "calendar.events.insert": _EVENT_WRITE,
    "calendar.events.patch": _EVENT_WRITE,
    "calendar.events.update": _EVENT_WRITE,
    "calendar.events.delete": _EVENT_WRITE,
    "calendar.freebusy.query": _scopes(
        "calendar", "calendar.events.freebusy", "calendar.freebusy", "calendar.readonly"
    ),
    "calendar.acl.list": _scopes("calendar", "calendar.acls", "calendar.acls.readonly"),
    "calendar.acl.get": _scopes("calendar", "calendar.acls", "calendar.acls.readonly", "calendar.readonly"),
    "calendar.acl.insert": _scopes("calendar", "calendar.acls"),
    "calendar.acl.patch": _scopes("calendar", "calendar.acls"),
    "calendar.acl.update": _scopes("calendar", "calendar.acls"),
    "calendar.acl.delete": _scopes("calendar", "calendar.acls"),
}
# Scopes that let a token see every event detail of calendars its principal may read / write.
_FULL_READ = _scopes("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly")
_OWNED = _scopes("calendar.events.owned", "calendar.events.owned.readonly")
_FULL_WRITE = _scopes("calendar", "calendar.events")

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
UTC = dt.UTC
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_GROUP = 100
FREEBUSY_MAX_RANGE = dt.timedelta(days=90)
EVENTS_PAGE = (250, 2500)  # default, cap (events.list maxResults)
CALENDAR_LIST_PAGE = (100, 250)
ACL_PAGE = (100, 250)
SEND_UPDATES = ("all", "externalOnly", "none")

# Event fields a client may set (Event resource, "writable" in the reference); everything else is read-only.
WRITABLE = frozenset(
    {
        "anyoneCanAddSelf",
        "attachments",
        "attendees",
        "birthdayProperties",
        "colorId",
        "description",
        "end",
        "endTimeUnspecified",
        "eventLabelId",
        "eventType",
        "extendedProperties",
        "focusTimeProperties",
        "gadget",
        "guestsCanInviteOthers",
        "guestsCanModify",
        "guestsCanSeeOtherGuests",
        "location",
        "originalStartTime",
        "outOfOfficeProperties",
        "recurrence",
        "reminders",
        "sequence",
        "source",
        "start",
        "status",
        "summary",
        "transparency",
        "visibility",
        "workingLocationProperties",
    }
)
ATTENDEE_FIELDS = frozenset(
    {"additionalGuests", "comment", "displayName", "email", "optional", "resource", "responseStatus"}
)
ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
}
RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")
SCOPE_TYPES = ("default", "user", "group", "domain")

_counter = itertools.count()


# --- errors (Calendar's "Handle API errors" guide) -----------------------------------------------------------
def _not_found() -> GoogleError:
    return GoogleError(404, "notFound", "Not Found")


def _required_access(level: str) -> GoogleError:
    return GoogleError(
        403, "requiredAccessLevel", f"You need to have {level} access to this calendar.", domain="calendar"
    )


def _insufficient_scopes() -> GoogleError:
    return GoogleError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        item_message="Insufficient Permission",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
    )


def _bad_request(message: str = "Bad Request", *, location: str | None = None) -> GoogleError:
    return GoogleError(400, "badRequest", message, location=location)


def _invalid(message: str, *, location: str | None = None) -> GoogleError:
    return GoogleError(400, "invalid", message, location=location)


def _required(message: str = "Required", *, location: str | None = None) -> GoogleError:
    return GoogleError(400, "required", message, location=location)


def _time_range_empty(location: str | None = None) -> GoogleError:
    return GoogleError(
        400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar", location=location
    )


# --- small helpers ------------------------------------------------------------------------------------------
def new_etag() -> str:
    """A quoted, ever-changing entity tag in the shape Google uses (`"3412345678901234000"`)."""
    return f'"{int(CLOCK.now() * 1_000_000)}{next(_counter) % 1000:03d}"'


def new_event_id() -> str:
    """A server-made event id: base32hex (a-v, 0-9) of a random UUID, as Google's look."""
    return base64.b32hexencode(uuid.uuid4().bytes).decode().lower().rstrip("=")


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _zone(name: str | None) -> dt.tzinfo | None:
    if not name:
        return None
    if name.upper() in ("UTC", "GMT", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _calendar_zone(calendar: Calendar) -> dt.tzinfo:
    return _zone(calendar.time_zone) or UTC


def parse_instant(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp with a mandatory offset (`Z` or `+hh:mm`), else None."""
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.upper() if value.endswith("z") else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_instant(instant: dt.datetime, zone: dt.tzinfo = UTC) -> str:
    """Google's rendering: seconds precision, `Z` for a zero offset, else `+hh:mm`."""
    local = instant.astimezone(zone).replace(microsecond=0)
    if local.utcoffset() == dt.timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat()


def _rfc3339_ms(instant: dt.datetime) -> str:
    return rfc3339(instant.timestamp())


def _arg(ctx: Ctx, name: str) -> str | None:
    return ctx.request.args.get(name)


def _bool_arg(ctx: Ctx, name: str) -> bool | None:
    value = _arg(ctx, name)
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise GoogleError(400, "invalidBoolean", f"Invalid boolean value: '{value}'.", location=name)


def _int_arg(ctx: Ctx, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    value = _arg(ctx, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise GoogleError(400, "invalidInteger", f"Invalid integer value: '{value}'.", location=name) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"[{minimum if minimum is not None else ''}, {maximum if maximum is not None else ''}]"
        raise GoogleError(
            400,
            "invalidParameter",
            f"Invalid value '{value}'. Values must be within the range: {bounds}",
            location=name,
        )
    return number


def _enum_arg(ctx: Ctx, name: str, allowed: Iterable[str]) -> str | None:
    value = _arg(ctx, name)
    if value is not None and value not in allowed:
        raise GoogleError(
            400,
            "invalidParameter",
            f"Invalid value '{value}'. Values must match the following regular expression: '{'|'.join(allowed)}'",
            location=name,
        )
    return value


def _time_arg(ctx: Ctx, name: str) -> dt.datetime | None:
    value = _arg(ctx, name)
    if value is None:
        return None
    parsed = parse_instant(value)
    if parsed is None:
        raise _bad_request()
    return parsed


def _zone_arg(ctx: Ctx, name: str = "timeZone") -> dt.tzinfo | None:
    value = _arg(ctx, name)
    if value is None:
        return None
    zone = _zone(value)
    if zone is None:
        raise _invalid("Invalid time zone definition.", location=name)
    return zone


def _object_body(ctx: Ctx) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise GoogleError(400, "parseError", "Parse Error")
    return body


def _page(items: list[Any], ctx: Ctx, sizes: tuple[int, int]) -> tuple[list[Any], str | None]:
    """Offset paging with opaque tokens; `maxResults` above the cap is capped silently, as Google does."""
    default, cap = sizes
    size = min(_int_arg(ctx, "maxResults", minimum=1) or default, cap)
    token = _arg(ctx, "pageToken")
    offset = 0
    if token:
        try:
            decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            if not decoded.startswith("o:"):
                raise ValueError(decoded)
            offset = int(decoded[2:])
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Invalid page token value.", location="pageToken") from None
    chunk = items[offset : offset + size]
    following = offset + size
    next_token = None
    if following < len(items):
        next_token = base64.urlsafe_b64encode(f"o:{following}".encode()).decode().rstrip("=")
    return chunk, next_token


# --- calendars, roles and scopes -------------------------------------------------------------------------------
def primary_calendar(state: State, email: str) -> Calendar:
    """The principal's own calendar (id = their email); Google gives every account one, so create it on demand."""
    calendar = state.calendars.get(email)
    if calendar is None:
        user = state.users.get(email)
        calendar = Calendar(id=email, summary=(user.name if user and user.name else email), owner=email)
        calendar.acl[f"user:{email}"] = AclRule(f"user:{email}", "user", email, "owner", new_etag())
        domain = _domain(email)
        if user is not None and domain in state.domains:
            # Workspace's default sharing inside the organization: free/busy only.
            calendar.acl[f"domain:{domain}"] = AclRule(
                f"domain:{domain}", "domain", domain, "freeBusyReader", new_etag()
            )
        state.calendars[email] = calendar
    return calendar


def _resolve(state: State, token: AccessToken, calendar_id: str) -> Calendar | None:
    cid = token.principal if calendar_id == "primary" else calendar_id
    calendar = state.calendars.get(cid)
    if calendar is None and (cid in state.users or cid in state.service_accounts):
        calendar = primary_calendar(state, cid)
    return calendar


def _rank(role: str) -> int:
    return ROLE_ORDER.get(role, 0)


def _open(ctx: Ctx, token: AccessToken, calendar_id: str, need: str) -> tuple[Calendar, str]:
    """The calendar and the caller's role on it; invisible calendars are 404 (Google hides them)."""
    calendar = _resolve(ctx.state, token, calendar_id)
    role = ctx.state.role_on(calendar, token.principal) if calendar is not None else "none"
    if calendar is None or role == "none":
        raise _not_found()
    if _rank(role) < _rank(need):
        raise _required_access(need)
    return calendar, role


def _read_level(token: AccessToken, calendar: Calendar, role: str) -> str:
    """What this token and role may see of events: "full" or "freebusy" (scopes narrow, roles narrow)."""
    scopes = set(token.scopes)
    if _rank(role) < _rank("reader"):
        return "freebusy"
    if scopes & _FULL_READ:
        return "full"
    if scopes & _OWNED:
        if role != "owner":
            raise _not_found()
        return "full"
    if _AUTH + "calendar.events.freebusy" in scopes:
        return "freebusy"
    if _AUTH + "calendar.events.public.readonly" in scopes:
        public = max((_rank(r.role) for r in calendar.acl.values() if r.scope_type == "default"), default=0)
        if public >= _rank("reader"):
            return "full"
    raise _not_found()  # calendar.app.created: no calendar here was created by the app


def _details_hidden(event: dict[str, Any], role: str) -> bool:
    """A private (or confidential) event shows a reader only its busy time: "private: The event is private and only
    event attendees may view event details" (events resource, `visibility`). Writers and owners see everything."""
    return event.get("visibility") in ("private", "confidential") and _rank(role) < _rank("writer")


def _check_write_scope(token: AccessToken, role: str) -> None:
    scopes = set(token.scopes)
    if scopes & _FULL_WRITE:
        return
    if _AUTH + "calendar.events.owned" in scopes and role == "owner":
        return
    raise _insufficient_scopes()


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
        return copy.deepcopy(requested)  # conferenceDataVersion=1 also copies given conference data
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
    event: dict[str, Any] = {key: copy.deepcopy(value) for key, value in body.items() if key in WRITABLE}
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
    out = {key: copy.deepcopy(value) for key, value in event.items() if not key.startswith("_")}
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


# --- notifications (mailbox) -----------------------------------------------------------------------------------
def _send_updates(ctx: Ctx) -> str:
    value = _enum_arg(ctx, "sendUpdates", SEND_UPDATES)
    if value is not None:
        return value
    legacy = _bool_arg(ctx, "sendNotifications")
    return "all" if legacy else "none"


def _notify(
    state: State,
    calendar: Calendar,
    event: dict[str, Any],
    send_updates: str,
    plan: list[tuple[dict[str, Any], str]],
) -> None:
    if send_updates == "none":
        return
    organizer = event.get("organizer", {}).get("email", calendar.id)
    home = _domain(calendar.owner or organizer)
    stamp = rfc3339()
    start = event.get("start", {})
    for attendee, kind in plan:
        email = attendee.get("email", "")
        if attendee.get("organizer") or email == organizer.lower() or attendee.get("resource"):
            continue
        if send_updates == "externalOnly" and _domain(email) == home:
            continue
        state.mailbox.append(
            {
                "to": email,
                "kind": kind,
                "calendarId": calendar.id,
                "eventId": event["id"],
                "summary": event.get("summary", ""),
                "start": start.get("dateTime") or start.get("date"),
                "sendUpdates": send_updates,
                "time": stamp,
            }
        )


def _change_plan(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    if after.get("status") == "cancelled" and (before or {}).get("status") != "cancelled":
        # Setting status "cancelled" deletes the event (events resource reference): attendees hear of that.
        return [(a, "cancellation") for a in (before or {}).get("attendees", [])]
    old = {a["email"]: a for a in (before or {}).get("attendees", [])}
    new = {a["email"]: a for a in after.get("attendees", [])}
    plan = [(a, "update" if email in old else "invitation") for email, a in new.items()]
    plan += [(a, "cancellation") for email, a in old.items() if email not in new]
    return plan


# --- request pieces shared by the event writes ----------------------------------------------------------------
def _conference_version(ctx: Ctx) -> int:
    return _int_arg(ctx, "conferenceDataVersion", minimum=0, maximum=1) or 0


def _refuse_service_account_attendees(token: AccessToken, body: dict[str, Any]) -> None:
    if token.kind == "service_account" and not token.via_dwd and body.get("attendees"):
        raise GoogleError(
            403,
            "forbiddenForServiceAccounts",
            "Service accounts cannot invite attendees without Domain-Wide Delegation of Authority.",
            domain="calendar",
        )


def _check_if_match(ctx: Ctx, event: dict[str, Any]) -> None:
    header = ctx.request.headers.get("If-Match")
    if header is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" not in wanted and event["etag"] not in wanted:
        raise GoogleError(412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header")


def _writable_event(ctx: Ctx, token: AccessToken, calendar_id: str) -> Calendar:
    calendar, role = _open(ctx, token, calendar_id, "freeBusyReader")
    if _rank(role) < _rank("writer"):
        raise _required_access("writer")
    _check_write_scope(token, role)
    return calendar


def _deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, arrays and scalars replace, null clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _deleted_item(event: dict[str, Any]) -> dict[str, Any]:
    """A deleted event as events.list returns it: "Deleted events are only guaranteed to have the id field
    populated" (Events resource, `status`); the emulator gives exactly that, plus `kind`, `etag` and `status`.
    A cancelled occurrence of a recurring event also keeps `recurringEventId` and `originalStartTime`."""
    item: dict[str, Any] = {key: event[key] for key in ("kind", "etag", "id", "status") if key in event}
    for key in ("recurringEventId", "originalStartTime"):
        if key in event:
            item[key] = copy.deepcopy(event[key])
    return item


def _copy_to_attendees(
    state: State, calendar: Calendar, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Google's copy of an event in each invited user's own calendar (users of a domain the emulator manages):
    same id and iCalUID, the organizer's details, its own `private` extended properties (they belong to one copy),
    status following the organizer's; an attendee removed, or the event cancelled, leaves that copy cancelled."""
    if after.get("_copyOf"):
        return  # an attendee's own copy: its changes stay on that calendar
    def invited(event: dict[str, Any] | None) -> set[str]:
        if event is None or event.get("status") == "cancelled":
            return set()
        return {
            str(a.get("email", "")).lower() for a in event.get("attendees", [])
            if not a.get("resource") and str(a.get("email", "")).lower() != calendar.id.lower()
        }

    now_invited, was_invited = invited(after), invited(before)
    for email in now_invited | was_invited:
        if email not in state.users or _domain(email) not in state.domains:
            continue
        home = primary_calendar(state, email)
        existing = home.events.get(after["id"])
        if existing is not None and existing.get("_copyOf") != calendar.id:
            continue  # an unrelated event of the same id there: Google would not merge them
        if email in now_invited:
            copy_event = copy.deepcopy(after)
            props = copy_event.get("extendedProperties") or {}
            props.pop("private", None)
            if props:
                copy_event["extendedProperties"] = props
            else:
                copy_event.pop("extendedProperties", None)
            if existing is not None:
                mine = {a["email"]: a for a in existing.get("attendees", [])}
                copy_event["attendees"] = [
                    {**a, "responseStatus": mine.get(a["email"], a).get("responseStatus", "needsAction")}
                    if a.get("email") == email else a
                    for a in copy_event.get("attendees", [])
                ]
            copy_event["_copyOf"] = calendar.id
        elif existing is not None:
            copy_event = copy.deepcopy(existing)
            copy_event["status"] = "cancelled"
            copy_event["updated"] = rfc3339()
            copy_event["etag"] = new_etag()
        else:
            continue
        home.events[after["id"]] = copy_event
        state.record_write(home.id, after["id"], existing)


# --- events -----------------------------------------------------------------------------------------------------
@routes.route(f"{BASE}/calendars/<calendar_id>/events", "POST", "calendar.events.insert")
def events_insert(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.events.insert"])
    version = _conference_version(ctx)
    send_updates = _send_updates(ctx)
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar = _writable_event(ctx, token, calendar_id)
        _refuse_service_account_attendees(token, body)
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
                raise _invalid("Invalid resource id value.")
            if event_id in calendar.events:
                raise GoogleError(409, "duplicate", "The requested identifier already exists.")
        event = make_event(calendar, body, creator=token.principal, event_id=event_id)
        if version == 1 and body.get("conferenceData"):
            _apply_conference(event, body["conferenceData"], calendar.id, event["id"])
        calendar.events[event["id"]] = event
        ctx.state.record_write(calendar.id, event["id"], None)
        _copy_to_attendees(ctx.state, calendar, None, event)
        _notify(ctx.state, calendar, event, send_updates, [(a, "invitation") for a in event.get("attendees", [])])
        return _render(event, calendar, None)


@routes.route(f"{BASE}/calendars/<calendar_id>/events/<event_id>", "GET", "calendar.events.get")
def events_get(ctx: Ctx, calendar_id: str, event_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.events.get"])
    zone = _zone_arg(ctx)
    with ctx.state.lock:
        calendar, role = _open(ctx, token, calendar_id, "freeBusyReader")
        level = _read_level(token, calendar, role)
        event = calendar.events.get(event_id)
        if event is None:
            raise _not_found()
        unchanged = ctx.request.headers.get("If-None-Match")
        if unchanged and event["etag"] in {tag.strip().removeprefix("W/") for tag in unchanged.split(",")}:
            return Response(status=304, headers={"ETag": event["etag"]})  # conditional retrieval
        if event.get("status") == "cancelled" and event.get("_copyOf"):
            return _deleted_item(event)  # only the organizer's copy keeps its details (to be restored)
        return _render(event, calendar, zone, reduced=level == "freebusy" or _details_hidden(event, role))


def _update_event(ctx: Ctx, calendar_id: str, event_id: str, *, patch: bool) -> Any:
    token = ctx.authorize(SCOPES["calendar.events.patch" if patch else "calendar.events.update"])
    version = _conference_version(ctx)
    send_updates = _send_updates(ctx)
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar = _writable_event(ctx, token, calendar_id)
        previous = calendar.events.get(event_id)
        if previous is None:
            raise _not_found()
        _check_if_match(ctx, previous)
        _refuse_service_account_attendees(token, body)
        fields = {key: value for key, value in body.items() if key in WRITABLE}
        if patch:
            event = _deep_merge(copy.deepcopy(previous), fields)
        else:
            kept = ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "sequence", "_copyOf")
            event = {key: copy.deepcopy(previous[key]) for key in kept if key in previous}
            event.update(copy.deepcopy(fields))
            event.setdefault("status", previous.get("status", "confirmed"))
            if version == 0:
                for key in ("conferenceData", "hangoutLink"):
                    if key in previous:
                        event[key] = copy.deepcopy(previous[key])
        if version == 1 and "conferenceData" in body:
            if body["conferenceData"]:
                _apply_conference(event, body["conferenceData"], calendar.id, event_id)
            else:
                event.pop("conferenceData", None)
                event.pop("hangoutLink", None)
        event = _finish(event, calendar, previous)
        calendar.events[event_id] = event
        ctx.state.record_write(calendar.id, event_id, previous)
        _copy_to_attendees(ctx.state, calendar, previous, event)
        _notify(ctx.state, calendar, event, send_updates, _change_plan(previous, event))
        return _render(event, calendar, None)


@routes.route(f"{BASE}/calendars/<calendar_id>/events/<event_id>", "PATCH", "calendar.events.patch")
def events_patch(ctx: Ctx, calendar_id: str, event_id: str) -> Any:
    return _update_event(ctx, calendar_id, event_id, patch=True)


@routes.route(f"{BASE}/calendars/<calendar_id>/events/<event_id>", "PUT", "calendar.events.update")
def events_update(ctx: Ctx, calendar_id: str, event_id: str) -> Any:
    return _update_event(ctx, calendar_id, event_id, patch=False)


@routes.route(f"{BASE}/calendars/<calendar_id>/events/<event_id>", "DELETE", "calendar.events.delete")
def events_delete(ctx: Ctx, calendar_id: str, event_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.events.delete"])
    send_updates = _send_updates(ctx)
    with ctx.state.lock:
        calendar = _writable_event(ctx, token, calendar_id)
        event = calendar.events.get(event_id)
        if event is None:
            raise _not_found()
        if event.get("status") == "cancelled":
            raise GoogleError(410, "deleted", "Resource has been deleted")
        _check_if_match(ctx, event)
        previous, event = event, copy.deepcopy(event)
        event["status"] = "cancelled"
        event["updated"] = rfc3339()
        event["etag"] = new_etag()
        calendar.events[event_id] = event
        ctx.state.record_write(calendar.id, event_id, previous)
        _copy_to_attendees(ctx.state, calendar, previous, event)
        _notify(ctx.state, calendar, event, send_updates, [(a, "cancellation") for a in event.get("attendees", [])])
    return Response(status=204)


def _updated(event: dict[str, Any]) -> dt.datetime:
    return parse_instant(event.get("updated")) or dt.datetime.min.replace(tzinfo=UTC)


def _extended_filters(ctx: Ctx, name: str) -> list[tuple[str, str]]:
    filters = []
    for raw in ctx.request.args.getlist(name):
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise _invalid(f"Invalid {name} value: '{raw}'.", location=name)
        filters.append((key, value))
    return filters


def _matches_text(event: dict[str, Any], query: str) -> bool:
    haystack = " ".join(
        [
            str(event.get("summary", "")),
            str(event.get("description", "")),
            str(event.get("location", "")),
            str(event.get("organizer", {}).get("email", "")),
            str(event.get("organizer", {}).get("displayName", "")),
        ]
        + [f"{a.get('email', '')} {a.get('displayName', '')}" for a in event.get("attendees", [])]
    ).lower()
    return all(term in haystack for term in query.lower().split())


@routes.route(f"{BASE}/calendars/<calendar_id>/events", "GET", "calendar.events.list")
def events_list(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.events.list"])
    if _arg(ctx, "syncToken"):
        raise GoogleError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
    time_min = _time_arg(ctx, "timeMin")
    time_max = _time_arg(ctx, "timeMax")
    if time_min is not None and time_max is not None and time_max <= time_min:
        raise _time_range_empty("timeMax")
    updated_min = _time_arg(ctx, "updatedMin")
    single = bool(_bool_arg(ctx, "singleEvents"))
    order = _enum_arg(ctx, "orderBy", ("startTime", "updated"))
    if order == "startTime" and not single:
        raise _bad_request("The requested ordering is not available for the particular query.")
    show_deleted = bool(_bool_arg(ctx, "showDeleted"))
    zone = _zone_arg(ctx)
    private = _extended_filters(ctx, "privateExtendedProperty")
    shared = _extended_filters(ctx, "sharedExtendedProperty")
    query = _arg(ctx, "q")
    ical_uid = _arg(ctx, "iCalUID")
    event_types = ctx.request.args.getlist("eventTypes")
    with ctx.state.lock:
        calendar, role = _open(ctx, token, calendar_id, "freeBusyReader")
        level = _read_level(token, calendar, role)
        selected = []
        for event in ctx.state.lagged_events(calendar):
            if updated_min is not None and _updated(event) < updated_min:
                continue
            # With updatedMin, deleted events are always included (events.list reference).
            if event.get("status") == "cancelled" and not (show_deleted or updated_min is not None):
                continue
            if level == "freebusy" and not is_busy(event, calendar):
                continue
            start, end = event_bounds(event, calendar)
            if time_min is not None and not end > time_min:
                continue
            if time_max is not None and not start < time_max:
                continue
            if ical_uid is not None and event.get("iCalUID") != ical_uid:
                continue
            if event_types and event.get("eventType", "default") not in event_types:
                continue
            props = event.get("extendedProperties", {})
            if any(props.get("private", {}).get(k) != v for k, v in private):
                continue
            if any(props.get("shared", {}).get(k) != v for k, v in shared):
                continue
            if query and (_details_hidden(event, role) or not _matches_text(event, query)):
                continue
            selected.append((start, event))
        if order == "updated":
            selected.sort(key=lambda pair: (pair[1]["updated"], pair[1]["id"]))
        else:
            selected.sort(key=lambda pair: (pair[0], pair[1]["id"]))
        chunk, next_token = _page([event for _, event in selected], ctx, EVENTS_PAGE)
        stamps = [e["updated"] for e in calendar.events.values()]
        response: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{hashlib.sha1("".join(sorted(stamps)).encode()).hexdigest()[:16]}"',  # noqa: S324 (not crypto)
            "summary": calendar.summary,
            "updated": max(stamps) if stamps else rfc3339(0),
            "timeZone": _arg(ctx, "timeZone") or calendar.time_zone,
            "accessRole": role,
            "defaultReminders": [],
            "items": [
                _deleted_item(event) if event.get("status") == "cancelled"
                else _render(event, calendar, zone, reduced=level == "freebusy" or _details_hidden(event, role))
                for event in chunk
            ],
        }
        if calendar.description:
            response["description"] = calendar.description
        if next_token:
            response["nextPageToken"] = next_token
        return response


# --- calendarList and calendars ------------------------------------------------------------------------------
def _calendar_etag(calendar: Calendar, extra: str = "") -> str:
    digest = hashlib.sha1(f"{calendar.id}|{calendar.summary}|{calendar.time_zone}|{extra}".encode())  # noqa: S324
    return f'"{int(digest.hexdigest()[:12], 16)}"'


def _list_entry(calendar: Calendar, principal: str, role: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "calendar#calendarListEntry",
        "etag": _calendar_etag(calendar, role),
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "colorId": "14",
        "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": role,
        "defaultReminders": [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if calendar.description:
        entry["description"] = calendar.description
    if calendar.id == principal:
        entry["primary"] = True
        entry["defaultReminders"] = [{"method": "popup", "minutes": 10}]
    return entry


def _calendar_list_ids(state: State, principal: str) -> list[str]:
    ids = state.calendar_lists.setdefault(principal, [])
    if principal in state.users and principal not in ids:
        primary_calendar(state, principal)
        ids.insert(0, principal)
    return ids


@routes.route(f"{BASE}/users/me/calendarList", "GET", "calendar.calendarList.list")
def calendar_list_list(ctx: Ctx) -> Any:
    token = ctx.authorize(SCOPES["calendar.calendarList.list"])
    minimum = _enum_arg(
        ctx, "minAccessRole", ("freeBusyReader", "owner", "reader", "writer", "writerWithoutPrivateAccess")
    )
    floor = _rank("writer" if minimum == "writerWithoutPrivateAccess" else (minimum or "freeBusyReader"))
    if _arg(ctx, "syncToken"):
        raise GoogleError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
    with ctx.state.lock:
        entries = []
        for cid in _calendar_list_ids(ctx.state, token.principal):
            calendar = ctx.state.calendars.get(cid)
            if calendar is None:
                continue
            role = ctx.state.role_on(calendar, token.principal)
            if role != "none" and _rank(role) >= floor:
                entries.append(_list_entry(calendar, token.principal, role))
        chunk, next_token = _page(entries, ctx, CALENDAR_LIST_PAGE)
        response: dict[str, Any] = {
            "kind": "calendar#calendarList",
            "etag": f'"{hashlib.sha1("|".join(e["etag"] for e in entries).encode()).hexdigest()[:16]}"',  # noqa: S324
            "items": chunk,
        }
        if next_token:
            response["nextPageToken"] = next_token
        return response


@routes.route(f"{BASE}/users/me/calendarList/<calendar_id>", "GET", "calendar.calendarList.get")
def calendar_list_get(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.calendarList.get"])
    with ctx.state.lock:
        cid = token.principal if calendar_id == "primary" else calendar_id
        calendar = ctx.state.calendars.get(cid) if cid in _calendar_list_ids(ctx.state, token.principal) else None
        role = ctx.state.role_on(calendar, token.principal) if calendar is not None else "none"
        if calendar is None or role == "none":
            raise _not_found()
        return _list_entry(calendar, token.principal, role)


@routes.route(f"{BASE}/users/me/calendarList", "POST", "calendar.calendarList.insert")
def calendar_list_insert(ctx: Ctx) -> Any:
    token = ctx.authorize(SCOPES["calendar.calendarList.insert"])
    body = _object_body(ctx)
    cid = body.get("id")
    if not isinstance(cid, str) or not cid:
        raise _required(location="id")
    with ctx.state.lock:
        calendar, role = _open(ctx, token, cid, "freeBusyReader")
        ids = _calendar_list_ids(ctx.state, token.principal)
        if calendar.id not in ids:
            ids.append(calendar.id)
        return _list_entry(calendar, token.principal, role)


@routes.route(f"{BASE}/calendars/<calendar_id>", "GET", "calendar.calendars.get")
def calendars_get(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.calendars.get"])
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "freeBusyReader")
        resource: dict[str, Any] = {
            "kind": "calendar#calendar",
            "etag": _calendar_etag(calendar),
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if calendar.description:
            resource["description"] = calendar.description
        return resource


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


# --- acl ------------------------------------------------------------------------------------------------------
def _rule_resource(rule: AclRule) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": rule.scope_type}
    if rule.scope_type != "default":
        scope["value"] = rule.scope_value
    return {
        "kind": "calendar#aclRule",
        "etag": rule.etag or new_etag(),
        "id": rule.id,
        "scope": scope,
        "role": rule.role,
    }


def _invalid_scope() -> GoogleError:
    return GoogleError(400, "invalidScopeValue", "Invalid scope value.")


def _parse_scope(state: State, raw: Any) -> tuple[str, str, str]:
    """(type, value, rule id) of a requested ACL scope; a missing type is `default` (public), as documented."""
    scope = raw if isinstance(raw, dict) else {}
    scope_type = scope.get("type") or "default"
    value = scope.get("value")
    if scope_type not in SCOPE_TYPES:
        raise _invalid("Invalid scope type value.")
    if scope_type == "default":
        return "default", "", "default"
    if not isinstance(value, str) or not value.strip():
        raise _invalid_scope()
    value = value.strip().lower()
    if scope_type in ("user", "group"):
        local, at, domain = value.partition("@")
        if not local or not at or "." not in domain:
            raise _invalid_scope()
        if scope_type == "group" and domain in state.domains and value not in state.groups:
            raise _invalid_scope()
    else:
        if "@" in value or "." not in value or value not in state.domains:
            raise _invalid_scope()
    return scope_type, value, f"{scope_type}:{value}"


def _parse_role(raw: Any, scope_type: str) -> str:
    if raw is None:
        raise _required(location="role")
    if raw not in ROLE_ORDER:
        raise _invalid("Invalid role value.", location="role")
    if scope_type == "default" and _rank(raw) > _rank("reader"):
        raise GoogleError(400, "illegalAccessRoleForDefault", "Illegal access role for default scope.")
    return str(raw)


def _members(state: State, rule: AclRule) -> list[str]:
    if rule.scope_type == "user":
        return [rule.scope_value]
    if rule.scope_type == "group":
        return list(state.groups.get(rule.scope_value, []))
    return []


def _guard_rule_change(calendar: Calendar, principal: str, rule_id: str, new_role: str) -> None:
    """Google's refusals: your own rule, the data owner's rule, and the last owner."""
    current = calendar.acl.get(rule_id)
    if current is None or current.role == new_role:
        return
    if current.scope_type == "user" and current.scope_value == principal.lower():
        raise GoogleError(403, "cannotChangeOwnAcl", "Cannot change your own access level.", domain="calendar")
    if current.scope_type == "user" and current.scope_value == calendar.id.lower() and calendar.owner == calendar.id:
        raise GoogleError(
            403, "cannotChangeOwnerAcl", "Cannot change the access level of the calendar owner.", domain="calendar"
        )
    if current.role == "owner" and new_role != "owner":
        owners = [
            r
            for r in calendar.acl.values()
            if r.role == "owner" and r.id != rule_id and r.scope_type in ("user", "group")
        ]
        if not owners:
            raise GoogleError(
                403,
                "cannotRemoveLastCalendarOwnerFromAcl",
                "Cannot remove the last owner of a calendar from the access control list.",
                domain="calendar",
            )


def _sync_calendar_lists(state: State, calendar: Calendar, rule: AclRule) -> None:
    """Workspace puts a calendar shared with a user on their list; losing access takes it off."""
    for email in _members(state, rule):
        if email not in state.users:
            continue  # service accounts add shared calendars themselves (calendarList.insert)
        ids = state.calendar_lists.setdefault(email, [])
        visible = state.role_on(calendar, email) != "none"
        if visible and calendar.id not in ids:
            ids.append(calendar.id)
        elif not visible and calendar.id in ids and calendar.id != email:
            ids.remove(calendar.id)


def _share_mail(ctx: Ctx, calendar: Calendar, rule: AclRule) -> None:
    if _bool_arg(ctx, "sendNotifications") is False or rule.role == "none":
        return
    if rule.scope_type not in ("user", "group"):
        return
    ctx.state.mailbox.append(
        {
            "to": rule.scope_value,
            "kind": "share",
            "calendarId": calendar.id,
            "summary": calendar.summary,
            "role": rule.role,
            "ruleId": rule.id,
            "time": rfc3339(),
        }
    )


def _store_rule(ctx: Ctx, calendar: Calendar, rule: AclRule) -> dict[str, Any]:
    rule.etag = new_etag()
    calendar.acl[rule.id] = rule
    _sync_calendar_lists(ctx.state, calendar, rule)
    _share_mail(ctx, calendar, rule)
    return _rule_resource(rule)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl", "GET", "calendar.acl.list")
def acl_list(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.list"])
    show_deleted = bool(_bool_arg(ctx, "showDeleted"))
    if _arg(ctx, "syncToken"):
        raise GoogleError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "writer")
        rules = [_rule_resource(r) for r in calendar.acl.values() if show_deleted or r.role != "none"]
        chunk, next_token = _page(rules, ctx, ACL_PAGE)
        response: dict[str, Any] = {
            "kind": "calendar#acl",
            "etag": f'"{hashlib.sha1("|".join(r["etag"] for r in rules).encode()).hexdigest()[:16]}"',  # noqa: S324
            "items": chunk,
        }
        if next_token:
            response["nextPageToken"] = next_token
        return response


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "GET", "calendar.acl.get")
def acl_get(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.get"])
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "writer")
        rule = calendar.acl.get(rule_id)
        if rule is None:
            raise _not_found()
        return _rule_resource(rule)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl", "POST", "calendar.acl.insert")
def acl_insert(ctx: Ctx, calendar_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.insert"])
    _bool_arg(ctx, "sendNotifications")
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        scope_type, value, rule_id = _parse_scope(ctx.state, body.get("scope"))
        role = _parse_role(body.get("role"), scope_type)
        _guard_rule_change(calendar, token.principal, rule_id, role)
        # An insert for a scope that already has a rule replaces that rule's role (same id).
        return _store_rule(ctx, calendar, AclRule(rule_id, scope_type, value, role))


def _change_rule(ctx: Ctx, calendar_id: str, rule_id: str, *, patch: bool) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.patch" if patch else "calendar.acl.update"])
    _bool_arg(ctx, "sendNotifications")
    body = _object_body(ctx)
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        rule = calendar.acl.get(rule_id)
        if rule is None:
            raise _not_found()
        if "scope" in body and body["scope"] is not None:
            _type, _value, requested_id = _parse_scope(ctx.state, body["scope"])
            if requested_id != rule.id:
                raise _invalid("Invalid scope value: the scope of a rule cannot be changed.")
        if patch and body.get("role") is None:
            return _rule_resource(rule)
        role = _parse_role(body.get("role"), rule.scope_type)
        _guard_rule_change(calendar, token.principal, rule.id, role)
        return _store_rule(ctx, calendar, AclRule(rule.id, rule.scope_type, rule.scope_value, role))


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "PATCH", "calendar.acl.patch")
def acl_patch(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    return _change_rule(ctx, calendar_id, rule_id, patch=True)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "PUT", "calendar.acl.update")
def acl_update(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    return _change_rule(ctx, calendar_id, rule_id, patch=False)


@routes.route(f"{BASE}/calendars/<calendar_id>/acl/<rule_id>", "DELETE", "calendar.acl.delete")
def acl_delete(ctx: Ctx, calendar_id: str, rule_id: str) -> Any:
    token = ctx.authorize(SCOPES["calendar.acl.delete"])
    with ctx.state.lock:
        calendar, _role = _open(ctx, token, calendar_id, "owner")
        rule = calendar.acl.get(rule_id)
        if rule is None or rule.role == "none":
            raise _not_found()
        _guard_rule_change(calendar, token.principal, rule.id, "none")
        # Deleted rules stay as role "none" (acl.list shows them with showDeleted=true, as documented).
        deleted = AclRule(rule.id, rule.scope_type, rule.scope_value, "none", new_etag())
        calendar.acl[rule.id] = deleted
        _sync_calendar_lists(ctx.state, calendar, deleted)
    return Response(status=204)
