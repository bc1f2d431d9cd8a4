"""The naive baseline: the classic single-file answer, doing everything again on every request.

This file is a complete Cloud Function source (`functions-framework --target booking --source bench/baseline.py`),
written the way the usual tutorials and Stack Overflow answers write it. Per request it

1. reads the service account key from Secret Manager (the client object is kept, as samples keep it globally),
2. parses it with `service_account.Credentials.from_service_account_info(...)` and `.with_subject(user)`,
3. builds the Calendar service with `googleapiclient.discovery.build(...)` (static discovery),
4. mints an access token (google-auth does it on the first call of the new credentials),
5. asks freeBusy whether the slot is free, and
6. inserts the event with a random id (check-then-insert: nothing stops two racers from both inserting).

It reads the same booking config TOML as the project (`BOOKING_CONFIG`) so both sides book the same calendars with
the same hours, buffers and bodies. It also serves a naive `GET /slots` (live freeBusy per request, then every
candidate slot checked against every busy interval). The bench imports `naive_free_slots` and `naive_sync` from
here for the slot-computation and sync baselines.
"""

from __future__ import annotations

import functools
import os
import tomllib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import flask
import functions_framework
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- configuration (read once, as a sample would read its settings) ----------------------------------------------
@functools.cache
def settings() -> dict[str, Any]:
    return tomllib.loads(Path(os.environ["BOOKING_CONFIG"]).read_text())


def _wall(value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    return time(0) if hours == 24 else time(hours, minutes)


def _ranges(values: Iterable[str]) -> tuple[tuple[time, time], ...]:
    return tuple((_wall(text.split("-")[0]), _wall(text.split("-")[1])) for text in values)


def calendar_settings(slug: str) -> dict[str, Any] | None:
    return next((c for c in settings()["calendars"] if c["slug"] == slug), None)


def calendar_hours(calendar: dict[str, Any]) -> dict[int, tuple[tuple[time, time], ...]]:
    hours = calendar.get("hours", {})
    return {index: _ranges(hours[name]) for index, name in enumerate(_WEEKDAYS) if hours.get(name)}


def calendar_overrides(calendar: dict[str, Any]) -> dict[date, tuple[tuple[time, time], ...]]:
    return {date.fromisoformat(day): _ranges(ranges) for day, ranges in calendar.get("overrides", {}).items()}


def _minutes(name: str, default: int = 0) -> timedelta:
    return timedelta(minutes=int(settings()["booking"].get(name, default)))


def emulator_url() -> str | None:
    google = settings().get("google") or {}
    url = google.get("emulator_url")
    return str(url).rstrip("/") if url else None


_secrets_client: Any = None


def secrets_client() -> Any:
    global _secrets_client
    if _secrets_client is None:
        url = emulator_url()
        if url:
            _secrets_client = secretmanager.SecretManagerServiceClient(
                transport="rest", credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth
                client_options={"api_endpoint": url}
            )
        else:
            _secrets_client = secretmanager.SecretManagerServiceClient()
    return _secrets_client


# --- the per-request steps ------------------------------------------------------------------------------------------
def calendar_service(subject: str, scopes: Sequence[str] = SCOPES) -> Any:
    """Steps 1-3: secret, credentials, service; all of it again for every request."""
    import json

    secret = settings()["credentials"]["secret"]
    payload = secrets_client().access_secret_version(request={"name": secret}).payload.data
    info = json.loads(payload)
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        info, scopes=list(scopes)
    )
    credentials = credentials.with_subject(subject)
    url = emulator_url()
    options = {"api_endpoint": f"{url}/calendar/v3/"} if url else None
    return build(
        "calendar", "v3", credentials=credentials, static_discovery=True, cache_discovery=False,
        client_options=options,
    )


