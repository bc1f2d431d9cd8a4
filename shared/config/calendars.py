"""The booking tables: ``[booking]``, ``[[calendars]]`` with their hours and meeting types, and ``[[teams]]``."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, ConfigDict, Field

from ..slots import SlotRules, TimeRange
from .fields import (
    Bool,
    CalendarId,
    DayHours,
    Domain,
    Durations,
    Email,
    Int,
    Minutes,
    Mode,
    Model,
    Origin,
    OverrideDate,
    PageUrl,
    Slug,
    Str,
    Template,
    TimeZoneName,
)
from .teams import TeamMode


class BookingConfig(Model):
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


class MeetingType(Model):
    """A kind of meeting a calendar offers (Calendly's event type): the visitor picks one in the page."""

    slug: Slug
    name: Annotated[Str, Field(min_length=1, max_length=100)]
    durations: Durations | None = None  # unset: the calendar's
    description: Annotated[Str, Field(max_length=1000)] = ""
    location: Annotated[Str, Field(max_length=500)] = ""
    meet: Bool | None = None  # unset: booking.add_meet_link


class WeeklyHours(Model):
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


class CalendarConfig(Model):
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
