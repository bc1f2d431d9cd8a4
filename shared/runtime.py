"""The per-instance object graph, built once on first use and reused by every request of a warm instance.

Only this module reads the environment: `BOOKING_CONFIG` (path of the TOML config); the Secret Manager
versions each function may read, overriding the config's `[credentials]`: `CREDENTIALS_SECRET` (the delegation
client of booking and sync), `SHARING_CREDENTIALS_SECRET` (sharing's) and `TOKEN_KEY_SECRET` (booking tokens),
each function deployed with, and allowed to read, only its own (least privilege); and `BOOKING_CLOCK`, for tests
and demos only: an RFC 3339 instant the instance's clock starts at instead of the
machine's time (`shared.clock.PinnedClock`), so a functions-framework process can agree with a pinned emulator.
Entry points call `get_runtime()` and use its `.booking`, `.sharing` and `.sync`;
tests build one with `build_runtime(...)` and install it with `set_runtime`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from .abuse import BookingGuard
from .availability import Availability, SnapshotReader
from .booking import BookingService
from .calendar_client import CalendarClient, RetryPolicy
from .clock import SYSTEM_CLOCK, Clock, parse_pin
from .config import Config, load_config
from .credentials import CredentialProvider
from .endpoints import Endpoints
from .errors import AppError, NotConfigured, SecretError
from .identity import IapVerifier, IdentityVerifier
from .jwt_keys import KeySet
from .once import locked_cached_property
from .secrets import Accessor, RawSecret, SecretSource, secret_manager_accessor
from .sharing import SharingService
from .slot_cache import SlotAnswers
from .store import SnapshotStore, open_store
from .sync import AvailabilitySync
from .tokens import BookingTokens, derive_signing_key, key_from_secret


@dataclass
class Runtime:
    config: Config
    secret_name: str
    endpoints: Endpoints
    secrets: SecretSource
    credentials: CredentialProvider
    calendar: CalendarClient
    store: SnapshotStore | None
    clock: Clock = SYSTEM_CLOCK
    # Sharing's own delegation client (calendar.acls + calendar.calendarlist.readonly); None: the one above.
    sharing_secrets: SecretSource | None = None
    sharing_credentials: CredentialProvider | None = None
    sharing_calendar: CalendarClient | None = None
    token_key: RawSecret | None = None
    _tokens: tuple[str, BookingTokens] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> datetime:
        return self.clock.now()

    @locked_cached_property
    def snapshots(self) -> SnapshotReader | None:
        return SnapshotReader(self.store, self.clock.monotonic) if self.store is not None else None

    @locked_cached_property
    def availability(self) -> Availability:
        return Availability(self.config, self.calendar, self.snapshots, self.now)

    @locked_cached_property
    def slot_answers(self) -> SlotAnswers:
        return SlotAnswers(self.availability, self.clock)

    @locked_cached_property
    def booking(self) -> BookingService:
        return BookingService(self.config, self.calendar, self.availability, self.tokens, self.now)

    @locked_cached_property
    def sharing(self) -> SharingService:
        """The sharing use cases, acting through sharing's own client and checking its callers' ID tokens."""
        return SharingService(
            self.config.sharing,
            self.sharing_client,
            self.sharing_identity,
            service_account_email=self._sharing_account_email,
            domains=self.config.sharing_domains,
        )

    @locked_cached_property
    def sync(self) -> AvailabilitySync:
        """The availability sync, writing this instance's snapshot store."""
        return AvailabilitySync(self.config, self.calendar, self.store, self.clock, reader=self.snapshots)

    def _sharing_account_email(self) -> str | None:
        """The service account sharing acts as; only names the acting identity in messages and logs."""
        try:
            email = self.sharing_source.get().info.get("client_email")
        except AppError:
            return None  # the Google call that follows reports the secret's problem
        return str(email) if email else None

    def tokens(self) -> BookingTokens:
        """Booking-token signer, keyed from the token key secret, else derived from the credentials key."""
        if self.token_key is not None:
            version, payload = self.token_key.get()
            make_key: Callable[[], bytes] = lambda: key_from_secret(payload)  # noqa: E731
        else:
            material = self.secrets.get()
            version = material.version
            if material.kind == "keyless_dwd":
                raise SecretError(
                    "Booking tokens need their own key with a keyless_dwd descriptor (it holds nothing secret): "
                    "set TOKEN_KEY_SECRET or credentials.token_key_secret to a secret of 32+ random bytes."
                )
            make_key = lambda: derive_signing_key(material.info)  # noqa: E731
        with self._lock:
            if self._tokens is None or self._tokens[0] != version:
                ttl = self.config.booking.token_ttl_days * 86400
                self._tokens = (version, BookingTokens(make_key(), max_age_seconds=ttl, now=self.clock.now))
            return self._tokens[1]

    @property
    def sharing_client(self) -> CalendarClient:
        """The Calendar client sharing acts through: its own delegation client when configured."""
        return self.sharing_calendar or self.calendar

    @property
    def sharing_source(self) -> SecretSource:
        return self.sharing_secrets or self.secrets

    @locked_cached_property
    def guard(self) -> BookingGuard:
        endpoints = self.endpoints
        return BookingGuard(self.config, self.calendar, self.now,
                            secret_accessor=lambda: secret_manager_accessor(endpoints))

    @locked_cached_property
    def sharing_identity(self) -> IdentityVerifier:
        return self._identity_verifier("sharing", iam_protected=self.config.sharing.iam_protected)

    @locked_cached_property
    def sync_identity(self) -> IdentityVerifier:
        return self._identity_verifier("sync", iam_protected=self.config.sync.iam_protected)

    @locked_cached_property
    def _id_token_keys(self) -> KeySet:
        return KeySet(self.config.identity.certs_url, algorithms=("RS256",), clock=self.clock)

    def _identity_verifier(self, function: Literal["sharing", "sync"], *, iam_protected: bool) -> IdentityVerifier:
        identity = self.config.identity
        iap = None
        if function == "sharing" and self.config.sharing.iap_audience:
            keys = KeySet(identity.iap_keys_url, algorithms=("ES256",), clock=self.clock)
            iap = IapVerifier(keys=keys, audience=self.config.sharing.iap_audience, clock=self.clock,
                              skew_seconds=identity.clock_skew_seconds)
        return IdentityVerifier(
            issuer=identity.issuer,
            keys=self._id_token_keys,
            audiences=self.config.audiences_for(function),
            iam_protected=iam_protected,
            clock=self.clock,
            skew_seconds=identity.clock_skew_seconds,
            iap=iap,
        )


