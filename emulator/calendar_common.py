"""Google Calendar API v3: what its resources share -- scopes, limits, errors, query arguments, paging, access.

The handlers are split by resource: `calendar_events` (events), `calendar_lists` (calendarList and calendars),
`calendar_freebusy` (freeBusy) and `calendar_acl` (acl); `calendar_event_model` holds the event shape they store.
Every rule here is listed in `emulator/CALENDAR.md` with the Google page it follows. Events are kept in
`state.calendars[id].events` in the shape Google returns them (minus the calendar-relative `self` flags, which are
computed per response); deleted events stay there with `status: "cancelled"`. Each handler holds `state.lock` for
its whole read-modify-write, so concurrent clients see linearizable answers (one insert of an id wins, the rest
get 409).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
import uuid
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .clock import CLOCK
from .errors import GoogleError
from .routing import Ctx
from .state import ROLE_ORDER, AccessToken, AclRule, Calendar, State, rfc3339

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
