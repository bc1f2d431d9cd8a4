"""The shapes of the Calendar API requests: each builder returns a `Request` that `CalendarClient.call` and
`.batch` run, so every request body, parameter and header is written here once (the client re-exports them).

Also Google's limits on a freeBusy query, and `split_range`, which cuts a range to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_DAYS: Final = 90
"""Google's freeBusy answers at most about 90 days per query: the one cap (the sync horizon is held to it too)."""
FREEBUSY_MAX_SPAN: Final = timedelta(days=FREEBUSY_MAX_DAYS)


Request = Callable[[Any], Any]
"""Builds one googleapiclient request from the service: what `CalendarClient.call` and `.batch` run."""


def freebusy_request(calendar_ids: Sequence[str], time_min: datetime, time_max: datetime) -> Request:
    """freebusy.query for up to 50 calendars over at most 90 days."""
    body = {"timeMin": _rfc3339(time_min), "timeMax": _rfc3339(time_max), "items": [{"id": c} for c in calendar_ids]}
    return lambda api: api.freebusy().query(body=body)


def events_list_request(
    calendar_id: str,
    time_min: datetime,
    time_max: datetime,
    *,
    private_properties: dict[str, str] | None = None,
    page_token: str | None = None,
    **extra: Any,
) -> Request:
    """One page (up to 2,500) of events.list over [time_min, time_max), expanded (`singleEvents`), filtered on
    private extended properties; `extra` adds parameters such as `orderBy` or `showDeleted`."""
    params: dict[str, Any] = {
        "calendarId": calendar_id,
        "timeMin": _rfc3339(time_min),
        "timeMax": _rfc3339(time_max),
        "singleEvents": True,
        **extra,
        "maxResults": 2500,
    }
    filters = [f"{key}={value}" for key, value in (private_properties or {}).items()]
    if filters:
        params["privateExtendedProperty"] = filters
    if page_token is not None:
        params["pageToken"] = page_token
    return lambda api: api.events().list(**params)


def event_insert_request(
    calendar_id: str, body: dict[str, Any], *, send_updates: str = "none", conference: bool = False
) -> Request:
    """events.insert of `body` (its `id` chosen by the caller; an existing id is `409 duplicate`)."""
    params: dict[str, Any] = {"calendarId": calendar_id, "body": body, "sendUpdates": send_updates}
    if conference:
        params["conferenceDataVersion"] = 1
    return lambda api: api.events().insert(**params)


def event_get_request(calendar_id: str, event_id: str) -> Request:
    """events.get by id: read-after-write, unlike events.list."""
    return lambda api: api.events().get(calendarId=calendar_id, eventId=event_id)


def event_patch_request(
    calendar_id: str, event_id: str, body: dict[str, Any], *, etag: str | None = None, send_updates: str = "none"
) -> Request:
    """events.patch; with `etag`, only if the event is unchanged (`If-Match`: 412 otherwise)."""

    return lambda api: _if_match(
        api.events().patch(calendarId=calendar_id, eventId=event_id, body=body, sendUpdates=send_updates), etag
    )


def event_delete_request(
    calendar_id: str, event_id: str, *, etag: str | None = None, send_updates: str = "none"
) -> Request:
    """events.delete; with `etag`, only if the event is unchanged (`If-Match`: 412 otherwise)."""
    return lambda api: _if_match(
        api.events().delete(calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates), etag
    )


def calendar_list_page_request(page_token: str | None) -> Request:
    """One page of the acting user's calendarList."""
    return lambda api: api.calendarList().list(maxResults=250, pageToken=page_token)


def acl_list_page_request(calendar_id: str, page_token: str | None) -> Request:
    """One page of a calendar's ACL rules."""
    return lambda api: api.acl().list(calendarId=calendar_id, pageToken=page_token)


def acl_insert_request(calendar_id: str, rule: dict[str, Any], *, send_notifications: bool) -> Request:
    return lambda api: api.acl().insert(calendarId=calendar_id, body=rule, sendNotifications=send_notifications)


def acl_patch_request(calendar_id: str, rule_id: str, rule: dict[str, Any], *, send_notifications: bool) -> Request:
    return lambda api: api.acl().patch(
        calendarId=calendar_id, ruleId=rule_id, body=rule, sendNotifications=send_notifications
    )


def acl_delete_request(calendar_id: str, rule_id: str) -> Request:
    return lambda api: api.acl().delete(calendarId=calendar_id, ruleId=rule_id)


def _if_match(request: Any, etag: str | None) -> Any:
    if etag:
        request.headers["If-Match"] = etag
    return request


def split_range(
    start: datetime, end: datetime, span: timedelta = FREEBUSY_MAX_SPAN
) -> Iterable[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        upper = min(cursor + span, end)
        yield cursor, upper
        cursor = upper


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the Calendar client")
    return moment.isoformat()

