"""Cloud Function `booking`: the public booking API (DESIGN section 4). Parse, call `shared`, respond."""

from __future__ import annotations

from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared import http
from shared.abuse import BOT_TOKEN_HEADER
from shared.booking import NewBooking
from shared.booking_api import BookingRequest, RescheduleRequest, SlotsQuery, openapi_document
from shared.client_address import client_address
from shared.errors import InvalidRequest
from shared.runtime import get_runtime

_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def list_calendars(request: flask.Request) -> Any:
    runtime = get_runtime()
    answer: dict[str, Any] = {"calendars": runtime.booking.calendars()}
    for calendar in answer["calendars"]:  # how far ahead visitors may browse (a team says it itself)
        if "horizonDays" not in calendar:
            calendar["horizonDays"] = runtime.config.slot_rules(calendar["id"]).horizon.days
    check = runtime.config.bot_check
    if check is not None:  # the site key is public: the page needs it to render the widget
        answer["botCheck"] = {"provider": check.provider, "siteKey": check.site_key}
    return answer


def list_slots(request: flask.Request) -> Any:
    query = http.validate(SlotsQuery, request.args.to_dict())
    runtime = get_runtime()

    def compute() -> dict[str, Any]:
        return runtime.booking.slots(query.calendar, query.from_, query.to, query.duration, query.timezone,
                                     live=query.live)

    if query.live:
        runtime.guard.before_live_slots(_client(request))
        return compute()
    key = (query.calendar, query.from_, query.to, query.duration, query.timezone)
    return runtime.slot_answers.get(key, compute)  # the same answer within a second (shared/slot_cache.py)


def create_booking(request: flask.Request) -> Any:
    body = http.validate(BookingRequest, http.read_json(request))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters.", fields={"Idempotency-Key": "1-255 chars"})
    runtime = get_runtime()
    visitor, client = NewBooking(**body.model_dump()), _client(request)
    tag = runtime.booking.request_tag(visitor, key, client)
    runtime.guard.before_booking(visitor, client, request.headers.get(BOT_TOKEN_HEADER), tag)
    result = runtime.booking.book(visitor, key, client)
    status = 202 if result.booking.status == "pending" else 201 if result.created else 200  # 202: confirm by email
    return {"booking": result.booking.to_json(), "token": result.token}, status


def get_booking(request: flask.Request, booking_id: str) -> Any:
    return {"booking": get_runtime().booking.get(booking_id, _token(request)).to_json()}


def cancel_booking(request: flask.Request, booking_id: str) -> Any:
    return {"booking": get_runtime().booking.cancel(booking_id, _token(request)).to_json()}


def confirm_booking(request: flask.Request, booking_id: str) -> Any:
    """The confirm link's token (from the invitation, never from an answer): booking.confirm_email."""
    return {"booking": get_runtime().booking.confirm(booking_id, _token(request)).to_json()}


def reschedule_booking(request: flask.Request, booking_id: str) -> Any:
    body = http.validate(RescheduleRequest, http.read_json(request))
    token, client, runtime = _token(request), _client(request), get_runtime()
    tag = f"move:{booking_id}:{body.start.isoformat()}:{body.duration}"  # a repeated move counts once
    runtime.guard.before_move(booking_id, token, client, runtime.tokens, tag)  # a move counts as a booking
    result = runtime.booking.reschedule(booking_id, token, body.start, body.duration, client)
    return {"booking": result.booking.to_json(), "token": result.token}


def _token(request: flask.Request) -> str | None:
    """The booking's token: `Authorization: Bearer <token>` (kept out of access logs); `?token=` only where
    config allows it (booking.token_in_query), since a URL lands in every access log on the way."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if "token" in request.args and not get_runtime().config.booking.token_in_query:
        raise InvalidRequest(
            "Send the booking token as `Authorization: Bearer <token>`, not in the URL.",
            fields={"token": "not allowed in the query; use the Authorization header"},
        )
    return request.args.get("token")


def _client(request: flask.Request) -> str:
    hops = get_runtime().config.booking.trusted_proxy_hops
    return client_address(request.headers.get("X-Forwarded-For"), request.remote_addr, trusted_hops=hops)


def openapi(request: flask.Request) -> Any:
    return openapi_document()


ROUTES = [
    http.route("GET", "/calendars", list_calendars),
    http.route("GET", "/slots", list_slots),
    http.route("POST", "/bookings", create_booking),
    http.route("GET", "/bookings/{booking_id}", get_booking),
    http.route("DELETE", "/bookings/{booking_id}", cancel_booking),
    http.route("PATCH", "/bookings/{booking_id}", reschedule_booking),
    http.route("POST", "/bookings/{booking_id}/confirm", confirm_booking),
    http.route("GET", "/openapi.json", openapi),
]


functions_framework.errorhandler(HTTPException)(http.framework_error)
http.answer_every_path()


@functions_framework.http
def booking(request: flask.Request) -> flask.Response:
    cors = http.cors(request, _allowed_origins(), methods=_METHODS, function="booking")
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

