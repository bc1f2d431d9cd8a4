"""The per-instance object graph, built once on first use and reused by every request of a warm instance.

Only this module reads the environment: `BOOKING_CONFIG` (path of the TOML config) and `CREDENTIALS_SECRET`
(the Secret Manager version of the credentials JSON, overriding `credentials.secret` in the config).
Entry points call `get_runtime()`; tests build one with `build_runtime(...)` and install it with `set_runtime`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from .abuse import BookingGuard
from .availability import Availability, SnapshotReader
from .booking import BookingService
from .calendar_client import CalendarClient, RetryPolicy
from .config import Config, load_config
from .credentials import CredentialProvider
from .endpoints import Endpoints
from .errors import SecretError
from .identity import IapVerifier, IdentityVerifier
from .jwt_keys import KeySet
from .secrets import Accessor, SecretSource, secret_manager_accessor
from .store import SnapshotStore, open_store
from .tokens import BookingTokens, derive_signing_key


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    config: Config
    secret_name: str
    endpoints: Endpoints
    secrets: SecretSource
    credentials: CredentialProvider
    calendar: CalendarClient
    store: SnapshotStore | None
    now: Callable[[], datetime] = utc_now
    _tokens: tuple[str, BookingTokens] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def snapshots(self) -> SnapshotReader | None:
        return SnapshotReader(self.store) if self.store is not None else None

    @cached_property
    def availability(self) -> Availability:
        return Availability(self.config, self.calendar, self.snapshots, self.now)

    @cached_property
    def booking(self) -> BookingService:
        return BookingService(self.config, self.calendar, self.availability, self.tokens, self.now)

    def tokens(self) -> BookingTokens:
        """Booking-token signer, keyed from the current credentials version (re-derived after a rotation)."""
        material = self.secrets.get()
        with self._lock:
            if self._tokens is None or self._tokens[0] != material.version:
                key = derive_signing_key(material.info)
                ttl = self.config.booking.token_ttl_days * 86400
                self._tokens = (material.version, BookingTokens(key, max_age_seconds=ttl, now=self.now))
            return self._tokens[1]

    @cached_property
    def guard(self) -> BookingGuard:
        endpoints = self.endpoints
        return BookingGuard(self.config, self.calendar, self.now,
                            secret_accessor=lambda: secret_manager_accessor(endpoints))

    @cached_property
    def sharing_identity(self) -> IdentityVerifier:
        return self._identity_verifier("sharing", iam_protected=self.config.sharing.iam_protected)

    @cached_property
    def sync_identity(self) -> IdentityVerifier:
        return self._identity_verifier("sync", iam_protected=self.config.sync.iam_protected)

    @cached_property
    def _id_token_keys(self) -> KeySet:
        return KeySet(self.config.identity.certs_url, algorithms=("RS256",), now=self.now)

    def _identity_verifier(self, function: Literal["sharing", "sync"], *, iam_protected: bool) -> IdentityVerifier:
        identity = self.config.identity
        iap = None
        if function == "sharing" and self.config.sharing.iap_audience:
            keys = KeySet(identity.iap_keys_url, algorithms=("ES256",), now=self.now)
            iap = IapVerifier(keys=keys, audience=self.config.sharing.iap_audience, now=self.now,
                              skew_seconds=identity.clock_skew_seconds)
        return IdentityVerifier(
            issuer=identity.issuer,
            keys=self._id_token_keys,
            audiences=self.config.audiences_for(function),
            iam_protected=iam_protected,
            now=self.now,
            skew_seconds=identity.clock_skew_seconds,
            iap=iap,
        )


def build_runtime(
    config: Config,
    *,
    credentials_secret: str | None = None,
    accessor: Accessor | None = None,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
    base_dir: Path | None = None,
) -> Runtime:
    """Wire one instance's objects. Nothing here talks to Google: clients are built on first use."""
    secret_name = credentials_secret or (config.credentials.secret if config.credentials else None)
    if not secret_name:
        raise SecretError("No credentials secret configured: set CREDENTIALS_SECRET or credentials.secret.")
    endpoints = Endpoints.from_emulator_url(config.google.emulator_url if config.google else None)
    secrets = SecretSource(secret_name, accessor or secret_manager_accessor(endpoints))
    credentials = CredentialProvider(secrets, endpoints)
    calendar = CalendarClient(credentials, endpoints, retry=retry)
    store = open_store(config.snapshot.location, endpoints, base=base_dir) if config.snapshot else None
    return Runtime(config, secret_name, endpoints, secrets, credentials, calendar, store, now)


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                config_path = os.environ.get("BOOKING_CONFIG")
                if not config_path:
                    raise SecretError("BOOKING_CONFIG is not set: point it at the booking config TOML file.")
                _runtime = build_runtime(
                    load_config(config_path), credentials_secret=os.environ.get("CREDENTIALS_SECRET") or None
                )
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install (or with None, forget) the instance's runtime; for tests and the local stack."""
    global _runtime
    with _lock:
        _runtime = runtime
