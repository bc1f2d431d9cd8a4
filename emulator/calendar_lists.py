"""Google Calendar API v3: calendarList (list, get, insert) and calendars.get."""

from __future__ import annotations

import hashlib
from typing import Any

from .calendar_common import (
    BASE,
    CALENDAR_LIST_PAGE,
    SCOPES,
    _arg,
    _enum_arg,
    _not_found,
    _object_body,
    _open,
    _page,
    _rank,
    _required,
    primary_calendar,
)
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import Calendar, State

routes = RouteTable()


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
