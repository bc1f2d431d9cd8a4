"""The whole file: :class:`Config`, its sections, the defaults that depend on several of them, and the lookups."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator

from ..calendar_client import FREEBUSY_MAX_DAYS
from ..slots import SlotRules
from . import services
from .calendars import BookingConfig, CalendarConfig, MeetingType, TeamConfig
from .fields import Model
from .teams import shared_durations


class Config(Model):
    google: services.GoogleConfig | None = None
    credentials: services.CredentialsConfig = Field(default_factory=services.CredentialsConfig)
    booking: BookingConfig = Field(default_factory=BookingConfig)
    calendars: tuple[CalendarConfig, ...] = ()
    teams: tuple[TeamConfig, ...] = ()
    sharing: services.SharingConfig = Field(default_factory=services.SharingConfig)
    sync: services.SyncConfig = Field(default_factory=services.SyncConfig)
    snapshot: services.SnapshotConfig | None = None
    identity: services.IdentityConfig = Field(default_factory=services.IdentityConfig)
    limits: services.LimitsConfig = Field(default_factory=services.LimitsConfig)
    bot_check: services.BotCheckConfig | None = None

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
