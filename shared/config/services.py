"""The tables of the other functions and services: Google, credentials, sharing, sync, the snapshot, identity,
limits and the bot check."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..calendar_client import FREEBUSY_MAX_DAYS
from .fields import (
    BaseUrl,
    Bool,
    Domain,
    Email,
    HttpUrl,
    Int,
    Mode,
    Model,
    NonEmptyStr,
    OwnerScope,
    Role,
    SecretVersion,
    SnapshotLocation,
)


class GoogleConfig(Model):
    emulator_url: BaseUrl


class CredentialsConfig(Model):
    # The delegation client of booking and sync (calendar.events + calendar.freebusy). CREDENTIALS_SECRET overrides.
    secret: SecretVersion | None = None
    # The delegation client of sharing (calendar.acls + calendar.calendarlist.readonly); unset: `secret`.
    # SHARING_CREDENTIALS_SECRET overrides.
    sharing_secret: SecretVersion | None = None
    # The booking-token key (random bytes), read by booking only; unset: derived from the key in `secret` (not
    # possible with a keyless_dwd descriptor, which holds nothing secret). TOKEN_KEY_SECRET overrides.
    token_key_secret: SecretVersion | None = None


class SharingConfig(Model):
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


class SyncConfig(Model):
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


class SnapshotConfig(Model):
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


class IdentityConfig(Model):
    issuer: HttpUrl = "https://accounts.google.com"
    certs_url: HttpUrl = "https://www.googleapis.com/oauth2/v1/certs"
    audiences: tuple[NonEmptyStr, ...] = ()
    clock_skew_seconds: Annotated[Int, Field(ge=0, le=300)] = 30
    iap_keys_url: HttpUrl = "https://www.gstatic.com/iap/verify/public_key-jwk"


class LimitsConfig(Model):
    bookings_per_client_per_minute: Annotated[Int, Field(ge=1, le=10_000)] = 10
    live_slots_per_client_per_minute: Annotated[Int, Field(ge=1, le=10_000)] = 10
    # Per-visitor limits cost one more Google call per booking (an events.list): off unless set.
    future_bookings_per_visitor: Annotated[Int, Field(ge=1)] | None = None
    bookings_per_visitor_per_day: Annotated[Int, Field(ge=1)] | None = None


class BotCheckConfig(Model):
    provider: Literal["turnstile"] = "turnstile"
    # The widget's site key: public (it is in every page that shows the widget); GET /calendars hands it out.
    site_key: NonEmptyStr
    secret: SecretVersion
    verify_url: HttpUrl = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
