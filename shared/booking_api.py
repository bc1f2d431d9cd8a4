"""The booking function's HTTP contract: request models (validated with pydantic), answer models, and its OpenAPI
3.1 document, whose request and response schemas are generated from those models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import models_json_schema

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


# --- answers: the OpenAPI document's response schemas are generated from these models -------------------------
class _Answer(BaseModel):
    """An answer's shape for the OpenAPI document (extra fields allowed: a client ignores what it does not know)."""

    model_config = ConfigDict(populate_by_name=True)


class ErrorBody(_Answer):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")]
    message: str
    details: dict[str, Any] | None = None


class Error(_Answer):
    error: ErrorBody


class Invitation(_Answer):
    """Where Google's invitation went; `sent: false` with a reason when none was sent."""

    sent: bool
    to: str | None = None
    reason: Literal["company_domain", "disabled", "calendar_cannot_invite", "no_email"] | None = None


class Booking(_Answer):
    id: Annotated[str, StringConstraints(pattern=r"^[a-v0-9]{5,1024}$")]
    calendar: str
    start: datetime
    end: datetime
    status: Literal["confirmed", "pending", "cancelled"] = Field(
        description="pending: awaiting the visitor's confirmation by email (booking.confirm_email) until `confirmBy`"
    )
    confirm_by: datetime | None = Field(default=None, alias="confirmBy",
                                        description="a pending booking's deadline; unconfirmed, its time is released")
    meet_link: str | None = Field(default=None, alias="meetLink")
    moved_to: str | None = Field(default=None, alias="movedTo", description="the booking this one was moved to")
    type: str | None = Field(default=None, description="the meeting type's id (GET /calendars `meetingTypes`)")
    invitation: Invitation | None = None
    team: str | None = Field(default=None, description="the team it was booked through; `calendar` is the member "
                             "booked (round robin) or the organizer (collective)")


class BookingEnvelope(_Answer):
    booking: Booking


class BookingCreated(_Answer):
    booking: Booking
    token: str


class MeetingType(_Answer):
    id: Slug
    name: str
    durations: list[int]
    description: str | None = None
    location: str | None = None
    meet: bool = Field(description="a Google Meet link is attached")


class TeamMember(_Answer):
    id: str = Field(description="the member's calendar id (GET /calendars)")
    name: str


class CalendarEntry(_Answer):
    """A calendar (one person) or a team (`kind: team`), both booked by `id`."""

    id: str
    name: str
    kind: Literal["calendar", "team"] = "calendar"
    mode: Literal["round_robin", "collective"] | None = Field(
        default=None, description="teams: `round_robin` books one free member, `collective` all members at once"
    )
    members: list[TeamMember] | None = Field(default=None, description="teams: their members' public names")
    organizer: str | None = Field(default=None, description="collective teams: the member whose calendar holds it")
    timezone: str
    durations: list[int]
    meeting_types: list[MeetingType] | None = Field(
        default=None, alias="meetingTypes", description="empty: book by duration alone"
    )
    horizon_days: Annotated[int, Field(ge=1)] | None = Field(
        default=None, alias="horizonDays", description="slots start less than this many days ahead"
    )


class BotCheck(_Answer):
    """Present when bookings need a bot check: the page renders the widget with this public site key and sends
    its token in X-Turnstile-Token."""

    provider: Literal["turnstile"]
    site_key: str = Field(alias="siteKey")


class CalendarList(_Answer):
    calendars: list[CalendarEntry]
    bot_check: BotCheck | None = Field(default=None, alias="botCheck")


class Slot(_Answer):
    start: datetime
    end: datetime


class Slots(_Answer):
    calendar: str
    timezone: str
    duration: int
    slots: list[Slot]
    source: Literal["snapshot", "live"]
    as_of: datetime = Field(alias="asOf")


_ANSWERS: tuple[type[BaseModel], ...] = (Error, BookingEnvelope, BookingCreated, CalendarList, Slots)


def _answer_schemas() -> dict[str, Any]:
    """`components.schemas`: each answer model and the models inside it, referenced by name."""
    _, top = models_json_schema([(model, "validation") for model in _ANSWERS],
                                ref_template="#/components/schemas/{model}")
    return dict(top.get("$defs", {}))


_DATE = {"type": "string", "format": "date"}
_SLUG = {"type": "string", "pattern": f"^{SLUG.pattern}$"}
_MINUTES = {"type": "integer", "minimum": 5, "maximum": 480}
_ZONE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": f"^{TIME_ZONE_NAME.pattern}$"}


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
                        "202": ok("#/components/schemas/BookingCreated",
                                  "Held pending: confirm through the link in Google's invitation by `confirmBy`"),
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
            "/bookings/{id}/confirm": {
                "parameters": [id_param],
                "post": {
                    "operationId": "confirmBooking",
                    "security": [{"confirmationToken": []}],
                    "responses": {
                        "200": ok("#/components/schemas/BookingEnvelope", "Confirmed (or confirmed already)"),
                        **errors(400, 403, 404, 409, 410, 500, 502, 503),
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "confirmationToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the confirmation token of the confirm link in Google's invitation "
                                   "(booking.confirm_email); the booking token does not confirm",
                },
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
            "schemas": _answer_schemas(),
        },
    }