def _busy(service: Any, calendar_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Step 4 and 5: the first call mints the token, then freeBusy for one calendar."""
    answer = service.freebusy().query(
        body={"timeMin": start.isoformat(), "timeMax": end.isoformat(), "items": [{"id": calendar_id}]}
    ).execute()
    entry = answer["calendars"].get(calendar_id, {})
    if entry.get("errors"):
        return [(start, end)]
    return [(_parse(b["start"]), _parse(b["end"])) for b in entry.get("busy", [])]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error(status: int, code: str, message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": code, "message": message}}, status


def create_booking(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    calendar = calendar_settings(str(body.get("calendar")))
    if calendar is None:
        return _error(404, "not_found", "No such calendar.")
    try:
        start = datetime.fromisoformat(str(body["start"]))
        duration = timedelta(minutes=int(body["duration"]))
        name, email = str(body["name"]), str(body["email"])
    except (KeyError, ValueError, TypeError):
        return _error(400, "invalid_request", "Bad booking.")
    end = start + duration
    zone_name = calendar["timezone"]
    service = calendar_service(calendar.get("act_as") or calendar["calendar_id"])
    try:
        busy = _busy(service, calendar["calendar_id"], start - _minutes("buffer_before_minutes"),
                     end + _minutes("buffer_after_minutes"))
        if busy:
            return _error(409, "slot_unavailable", "This time is no longer free.")
        event = service.events().insert(
            calendarId=calendar["calendar_id"],
            sendUpdates="all",
            body={
                "id": uuid.uuid4().hex,  # a random id: a retry or a racer makes a second event
                "summary": f"Meeting with {name}",
                "description": f"Booked through the website.\nName: {name}\nEmail: {email}",
                "start": {"dateTime": start.isoformat(), "timeZone": zone_name},
                "end": {"dateTime": end.isoformat(), "timeZone": zone_name},
                "attendees": [{"email": email, "displayName": name}],
                "transparency": "opaque",
            },
        ).execute()
    except HttpError as error:
        return _error(502, "upstream_error", f"Google answered {error.resp.status}.")
    booking = {"id": event["id"], "calendar": calendar["slug"], "start": start.isoformat(), "end": end.isoformat(),
               "status": "confirmed"}
    return {"booking": booking}, 201


def list_slots(args: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    calendar = calendar_settings(args.get("calendar", ""))
    if calendar is None:
        return _error(404, "not_found", "No such calendar.")
    zone = ZoneInfo(calendar["timezone"])
    first, last = date.fromisoformat(args["from"]), date.fromisoformat(args["to"])
    duration = timedelta(minutes=int(args.get("duration", 30)))
    window_start = datetime.combine(first, time(0), zone)
    window_end = datetime.combine(last + timedelta(days=1), time(0), zone)
    service = calendar_service(calendar.get("act_as") or calendar["calendar_id"])
    try:
        busy = _busy(service, calendar["calendar_id"], window_start - timedelta(days=1),
                     window_end + timedelta(days=1))
    except HttpError as error:
        return _error(502, "upstream_error", f"Google answered {error.resp.status}.")
    booking = settings()["booking"]
    slots = naive_free_slots(
        zone, calendar_hours(calendar), calendar_overrides(calendar),
        step=timedelta(minutes=int(booking.get("slot_step_minutes", 15))), duration=duration,
        buffer_before=_minutes("buffer_before_minutes"), buffer_after=_minutes("buffer_after_minutes"),
        notice=_minutes("minimum_notice_minutes"), horizon=timedelta(days=int(booking.get("horizon_days", 60))),
        window_start=window_start, window_end=window_end, busy=busy, now=datetime.now(UTC),
    )
    return {
        "calendar": calendar["slug"],
        "slots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots],
        "source": "live",
    }, 200


@functions_framework.http
def booking(request: flask.Request) -> Any:
    if request.method == "POST" and request.path == "/bookings":
        return create_booking(request.get_json(silent=True) or {})
    if request.method == "GET" and request.path == "/slots":
        return list_slots(request.args)
    return _error(404, "not_found", "No such route.")


# --- naive algorithms the bench also runs directly ------------------------------------------------------------------
def naive_free_slots(
    zone: ZoneInfo,
    hours: Mapping[int, Sequence[tuple[time, time]]],
    overrides: Mapping[date, Sequence[tuple[time, time]]],
    *,
    step: timedelta,
    duration: timedelta,
    buffer_before: timedelta,
    buffer_after: timedelta,
    notice: timedelta,
    horizon: timedelta,
    window_start: datetime,
    window_end: datetime,
    busy: Sequence[tuple[datetime, datetime]],
    now: datetime,
) -> list[tuple[datetime, datetime]]:
    """Every candidate start on the grid, each checked against every busy interval: O(slots x busy)."""
    slots: list[tuple[datetime, datetime]] = []
    earliest, latest = now + notice, now + horizon
    day, last_day = window_start.astimezone(zone).date(), window_end.astimezone(zone).date()
    while day <= last_day:
        ranges = overrides[day] if day in overrides else hours.get(day.weekday(), ())
        for opens, closes in ranges:
            start = datetime.combine(day, opens, zone)
            close = datetime.combine(day + timedelta(days=1) if closes == time(0) else day, closes, zone)
            while start + duration <= close:
                if window_start <= start < window_end and earliest <= start < latest:
                    free = True
                    for busy_start, busy_end in busy:
                        if start - buffer_before < busy_end and busy_start < start + duration + buffer_after:
                            free = False
                            break
                    if free:
                        slots.append((start.astimezone(UTC), (start + duration).astimezone(UTC)))
                start = (start.astimezone(UTC) + step).astimezone(zone)
        day += timedelta(days=1)
    return slots


def naive_sync(service: Any, calendar_ids: Iterable[str], time_min: datetime, time_max: datetime) -> int:
    """The per-calendar loop: one freeBusy request for each calendar, one after the other. Returns the calls."""
    calls = 0
    for calendar_id in calendar_ids:
        _busy(service, calendar_id, time_min, time_max)
        calls += 1
    return calls
