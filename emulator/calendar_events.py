"""Google Calendar API v3: events (insert, get, patch, update, delete, list) and the mail they send."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from werkzeug.wrappers import Response

from .calendar_common import (
    BASE,
    EVENT_ID,
    EVENTS_PAGE,
    SCOPES,
    SEND_UPDATES,
    UTC,
    WRITABLE,
    _arg,
    _bad_request,
    _bool_arg,
    _check_write_scope,
    _details_hidden,
    _domain,
    _enum_arg,
    _int_arg,
    _invalid,
    _not_found,
    _object_body,
    _open,
    _page,
    _rank,
    _read_level,
    _required_access,
    _time_arg,
    _time_range_empty,
    _zone_arg,
    new_etag,
    parse_instant,
    primary_calendar,
)
from .calendar_event_model import _apply_conference, _finish, _render, event_bounds, is_busy, make_event
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import AccessToken, Calendar, State, json_copy, rfc3339

routes = RouteTable()


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
            target[key] = json_copy(value)
    return target


def _deleted_item(event: dict[str, Any]) -> dict[str, Any]:
    """A deleted event as events.list returns it: "Deleted events are only guaranteed to have the id field
    populated" (Events resource, `status`); the emulator gives exactly that, plus `kind`, `etag` and `status`.
    A cancelled occurrence of a recurring event also keeps `recurringEventId` and `originalStartTime`."""
    item: dict[str, Any] = {key: event[key] for key in ("kind", "etag", "id", "status") if key in event}
    for key in ("recurringEventId", "originalStartTime"):
        if key in event:
            item[key] = json_copy(event[key])
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
            copy_event = json_copy(after)
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
            copy_event = json_copy(existing)
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
            event = _deep_merge(json_copy(previous), fields)
        else:
            kept = ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "sequence", "_copyOf")
            event = {key: json_copy(previous[key]) for key in kept if key in previous}
            event.update(json_copy(fields))
            event.setdefault("status", previous.get("status", "confirmed"))
            if version == 0:
                for key in ("conferenceData", "hangoutLink"):
                    if key in previous:
                        event[key] = json_copy(previous[key])
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
        previous, event = event, json_copy(event)
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
