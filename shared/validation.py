"""Request input as pydantic models: one 400 `invalid_request` naming every bad field and what is expected there,
said the way a person would (not the regex). Used by the entry points (through `shared.http`) and by bulk use
cases that validate each item on its own (`shared.sharing`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import InvalidRequest

if TYPE_CHECKING:
    from pydantic import BaseModel

Model = TypeVar("Model", bound="BaseModel")


def validate(model: type[Model], data: Any) -> Model:
    """`data` as `model`, or one 400 naming every bad field and what is expected."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields: dict[str, str] = {}
        named: dict[str, str] = {}
        # The input only tells a date-only `start` from one without its offset; no message repeats it.
        for problem in error.errors(include_url=False):
            name = ".".join(str(part) for part in problem["loc"]) or "body"
            fields.setdefault(name, _expected(problem, name))
            named.setdefault(name, f"{name} ({fields[name]})" if _format_hint(problem) else name)
        raise InvalidRequest(
            "Some fields are missing or invalid: " + ", ".join(named.values()) + ".", fields=fields
        ) from None


# What a field that failed its pattern should look like, said the way a person would (not the regex).
_PATTERN_HINTS = {
    "email": "a valid email address, like name@example.org",
    "calendar": "a calendar id from /calendars, like alice",
    "timezone": "an IANA time zone, like Europe/Berlin",
}


# Dates and times, said with the format and an example; pydantic's own reason (e.g. "month value is outside
# expected range of 1-12") follows after a semicolon.
DATE_HINT = "a date as YYYY-MM-DD, e.g. 2026-12-09"
DATETIME_HINT = "a date and time in RFC 3339 with offset, e.g. 2026-12-09T10:00:00+01:00"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORMAT_REASONS = {
    "timezone_aware": "the offset is missing",
    "date_from_datetime_inexact": "a date without a time",
}


def _format_hint(problem: Any) -> str | None:
    kind = str(problem["type"])
    if kind.startswith("date_"):
        hint = DATE_HINT
    elif kind.startswith("datetime_") or kind == "timezone_aware":
        hint = DATETIME_HINT
    else:
        return None
    if kind == "timezone_aware" and _DATE_ONLY.fullmatch(str(problem.get("input", ""))):
        reason = "the time and offset are missing"
    else:
        reason = _FORMAT_REASONS.get(kind) or str(problem["msg"]).partition(", ")[2]
    return f"{hint}; {reason}" if reason else hint


def _expected(problem: Any, name: str) -> str:
    if hint := _format_hint(problem):
        return hint
    if problem["type"] == "string_pattern_mismatch" and name in _PATTERN_HINTS:
        return _PATTERN_HINTS[name]
    if problem["type"] == "missing":
        return "required"
    if problem["type"] == "extra_forbidden":
        return "not allowed"
    message = str(problem["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
