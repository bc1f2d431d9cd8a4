"""The booking function's HTTP contract: request models (validated with pydantic) and its OpenAPI 3.1 document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .values import EMAIL_MAX_LENGTH, SLUG, TIME_ZONE_NAME
from .visitor_text import clean_block, clean_line, normalize_email

# Dates and times a booking can have at all; anything else is a 400 (not an overflow in date arithmetic).
MIN_YEAR, MAX_YEAR = 2000, 2999


def _in_years(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"a date between {MIN_YEAR} and {MAX_YEAR}")
    return value


def _moment_in_years(value: datetime) -> datetime:
    _in_years(value.date())
    return value


def _email(value: str) -> str:
    return normalize_email(value, allow_idn=True)  # IDN kept as xn--; booking.allow_idn_emails decides


def _name(value: str) -> str:
    text = clean_line(value)
    if not 1 <= len(text) <= 100:
        raise ValueError("1 to 100 visible characters")
    return text


def _notes(value: str) -> str:
    return clean_block(value)


Slug = Annotated[str, StringConstraints(pattern=rf"^{SLUG.pattern}$")]
Email = Annotated[str, StringConstraints(max_length=EMAIL_MAX_LENGTH), AfterValidator(_email)]
Moment = Annotated[AwareDatetime, AfterValidator(_moment_in_years)]
Day = Annotated[date, AfterValidator(_in_years)]
VisitorName = Annotated[str, StringConstraints(max_length=400), AfterValidator(_name)]
Notes = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_notes)]
Minutes = Annotated[int, Field(strict=True, ge=5, le=480)]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=rf"^{TIME_ZONE_NAME.pattern}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BookingRequest(_Body):
    calendar: Slug
    start: Moment
    duration: Minutes
    name: VisitorName
    email: Email
    notes: Notes | None = None
    timezone: TimeZoneName | None = None
    type: Annotated[Slug | None, Field(description="the meeting type's id (GET /calendars `meetingTypes`); "
                                       "default: the calendar's first")] = None


class RescheduleRequest(_Body):
    start: Moment
    duration: Minutes | None = None


class SlotsQuery(_Body):
    calendar: Slug
    from_: Day = Field(alias="from")
    to: Day
    duration: Annotated[int, Field(ge=5, le=480)]
    timezone: TimeZoneName | None = None
    live: bool = False  # ask Google now instead of the snapshot (e.g. after a 409 showed the snapshot was behind)


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z_]+$"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }


_DATETIME = {"type": "string", "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_SLUG = {"type": "string", "pattern": f"^{SLUG.pattern}$"}
_MINUTES = {"type": "integer", "minimum": 5, "maximum": 480}
_ZONE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{TIME_ZONE_NAME.pattern}$"}
_BOOKING = {
    "type": "object",
    "required": ["id", "calendar", "start", "end", "status"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-v0-9]{5,1024}$"},
        "calendar": {"type": "string"},
        "start": _DATETIME,
        "end": _DATETIME,
        "status": {"enum": ["confirmed", "cancelled"]},
        "meetLink": {"type": "string"},
        "movedTo": {"type": "string", "description": "the booking this one was moved to"},
        "type": {"type": "string", "description": "the meeting type's id (GET /calendars `meetingTypes`)"},
        "invitation": {
            "type": "object",
            "description": "where Google's invitation went; `sent: false` with a reason when none was sent",
            "required": ["sent"],
            "properties": {
                "sent": {"type": "boolean"},
                "to": {"type": "string"},
                "reason": {"enum": ["company_domain", "disabled", "calendar_cannot_invite", "no_email"]},
            },
        },
    },
}
_MEETING_TYPE = {
    "type": "object",
    "required": ["id", "name", "durations", "meet"],
    "properties": {
        "id": _SLUG,
        "name": {"type": "string"},
        "durations": {"type": "array", "items": {"type": "integer"}},
        "description": {"type": "string"},
        "location": {"type": "string"},
        "meet": {"type": "boolean", "description": "a Google Meet link is attached"},
    },
}


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    def errors(*codes: int) -> dict[str, Any]:
        return {str(c): {"$ref": "#/components/responses/Error"} for c in codes}

    def json_body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def ok(schema_ref: str, description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}

    # `Authorization: Bearer <token>`; `?token=` only where config allows it
    token_security: list[dict[str, list[str]]] = [{"bookingToken": []}]
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 1024}}
    common = errors(400, 403, 404, 500, 502, 503)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Booking API", "version": "1.0.0"},
        "servers": [{"url": server_url}],
        "paths": {
            "/calendars": {
                "get": {
                    "operationId": "listCalendars",
                    "responses": {"200": ok("#/components/schemas/CalendarList", "Bookable calendars"), **errors(500)},
                }
            },
            "/slots": {
                "get": {
                    "operationId": "listSlots",
                    "parameters": [
                        {"name": "calendar", "in": "query", "required": True, "schema": _SLUG},
                        {"name": "from", "in": "query", "required": True, "schema": _DATE},
                        {"name": "to", "in": "query", "required": True, "schema": _DATE},
                        {"name": "duration", "in": "query", "required": True, "schema": _MINUTES},
                        {"name": "timezone", "in": "query", "required": False, "schema": _ZONE},
                        {"name": "live", "in": "query", "required": False, "schema": {"type": "boolean"},
                         "description": "read Google now rather than the availability snapshot"},
                    ],
                    "responses": {
                        "200": ok("#/components/schemas/Slots", "Free slots"),
                        **errors(400, 404, 500, 502, 503),
                    },
                }
            },
            "/bookings": {
                "post": {
                    "operationId": "createBooking",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
                    ],
                    "requestBody": json_body(BookingRequest.model_json_schema()),
                    "responses": {
                        "200": ok("#/components/schemas/BookingCreated", "The same booking, made earlier"),
                        "201": ok("#/components/schemas/BookingCreated", "Booked"),
                        **errors(400, 404, 409, 413, 415, 500, 502, 503),
                    },
                }
            },
            "/bookings/{id}": {
                "parameters": [id_param],
                "get": {
                    "operationId": "getBooking",
                    "security": token_security,
                    "responses": {"200": ok("#/components/schemas/BookingEnvelope", "The booking"), **common},
                },
                "delete": {
                    "operationId": "cancelBooking",
                    "security": token_security,
                    "responses": {"200": ok("#/components/schemas/BookingEnvelope", "Cancelled"), **common},
                },
                "patch": {
                    "operationId": "rescheduleBooking",
                    "security": token_security,
                    "requestBody": json_body(RescheduleRequest.model_json_schema()),
                    "responses": {
                        "200": ok("#/components/schemas/BookingCreated", "Rescheduled"),
                        **errors(400, 403, 404, 409, 413, 415, 500, 502, 503),
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bookingToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the booking's token from its confirmation (HMAC-SHA256 signed, expiring)",
                }
            },
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "Error": _error_schema(),
                "Booking": _BOOKING,
                "BookingEnvelope": {
                    "type": "object",
                    "required": ["booking"],
                    "properties": {"booking": {"$ref": "#/components/schemas/Booking"}},
                },
                "BookingCreated": {
                    "type": "object",
                    "required": ["booking", "token"],
                    "properties": {"booking": {"$ref": "#/components/schemas/Booking"}, "token": {"type": "string"}},
                },
                "CalendarList": {
                    "type": "object",
                    "required": ["calendars"],
                    "properties": {
                        "calendars": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "name", "timezone", "durations"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                    "timezone": {"type": "string"},
                                    "durations": {"type": "array", "items": {"type": "integer"}},
                                    "meetingTypes": {"type": "array", "items": _MEETING_TYPE,
                                                     "description": "empty: book by duration alone"},
                                    "horizonDays": {"type": "integer", "minimum": 1,
                                                    "description": "slots start less than this many days ahead"},
                                },
                            },
                        },
                        "botCheck": {
                            "description": "Present when bookings need a bot check: the page renders the widget "
                                           "with this public site key and sends its token in X-Turnstile-Token.",
                            "type": "object",
                            "required": ["provider", "siteKey"],
                            "properties": {"provider": {"type": "string", "enum": ["turnstile"]},
                                           "siteKey": {"type": "string"}},
                        },
                    },
                },
                "Slots": {
                    "type": "object",
                    "required": ["calendar", "timezone", "duration", "slots", "source", "asOf"],
                    "properties": {
                        "calendar": {"type": "string"},
                        "timezone": {"type": "string"},
                        "duration": {"type": "integer"},
                        "source": {"enum": ["snapshot", "live"]},
                        "asOf": _DATETIME,
                        "slots": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["start", "end"],
                                "properties": {"start": _DATETIME, "end": _DATETIME},
                            },
                        },
                    },
                },
            },
        },
    }