def build_runtime(
    config: Config,
    *,
    credentials_secret: str | None = None,
    sharing_secret: str | None = None,
    token_key_secret: str | None = None,
    accessor: Accessor | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock = SYSTEM_CLOCK,
    base_dir: Path | None = None,
) -> Runtime:
    """Wire one instance's objects. Nothing here talks to Google: clients are built on first use."""
    secret_name = credentials_secret or config.credentials.secret
    sharing_name = sharing_secret or config.credentials.sharing_secret
    token_key_name = token_key_secret or config.credentials.token_key_secret
    if not secret_name and not sharing_name:
        raise NotConfigured("No credentials secret configured: set CREDENTIALS_SECRET or credentials.secret.")
    endpoints = Endpoints.from_emulator_url(config.google.emulator_url if config.google else None)
    access = accessor or secret_manager_accessor(endpoints)
    secrets = SecretSource(secret_name or "", access if secret_name else _unconfigured, clock=clock)
    credentials = CredentialProvider(secrets, endpoints)
    calendar = CalendarClient(credentials, endpoints, retry=retry)
    store = open_store(config.snapshot.location, endpoints, base=base_dir) if config.snapshot else None
    runtime = Runtime(config, secret_name or "", endpoints, secrets, credentials, calendar, store, clock)
    if sharing_name and sharing_name != secret_name:
        runtime.sharing_secrets = SecretSource(sharing_name, access, clock=clock)
        runtime.sharing_credentials = CredentialProvider(runtime.sharing_secrets, endpoints)
        runtime.sharing_calendar = CalendarClient(runtime.sharing_credentials, endpoints, retry=retry)
    if token_key_name:
        runtime.token_key = RawSecret(token_key_name, access, clock=clock)
    return runtime


def _unconfigured(name: str) -> tuple[str, bytes, int | None]:
    raise NotConfigured(
        "No credentials secret configured for this function: set CREDENTIALS_SECRET or credentials.secret."
    )


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                config_path = os.environ.get("BOOKING_CONFIG")
                if not config_path:
                    raise NotConfigured("BOOKING_CONFIG is not set: point it at the booking config TOML file.")
                pin = os.environ.get("BOOKING_CLOCK")
                _runtime = build_runtime(
                    load_config(config_path),
                    credentials_secret=os.environ.get("CREDENTIALS_SECRET") or None,
                    sharing_secret=os.environ.get("SHARING_CREDENTIALS_SECRET") or None,
                    token_key_secret=os.environ.get("TOKEN_KEY_SECRET") or None,
                    clock=parse_pin(pin) if pin else SYSTEM_CLOCK,
                )
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install (or with None, forget) the instance's runtime; for tests and the local stack."""
    global _runtime
    with _lock:
        _runtime = runtime
