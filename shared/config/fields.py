"""The value types of the configuration: strict TOML scalars and the formats a key's value must have.

Each type is an ``Annotated`` alias whose validator raises ``ValueError`` with what is expected, which
:mod:`shared.config.messages` turns into the problem's text.
"""

from __future__ import annotations

import re
from datetime import date, time
from itertools import pairwise
from typing import Annotated
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, Strict

from .. import values
from ..invitation import template_problem
from ..slots import MIDNIGHT, TimeRange

Int = Annotated[int, Strict()]  # strict: TOML has real integers, so "15" or true is a mistake
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]

_SECRET_VERSION = re.compile(r"projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


_slug = values.slug
_email = values.email
_domain = values.domain


def _owner_scope(value: str) -> str:
    kind, _, email = value.partition(":")
    if kind not in ("user", "group") or not values.EMAIL.fullmatch(email):
        raise ValueError('expected "user:EMAIL" or "group:EMAIL", like "user:alice@example.com"')
    return f"{kind}:{email.lower()}"


def _split_url(value: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host and a well-formed port, else None."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return parts if parts.scheme in ("http", "https") and parts.hostname else None


def _http_url(value: str) -> str:
    if _split_url(value) is None:
        raise ValueError('expected an http:// or https:// URL like "https://accounts.google.com"')
    return value


def _base_url(value: str) -> str:
    return _http_url(value).rstrip("/")


def _page_url(value: str) -> str:
    parts = _split_url(value)
    if parts is None or parts.fragment or parts.username is not None:
        raise ValueError('expected the booking page\'s http(s) URL without a "#" part, like "https://www.example.com/book"')
    return value


def _template(value: str) -> str:
    problem = template_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _origin(value: str) -> str:
    parts = _split_url(value)
    if parts is None or parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError('expected an origin like "https://www.example.com" (scheme, host, optional port, no path)')
    return f"{parts.scheme}://{parts.netloc.lower()}"


_timezone = values.time_zone_name


def _secret_version(value: str) -> str:
    if not _SECRET_VERSION.fullmatch(value):
        raise ValueError(
            'expected a Secret Manager version name "projects/PROJECT/secrets/SECRET/versions/VERSION" '
            '(VERSION a number or "latest")'
        )
    return value


def _snapshot_location(value: str) -> str:
    if value.startswith("file://") and len(value) > len("file://"):
        return value
    if value.startswith("gs://"):
        bucket, _, blob = value.removeprefix("gs://").partition("/")
        if _BUCKET.fullmatch(bucket) and blob:
            return value
    raise ValueError('expected "file://PATH" or "gs://BUCKET/OBJECT"')


def _calendar_id(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError("expected a Google calendar id (for a user's primary calendar, their email)")
    return value


def _wall_time(hours: int, minutes: int, *, is_end: bool) -> time:
    if is_end and (hours, minutes) == (24, 0):
        return MIDNIGHT
    if hours > 23 or minutes > 59:
        raise ValueError(f"{hours:02}:{minutes:02} is not a time of day")
    return time(hours, minutes)


def _hours_range(value: object) -> TimeRange:
    if not isinstance(value, str) or not (match := _RANGE.fullmatch(value)):
        raise ValueError('expected a range "HH:MM-HH:MM" like "09:00-17:00"')
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    start = _wall_time(start_h, start_m, is_end=False)
    end = _wall_time(end_h, end_m, is_end=True)
    if end != MIDNIGHT and not start < end:
        raise ValueError(
            'expected the start before the end; a range cannot cross midnight ("24:00" ends the day; '
            "continue on the next day from 00:00)"
        )
    return (start, end)


def _format_range(value: TimeRange) -> str:
    end = "24:00" if value[1] == MIDNIGHT else value[1].strftime("%H:%M")
    return f"{value[0].strftime('%H:%M')}-{end}"


def _without_overlap(ranges: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
    ordered = sorted(ranges)
    for first, second in pairwise(ordered):
        if first[1] == MIDNIGHT or first[1] > second[0]:
            raise ValueError(
                f'ranges "{_format_range(first)}" and "{_format_range(second)}" overlap; '
                "expected ranges that do not overlap"
            )
    return tuple(ordered)


def _override_date(value: object) -> date:
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError('expected a date "YYYY-MM-DD"')


def _unique_durations(values: tuple[int, ...]) -> tuple[int, ...]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"expected each duration once; repeated: {', '.join(map(str, repeated))}")
    return tuple(sorted(values))


Slug = Annotated[Str, AfterValidator(_slug)]
Email = Annotated[Str, AfterValidator(_email)]
Domain = Annotated[Str, AfterValidator(_domain)]
OwnerScope = Annotated[Str, AfterValidator(_owner_scope)]
HttpUrl = Annotated[Str, AfterValidator(_http_url)]
BaseUrl = Annotated[Str, AfterValidator(_base_url)]
Origin = Annotated[Str, AfterValidator(_origin)]
PageUrl = Annotated[Str, AfterValidator(_page_url)]
Template = Annotated[Str, Field(min_length=1, max_length=1000), AfterValidator(_template)]
TimeZoneName = Annotated[Str, AfterValidator(_timezone)]
SecretVersion = Annotated[Str, AfterValidator(_secret_version)]
SnapshotLocation = Annotated[Str, AfterValidator(_snapshot_location)]
CalendarId = Annotated[Str, AfterValidator(_calendar_id)]
NonEmptyStr = Annotated[Str, Field(min_length=1)]
HoursRange = Annotated[TimeRange, PlainValidator(_hours_range)]
DayHours = Annotated[tuple[HoursRange, ...], AfterValidator(_without_overlap)]
OverrideDate = Annotated[date, PlainValidator(_override_date)]
Minutes = Annotated[Int, Field(ge=0, le=1440)]
Duration = Annotated[Int, Field(ge=5, le=480)]
Durations = Annotated[tuple[Duration, ...], Field(min_length=1), AfterValidator(_unique_durations)]
Role = values.Role
Mode = values.Mode


class Model(BaseModel):
    """A table of the file: unknown keys are errors, and a validated config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
