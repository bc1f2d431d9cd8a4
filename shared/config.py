"""The booking configuration: one TOML file, validated at start-up, every problem reported at once.

``load_config(path)`` / ``parse_config(text)`` return a frozen :class:`Config` or raise one
:class:`ConfigError` listing each problem with its place in the file (``calendars[1].hours.mon[0]``) and what
is expected there. Unknown keys are errors, so a typo is never silently ignored. Every key is documented in
``config/README.md``. This module never reads the environment; entry points pass the path in.

Validation runs in two passes whose problems are reported together: pydantic checks each value where it
stands (types, ranges, formats), then :func:`_relation_problems` checks rules that relate several keys (unique
slugs, ``act_as`` for delegated calendars, ``owner`` only with ``allow_owner`` or ``owner_scopes``, sharing
inside the company's domains unless ``allow_outside_domain``, notice shorter than horizon, and the teams' rules in
:mod:`shared.team_config`) on the raw TOML data, so they are reported even when other values are wrong.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from . import values
from .calendar_client import FREEBUSY_MAX_DAYS
from .invitation import template_problem
from .slots import MIDNIGHT, SlotRules, TimeRange
from .team_config import TeamMode, shared_durations, team_problems
from .visitor_text import in_domains

__all__ = [
    "BookingConfig",
    "BotCheckConfig",
    "CalendarConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "CredentialsConfig",
    "GoogleConfig",
    "IdentityConfig",
    "LimitsConfig",
    "MeetingType",
    "SharingConfig",
    "SnapshotConfig",
    "SyncConfig",
    "TeamConfig",
    "WeeklyHours",
    "load_config",
    "parse_config",
]



# --- errors -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One problem: where in the file (dotted path, empty for the whole file) and what is expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason, the message shows them all."""

    def __init__(self, source: str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        super().__init__(f"invalid config {source} ({count}):{lines}")


# --- value types ----------------------------------------------------------------------------------------

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


# --- models -----------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoogleConfig(_Model):
    emulator_url: BaseUrl


class CredentialsConfig(_Model):
    # The delegation client of booking and sync (calendar.events + calendar.freebusy). CREDENTIALS_SECRET overrides.
    secret: SecretVersion | None = None
    # The delegation client of sharing (calendar.acls + calendar.calendarlist.readonly); unset: `secret`.
    # SHARING_CREDENTIALS_SECRET overrides.
    sharing_secret: SecretVersion | None = None
    # The booking-token key (random bytes), read by booking only; unset: derived from the key in `secret` (not
    # possible with a keyless_dwd descriptor, which holds nothing secret). TOKEN_KEY_SECRET overrides.
    token_key_secret: SecretVersion | None = None


class BookingConfig(_Model):
    slot_step_minutes: Annotated[Int, Field(ge=5, le=240)] = 15
    durations: Durations = (30,)
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = 0
    minimum_notice_minutes: Annotated[Int, Field(ge=0)] = 120
    horizon_days: Annotated[Int, Field(ge=1, le=365)] = 60
    max_per_day: Annotated[Int, Field(ge=1)] | None = None
    invite_visitor: Bool = True
    # Kept for old configs; changes nothing: the booking (with Google's invitation) is written only once it holds
    # its claims, so no loser is ever invited.
    confirm_before_inviting: Bool = False
    add_meet_link: Bool = False
    cors_origins: tuple[Origin, ...] = ()
    company_domains: tuple[Domain, ...] = ()
    token_ttl_days: Annotated[Int, Field(ge=1, le=365)] = 90
    # Accept the booking token as `?token=` too (it then lands in access logs); else only Authorization: Bearer.
    token_in_query: Bool = False
    # Scope an Idempotency-Key to the client's address, so that another client's guess of it finds nothing.
    idempotency_per_client: Bool = True
    # Which X-Forwarded-For entry, counted from the right, is the client: 1 behind Cloud Run, 2 behind an
    # external HTTPS load balancer, 0 for the socket's peer (local stack).
    trusted_proxy_hops: Annotated[Int, Field(ge=0, le=5)] = 1
    # Visitors with an address in company_domains (or a subdomain): refused, or booked without an invitation.
    company_visitors: Literal["refuse", "allow"] = "refuse"
    # International email domains: refused, or accepted and kept in their xn-- (ASCII) form.
    allow_idn_emails: Bool = False
    # How long a claim whose booking was never written keeps its cell (a writer that crashed, or is still on its
    # way); far above the function timeout, see shared/booking.py.
    claim_ttl_seconds: Annotated[Int, Field(ge=120, le=86400)] = 900
    # The invitation (shared/invitation.py): the company's name, the title and description templates, and the
    # booking page whose links to reschedule and cancel the description carries (none without it).
    company_name: Annotated[Str, Field(max_length=200)] = ""
    title_template: Template | None = None
    description_template: Template | None = None
    manage_url: PageUrl | None = None
    # Confirm the visitor's email before a booking is final: it is written pending (tentative, holding its slot)
    # and confirmed through the link in Google's invitation within `confirm_within_minutes`, else it lapses
    # (shared/booking/confirm.py). Needs invite_visitor and manage_url.
    confirm_email: Bool = False
    confirm_within_minutes: Annotated[Int, Field(ge=5, le=1440)] = 30


class MeetingType(_Model):
    """A kind of meeting a calendar offers (Calendly's event type): the visitor picks one in the page."""

    slug: Slug
    name: Annotated[Str, Field(min_length=1, max_length=100)]
    durations: Durations | None = None  # unset: the calendar's
    description: Annotated[Str, Field(max_length=1000)] = ""
    location: Annotated[Str, Field(max_length=500)] = ""
    meet: Bool | None = None  # unset: booking.add_meet_link


class WeeklyHours(_Model):
    mon: DayHours = ()
    tue: DayHours = ()
    wed: DayHours = ()
    thu: DayHours = ()
    fri: DayHours = ()
    sat: DayHours = ()
    sun: DayHours = ()

    def by_weekday(self) -> dict[int, tuple[TimeRange, ...]]:
        """Ranges keyed by ``date.weekday()`` (0 = Monday), days without hours left out."""
        days = (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)
        return {weekday: ranges for weekday, ranges in enumerate(days) if ranges}


class CalendarConfig(_Model):
    slug: Slug
    name: Annotated[Str, Field(min_length=1, max_length=200)]
    calendar_id: CalendarId
    mode: Mode = "delegated"
    act_as: Email | None = None
    # Where this calendar's claims live (shared/claims.py): a calendar the same identity can write, so that the
    # employee's own calendar stays clean. Unset: the calendar itself (claims are transparent private events).
    claims_calendar: CalendarId | None = None
    timezone: TimeZoneName
    durations: Durations | None = None
    hours: WeeklyHours
    meeting_types: tuple[MeetingType, ...] = ()
    overrides: Annotated[Mapping[OverrideDate, DayHours], AfterValidator(types.MappingProxyType)] = Field(
        default_factory=lambda: types.MappingProxyType({})
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def claims_calendar_id(self) -> str:
        return self.claims_calendar or self.calendar_id

    def slot_rules(self, booking: BookingConfig) -> SlotRules:
        """This calendar's rules for :mod:`shared.slots`, with the booking defaults it does not override."""
        return SlotRules(
            timezone=self.zone,
            weekly_hours=self.hours.by_weekday(),
            overrides=self.overrides,
            step=timedelta(minutes=booking.slot_step_minutes),
            durations=tuple(timedelta(minutes=m) for m in self.durations or booking.durations),
            buffer_before=timedelta(minutes=booking.buffer_before_minutes),
            buffer_after=timedelta(minutes=booking.buffer_after_minutes),
            minimum_notice=timedelta(minutes=booking.minimum_notice_minutes),
            horizon=timedelta(days=booking.horizon_days),
            max_per_day=booking.max_per_day,
        )


def _two_or_more(members: tuple[str, ...]) -> tuple[str, ...]:
    if len(members) < 2:
        raise ValueError("expected at least 2 members (a team of one is that calendar)")
    return members


@dataclass(frozen=True)
class TeamConfig:
    """A team (``[[teams]]``): one public slug booking one of its member calendars (``round_robin``: the free member
    with the fewest bookings from this team in the fairness window, then the highest ``priority``, then the order of
    ``members``) or all of them at once (``collective``: one event in the ``organizer``'s calendar, the others
    attendees). Hours, buffers, notice, horizon and per-day caps are each member's own (its calendar's rules).

    A frozen dataclass that pydantic validates like the models; :class:`Config` fills in the defaults that depend on
    the calendars (``durations``: those every member offers; ``organizer``: the first member, collective only)."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    slug: Slug
    name: Annotated[Str, Field(min_length=1, max_length=200)]
    mode: TeamMode
    members: Annotated[tuple[Slug, ...], AfterValidator(_two_or_more)]  # after the items: a bad one is one problem
    durations: Durations = ()  # unset: the durations every member's calendar offers (filled in by Config)
    # round_robin: member -> priority (default 0); the higher goes first among members with as many bookings.
    priority: Annotated[Mapping[Slug, Int], AfterValidator(types.MappingProxyType)] = field(
        default_factory=lambda: types.MappingProxyType({}), hash=False
    )
    fairness_window_days: Annotated[Int, Field(ge=1, le=365)] = 30  # round_robin: bookings counted this far back
    organizer: Slug | None = None  # collective: whose calendar holds the event (unset: the first member)

    def priority_of(self, member: str) -> int:
        return self.priority.get(member, 0)


class SharingConfig(_Model):
    mode: Mode = "delegated"  # delegated: act as the request's `owner`; direct / authorized_user: as the secret's
    admins: tuple[Email, ...] = ()
    allowed_roles: tuple[Role, ...] = ("none", "freeBusyReader", "reader", "writer")
    allow_public: Bool = False
    allow_owner: Bool = False
    # Who may be given the owner role ("user:EMAIL" / "group:EMAIL"); empty: anyone, when allow_owner = true.
    owner_scopes: tuple[OwnerScope, ...] = ()
    # Share with users and groups outside the company's domains, other domains or the public; off: refused (403).
    allow_outside_domain: Bool = False
    # The company's domains for sharing; empty: booking.company_domains.
    company_domains: tuple[Domain, ...] = ()
    iam_protected: Bool = False
    # Accepted ID-token `aud` values for this function (its URL as callers mint for); else identity.audiences.
    audiences: tuple[NonEmptyStr, ...] = ()
    # With IAP in front: the `aud` of IAP's assertion (/projects/NUMBER/global/backendServices/ID). The identity
    # is then read from `x-goog-iap-jwt-assertion` only.
    iap_audience: NonEmptyStr | None = None


class SyncConfig(_Model):
    scheduler_identity: Email | None = None
    # Whom free/busy is asked as. One identity that sees every calendar's free/busy (in Workspace, any user of
    # the domain does by default) lets 50 calendars share one query; without act_as each calendar is asked as
    # itself (its own mode and act_as), grouped by identity.
    mode: Mode = "delegated"
    act_as: Email | None = None
    iam_protected: Bool = False
    horizon_days: Annotated[Int, Field(ge=1, le=FREEBUSY_MAX_DAYS)] | None = None
    audiences: tuple[NonEmptyStr, ...] = ()
    # X-CloudScheduler-ScheduleTime further than this from now (either way) is refused (400).
    max_schedule_skew_minutes: Annotated[Int, Field(ge=1, le=1440)] = 60
    # Release booking claims left by crashed attempts on every run (shared/sweep.py): one list call per calendar.
    sweep_claims: Bool = False
    # With per-day caps or padding, bookings are listed (one request per calendar) only where free/busy changed
    # (shared/count_plan.py), at most this many a run; the rest are answered live until a later run. The default
    # keeps a shared act_as identity, with its 200 free/busy queries for 10,000 calendars, inside 600 a minute.
    max_booking_lists_per_run: Annotated[Int, Field(ge=0, le=100_000)] = 300


class SnapshotConfig(_Model):
    location: SnapshotLocation
    max_age_seconds: Annotated[Int, Field(ge=1, le=86400)] = 900

    @property
    def scheme(self) -> Literal["file", "gs"]:
        return "file" if self.location.startswith("file://") else "gs"

    @property
    def path(self) -> str:
        """For ``file://``: the path after the scheme (relative paths are relative to the working directory)."""
        return self.location.removeprefix("file://")

    @property
    def bucket(self) -> str:
        return self.location.removeprefix("gs://").partition("/")[0]

    @property
    def object_name(self) -> str:
        return self.location.removeprefix("gs://").partition("/")[2]


class IdentityConfig(_Model):
    issuer: HttpUrl = "https://accounts.google.com"
    certs_url: HttpUrl = "https://www.googleapis.com/oauth2/v1/certs"
    audiences: tuple[NonEmptyStr, ...] = ()
    clock_skew_seconds: Annotated[Int, Field(ge=0, le=300)] = 30
    iap_keys_url: HttpUrl = "https://www.gstatic.com/iap/verify/public_key-jwk"


class LimitsConfig(_Model):
    bookings_per_client_per_minute: Annotated[Int, Field(ge=1, le=10_000)] = 10
    live_slots_per_client_per_minute: Annotated[Int, Field(ge=1, le=10_000)] = 10
    # Per-visitor limits cost one more Google call per booking (an events.list): off unless set.
    future_bookings_per_visitor: Annotated[Int, Field(ge=1)] | None = None
    bookings_per_visitor_per_day: Annotated[Int, Field(ge=1)] | None = None


class BotCheckConfig(_Model):
    provider: Literal["turnstile"] = "turnstile"
    # The widget's site key: public (it is in every page that shows the widget); GET /calendars hands it out.
    site_key: NonEmptyStr
    secret: SecretVersion
    verify_url: HttpUrl = "https://challenges.cloudflare.com/turnstile/v0/siteverify"


class Config(_Model):
    google: GoogleConfig | None = None
    credentials: CredentialsConfig = Field(default_factory=CredentialsConfig)
    booking: BookingConfig = Field(default_factory=BookingConfig)
    calendars: tuple[CalendarConfig, ...] = ()
    teams: tuple[TeamConfig, ...] = ()
    sharing: SharingConfig = Field(default_factory=SharingConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    snapshot: SnapshotConfig | None = None
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    bot_check: BotCheckConfig | None = None

    _by_slug: dict[str, CalendarConfig] = PrivateAttr(default_factory=dict)
    _rules: dict[str, SlotRules] = PrivateAttr(default_factory=dict)
    _teams: dict[str, TeamConfig] = PrivateAttr(default_factory=dict)

    @field_validator("teams")
    @classmethod
    def _team_defaults(cls, teams: tuple[TeamConfig, ...], info: ValidationInfo) -> tuple[TeamConfig, ...]:
        """Each team with the defaults its member calendars decide (when those validated; else the config is
        refused anyway)."""
        calendars, booking = info.data.get("calendars"), info.data.get("booking")
        if calendars is None or booking is None:
            return teams
        offered = {calendar.slug: calendar.durations or booking.durations for calendar in calendars}
        return tuple(
            replace(
                team,
                durations=team.durations or shared_durations(team.members, offered),
                organizer=(team.organizer or team.members[0]) if team.mode == "collective" else None,
            )
            for team in teams
        )

    def model_post_init(self, context: Any, /) -> None:
        # Built once here rather than on first use: nothing changes after validation, and no lock is needed.
        self._by_slug = {calendar.slug: calendar for calendar in self.calendars}
        self._rules = {calendar.slug: calendar.slot_rules(self.booking) for calendar in self.calendars}
        self._teams = {team.slug: team for team in self.teams}

    def calendar_by_slug(self, slug: str) -> CalendarConfig | None:
        return self._by_slug.get(slug)

    def team_by_slug(self, slug: str) -> TeamConfig | None:
        return self._teams.get(slug)

    def teams_of(self, calendar_slug: str) -> list[TeamConfig]:
        """The teams the calendar is a member of, in file order."""
        return [team for team in self.teams if calendar_slug in team.members]

    def durations_for(self, calendar: CalendarConfig) -> tuple[int, ...]:
        """The durations (minutes) a calendar offers: its own list, else ``booking.durations``."""
        return calendar.durations or self.booking.durations

    def audiences_for(self, function: Literal["sharing", "sync"]) -> tuple[str, ...]:
        """The ID-token audiences a function accepts: its own list, else ``identity.audiences``."""
        own = self.sharing.audiences if function == "sharing" else self.sync.audiences
        return own or self.identity.audiences

    @property
    def sharing_domains(self) -> tuple[str, ...]:
        """The domains sharing counts as the company's: ``sharing.company_domains``, else the booking's."""
        return self.sharing.company_domains or self.booking.company_domains

    def meeting_type(self, calendar: CalendarConfig, slug: str | None) -> MeetingType | None:
        """The calendar's meeting type `slug`; its first one when `slug` is None; None when it has none (or no
        such type: the caller refuses that)."""
        if slug is None:
            return calendar.meeting_types[0] if calendar.meeting_types else None
        return next((kind for kind in calendar.meeting_types if kind.slug == slug), None)

    def durations_of(self, calendar: CalendarConfig, kind: MeetingType | None) -> tuple[int, ...]:
        """The durations a meeting type offers: its own, else the calendar's."""
        return (kind.durations if kind and kind.durations else None) or self.durations_for(calendar)

    def slot_rules(self, slug: str) -> SlotRules:
        """The :class:`~shared.slots.SlotRules` of a configured calendar. ``KeyError`` if unknown."""
        return self._rules[slug]

    @property
    def sync_horizon_days(self) -> int:
        """``sync.horizon_days``, else ``booking.horizon_days`` capped at what freeBusy answers."""
        return self.sync.horizon_days or min(self.booking.horizon_days, FREEBUSY_MAX_DAYS)


# --- loading ----------------------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file. Raises :class:`ConfigError` (also for unreadable files)."""
    source = os.fspath(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(source, [ConfigProblem("", f"cannot read the file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigProblem("", "expected UTF-8 text (TOML files are UTF-8)")]) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate TOML text; ``source`` names it in the error message."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("", f"not valid TOML: {exc}")]) from None
    relation_problems = list(_relation_problems(data))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        value_problems = [_problem_from_error(error) for error in exc.errors(include_url=False)]
        raise ConfigError(source, sorted([*value_problems, *relation_problems], key=_file_order)) from None
    if relation_problems:
        raise ConfigError(source, sorted(relation_problems, key=_file_order))
    return config


# --- rules that relate several keys (checked on the raw data so they show up with every other problem) ----


def _relation_problems(data: Mapping[str, Any]) -> Iterable[ConfigProblem]:
    yield from _calendar_problems(data.get("calendars"))
    yield from _meeting_type_problems(data.get("calendars"), data.get("booking", {}))
    yield from _role_problems(data.get("sharing"), data.get("booking"))
    yield from _notice_problems(data.get("booking", {}))
    yield from _confirm_problems(data.get("booking", {}))
    yield from _audience_problems(data)
    booking = data.get("booking")
    durations = (booking if isinstance(booking, dict) else {}).get("durations", BookingConfig().durations)
    for path, message in team_problems(data.get("teams"), data.get("calendars"), durations):
        yield ConfigProblem(path, message)


def _calendar_problems(calendars: object) -> Iterable[ConfigProblem]:
    if not isinstance(calendars, list):
        return
    first_use: dict[str, int] = {}
    for index, calendar in enumerate(calendars):
        if not isinstance(calendar, dict):
            continue
        slug = calendar.get("slug")
        if isinstance(slug, str):
            if slug in first_use:
                yield ConfigProblem(
                    f"calendars[{index}].slug",
                    f'"{slug}" is already the slug of calendars[{first_use[slug]}]; expected unique slugs',
                )
            first_use.setdefault(slug, index)
        mode = calendar.get("mode", "delegated")
        if mode == "delegated" and "act_as" not in calendar:
            yield ConfigProblem(
                f"calendars[{index}].act_as",
                'missing; required when mode = "delegated": the email of the user to act as',
            )
        elif mode in ("direct", "authorized_user") and "act_as" in calendar:
            yield ConfigProblem(
                f"calendars[{index}].act_as", f'only allowed when mode = "delegated" (mode is "{mode}"); remove it'
            )


def _meeting_type_problems(calendars: object, booking: object) -> Iterable[ConfigProblem]:
    """Meeting type slugs are unique within their calendar; a type's durations are among the calendar's."""
    if not isinstance(calendars, list):
        return
    defaults = booking.get("durations", list(BookingConfig().durations)) if isinstance(booking, dict) else []
    for index, calendar in enumerate(calendars):
        if not isinstance(calendar, dict) or not isinstance(calendar.get("meeting_types"), list):
            continue
        offered = calendar.get("durations", defaults)
        seen: dict[str, int] = {}
        for n, kind in enumerate(calendar["meeting_types"]):
            if not isinstance(kind, dict):
                continue
            where = f"calendars[{index}].meeting_types[{n}]"
            slug = kind.get("slug")
            if isinstance(slug, str):
                if slug in seen:
                    yield ConfigProblem(
                        f"{where}.slug", f'"{slug}" is already meeting_types[{seen[slug]}]; expected unique slugs'
                    )
                seen.setdefault(slug, n)
            durations = kind.get("durations")
            if isinstance(durations, list) and isinstance(offered, list):
                extra = [d for d in durations if type(d) is int and d not in offered]
                if extra:
                    yield ConfigProblem(
                        f"{where}.durations",
                        f"{extra} not among the calendar's durations {offered}; expected a subset of them",
                    )


def _role_problems(sharing: object, booking: object) -> Iterable[ConfigProblem]:
    if not isinstance(sharing, dict):
        return
    roles = sharing.get("allowed_roles")
    owner_scopes = sharing.get("owner_scopes")
    owner_listed = isinstance(owner_scopes, list) and bool(owner_scopes)
    if isinstance(roles, list) and sharing.get("allow_owner") is not True and not owner_listed:
        for index, role in enumerate(roles):
            if role == "owner":
                yield ConfigProblem(
                    f"sharing.allowed_roles[{index}]",
                    '"owner" is allowed only with sharing.allow_owner = true or sharing.owner_scopes (owners can '
                    "delete the calendar and share it further)",
                )
    if owner_listed and isinstance(roles, list) and "owner" not in roles:
        yield ConfigProblem("sharing.owner_scopes", 'has no effect unless "owner" is in sharing.allowed_roles')
    if sharing.get("allow_outside_domain") is True:
        return
    if sharing.get("allow_public") is True:
        yield ConfigProblem(
            "sharing.allow_public",
            "the public is outside the company's domains: set sharing.allow_outside_domain = true as well",
        )
    domains = sharing.get("company_domains") or (booking.get("company_domains") if isinstance(booking, dict) else None)
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        domains = []
    if domains and owner_listed and isinstance(owner_scopes, list):
        wanted = tuple(d.lower() for d in domains)
        for index, scope in enumerate(owner_scopes):
            email = scope.partition(":")[2] if isinstance(scope, str) else ""
            if "@" in email and not in_domains(email, wanted):
                yield ConfigProblem(
                    f"sharing.owner_scopes[{index}]",
                    f"{email} is outside the company's domains ({', '.join(wanted)}) and "
                    "sharing.allow_outside_domain is false",
                )


def _notice_problems(booking: object) -> Iterable[ConfigProblem]:
    if not isinstance(booking, dict):
        return
    defaults = BookingConfig()
    notice = booking.get("minimum_notice_minutes", defaults.minimum_notice_minutes)
    horizon = booking.get("horizon_days", defaults.horizon_days)
    if type(notice) is int and type(horizon) is int and horizon > 0 and notice >= horizon * 1440:
        yield ConfigProblem(
            "booking.minimum_notice_minutes",
            f"expected less than the horizon ({horizon} days = {horizon * 1440} minutes), "
            "or no slot can ever be booked",
        )


def _confirm_problems(booking: object) -> Iterable[ConfigProblem]:
    """Email confirmation travels in Google's invitation, as a link to the booking page: it needs both."""
    if not isinstance(booking, dict) or booking.get("confirm_email") is not True:
        return
    if booking.get("invite_visitor", BookingConfig().invite_visitor) is False:
        yield ConfigProblem("booking.confirm_email", "needs booking.invite_visitor = true: the confirm link "
                            "reaches the visitor in Google's invitation")
    if not booking.get("manage_url"):
        yield ConfigProblem("booking.confirm_email", "needs booking.manage_url: the confirm link opens the "
                            "booking page")


def _audience_problems(data: Mapping[str, Any]) -> Iterable[ConfigProblem]:
    """An IAM-protected function must know its own audience: it is never derived from request headers."""
    identity = data.get("identity")
    shared = identity.get("audiences") if isinstance(identity, dict) else None
    for function in ("sharing", "sync"):
        table = data.get(function)
        if not isinstance(table, dict) or table.get("iam_protected") is not True:
            continue
        if not table.get("audiences") and not shared and not (function == "sharing" and table.get("iap_audience")):
            yield ConfigProblem(
                f"{function}.audiences",
                f"missing; required when {function}.iam_protected = true: the function's URL as its callers "
                "mint ID tokens for (or set identity.audiences)",
            )


# --- turning pydantic errors into problems -----------------------------------------------------------------

_EXPECTED_BY_TYPE: Final = {
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected an array",
    "list_type": "expected an array",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dataclass_type": "expected a table",
    "dict_type": "expected a table",
    "mapping_type": "expected a table",
    "missing": "missing; this key is required",
}


def _problem_from_error(error: ErrorDetails) -> ConfigProblem:
    loc = list(error["loc"])
    if loc and loc[-1] == "[key]":  # a bad key of a table, e.g. an override date
        loc.pop()
    path = _format_path(loc)
    kind = error["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # the latter: a key a dataclass lacks
        return ConfigProblem(path, _unknown_key_message(loc))
    message = _EXPECTED_BY_TYPE.get(kind) or _constraint_message(error)
    if kind != "missing" and not isinstance(error["input"], dict):
        message += f", got {_toml_repr(error['input'])}"
    return ConfigProblem(path, message)


def _constraint_message(error: ErrorDetails) -> str:
    ctx = error.get("ctx", {})
    kind = error["type"]
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"expected a number {bounds[kind]} {limit}"
    if kind == "literal_error":
        return "expected one of " + str(ctx["expected"]).replace("'", '"')
    if kind in ("too_short", "string_too_short"):
        unit = "item" if kind == "too_short" else "character"
        return f"expected at least {ctx['min_length']} {unit}{'s' if ctx['min_length'] != 1 else ''}"
    if kind in ("too_long", "string_too_long"):
        unit = "items" if kind == "too_long" else "characters"
        return f"expected at most {ctx['max_length']} {unit}"
    message = error["msg"].removeprefix("Value error, ")
    return message.replace("Input should be", "expected", 1)


def _unknown_key_message(loc: Sequence[int | str]) -> str:
    key = str(loc[-1])
    allowed = _allowed_keys(loc[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f"unknown key; {hint}expected one of: {', '.join(allowed)}"


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """The keys the table at ``loc`` accepts, found by following the model annotations."""
    annotation: object = Config
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (tuple, Mapping) and typing.get_args(annotation):
            annotation = typing.get_args(annotation)[-1 if isinstance(part, str) else 0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    if isinstance(annotation, type) and is_dataclass(annotation):
        return [item.name for item in fields(annotation)]
    return []


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (types.UnionType, typing.Union):
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        else:
            return annotation


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _format_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            path += f".{key}" if path else key
    return path


def _toml_repr(value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


_SECTIONS: Final = list(Config.model_fields)


def _file_order(problem: ConfigProblem) -> tuple[int, int]:
    """Sort by section as the README lists them, then by calendar (or team) index; stable otherwise."""
    section = re.match(r"[A-Za-z0-9_-]*", problem.path)
    index = re.match(r"(?:calendars|teams)\[(\d+)\]", problem.path)
    name = section.group(0) if section else ""
    position = _SECTIONS.index(name) if name in _SECTIONS else -1
    return (position, int(index.group(1)) if index else -1)
