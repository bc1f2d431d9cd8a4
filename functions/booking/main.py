"""Cloud Function `booking`: the public booking API (DESIGN section 4). Parse, call `shared`, respond."""

from __future__ import annotations

from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared import http
from shared.booking import NewBooking
from shared.booking_api import BookingRequest, RescheduleRequest, SlotsQuery, openapi_document
from shared.errors import InvalidRequest
from shared.runtime import get_runtime

_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def list_calendars(request: flask.Request) -> Any:
    return {"calendars": get_runtime().booking.calendars()}


def list_slots(request: flask.Request) -> Any:
    query = http.validate(SlotsQuery, request.args.to_dict())
    runtime = get_runtime()

    def compute() -> dict[str, Any]:
        return runtime.booking.slots(query.calendar, query.from_, query.to, query.duration, query.timezone,
                                     live=query.live)

    if query.live:
        return compute()
    key = (query.calendar, query.from_, query.to, query.duration, query.timezone)
    return runtime.slot_answers.get(key, compute)  # the same answer within a second (shared/slot_cache.py)


def create_booking(request: flask.Request) -> Any:
    body = http.validate(BookingRequest, http.read_json(request))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters.", fields={"Idempotency-Key": "1-255 chars"})
    runtime = get_runtime()
    result = runtime.booking.book(NewBooking(**body.model_dump()), key)
    zone = runtime.booking.answer_zone(body.calendar, body.timezone)
    return {"booking": result.booking.to_json(zone), "token": result.token}, 201 if result.created else 200


def get_booking(request: flask.Request, booking_id: str) -> Any:
    booking, calendar = get_runtime().booking.get(booking_id, _token(request))
    return {"booking": booking.to_json(calendar.zone)}


def cancel_booking(request: flask.Request, booking_id: str) -> Any:
    booking, calendar = get_runtime().booking.cancel(booking_id, _token(request))
    return {"booking": booking.to_json(calendar.zone)}


def reschedule_booking(request: flask.Request, booking_id: str) -> Any:
    body = http.validate(RescheduleRequest, http.read_json(request))
    token = _token(request)
    result, calendar = get_runtime().booking.reschedule(booking_id, token, body.start, body.duration)
    return {"booking": result.booking.to_json(calendar.zone), "token": result.token}


def _token(request: flask.Request) -> str | None:
    """The booking's token: `Authorization: Bearer <token>` (kept out of access logs), else `?token=`."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get("token")


def openapi(request: flask.Request) -> Any:
    return openapi_document()


ROUTES = [
    http.route("GET", "/calendars", list_calendars),
    http.route("GET", "/slots", list_slots),
    http.route("POST", "/bookings", create_booking),
    http.route("GET", "/bookings/{booking_id}", get_booking),
    http.route("DELETE", "/bookings/{booking_id}", cancel_booking),
    http.route("PATCH", "/bookings/{booking_id}", reschedule_booking),
    http.route("GET", "/openapi.json", openapi),
]


functions_framework.errorhandler(HTTPException)(http.framework_error)


@functions_framework.http
def booking(request: flask.Request) -> flask.Response:
    cors = http.cors_headers(request.headers.get("Origin"), _allowed_origins(), methods=_METHODS)
    if request.method == "OPTIONS":
        return flask.Response(status=204, headers=cors)
    response = http.guarded("booking", request, lambda: http.dispatch(request, ROUTES))
    response.headers.update(cors)
    return response


def _allowed_origins() -> tuple[str, ...]:
    try:
        return tuple(get_runtime().config.booking.cors_origins)
    except Exception:  # a broken config is reported by the request itself
        return ()

