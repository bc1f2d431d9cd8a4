"""What every check uses: the constants, the state the checks build up, the report helpers and the fixes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..calendar_client import CalendarClient, Identity, RetryPolicy
from ..config import CalendarConfig, Config
from ..credentials import (
    ADMIN_CONSOLE_DWD,
    ALL_SCOPES,
    AUTH,
    BOOKING_SCOPES,
    CLOUD_PLATFORM,
    SHARING_SCOPES,
    SYNC_SCOPES,
    CredentialProvider,
)
from ..endpoints import Endpoints
from ..errors import AppError, DelegationError, SecretError, UpstreamUnavailable
from ..secrets import (
    Accessor,
    CredentialsMaterial,
)
from .report import Check, Report

FUNCTIONS = ("booking", "sharing", "sync")
DOCTOR_PROPERTY = "wcbDoctor"  # private extended property on the dry-run event (never a booking marker)
DOCTOR_SUMMARY = "Calendar booking: delegation check (safe to delete)"
_DRY_RUN_AHEAD = timedelta(days=730)
_DRY_RUN_LENGTH = timedelta(minutes=15)
_FREEBUSY_WINDOW = timedelta(days=7)
_PROPAGATION = "Changes usually apply within minutes, but can take up to 24 hours."
_DOCTOR_RETRY = RetryPolicy(deadline=15.0, attempts=4)
_VERSION_HINT = "terraform output -raw credentials_secret, then /versions/ and the pinned credentials_secret_version"
_ACCESS_REASONS = ("requiredAccessLevel", "forbidden", "insufficientPermissions")  # the caller may not write


def _short(scopes: Iterable[str]) -> str:
    return ", ".join(scope.removeprefix(AUTH) for scope in scopes)


def _ordered(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = set(scopes)
    return tuple(scope for scope in ALL_SCOPES if scope in wanted) + tuple(sorted(wanted - set(ALL_SCOPES)))



class DoctorBase:
    """The doctor's state (config, secret, key, clients as the checks find them) and the helpers they share."""

    def __init__(
        self,
        config_path: Path,
        *,
        secret: str | None,
        functions: tuple[str, ...],
        accessor: Accessor | None,
        now: Callable[[], datetime],
        retry: RetryPolicy,
    ) -> None:
        self.config_path = config_path
        self.secret_arg = secret
        self.functions = functions
        self.accessor = accessor
        self.now = now
        self.retry = retry
        self.report = Report()
        self.config: Config | None = None
        self.endpoints = Endpoints()
        self.secret_name = ""
        self.material: CredentialsMaterial | None = None
        self.credentials: CredentialProvider | None = None
        self.calendar: CalendarClient | None = None
        self._fetched: tuple[str, bytes, int | None] = ("", b"", None)
        self._last_missing: list[str] | None = None

    # --- helpers --------------------------------------------------------------------------------------------
    def passed(self, check_id: str, label: str, summary: str, **details: Any) -> Check:
        return self.report.add(Check(check_id, label, "PASS", summary, details=details))

    def failed(self, check_id: str, label: str, summary: str, fix: str, **details: Any) -> Check:
        return self.report.add(Check(check_id, label, "FAIL", summary, fix, details=details))

    def skipped(self, check_id: str, label: str, why: str) -> Check:
        return self.report.add(Check(check_id, label, "SKIP", why))

    @property
    def client_id(self) -> str | None:
        if self.material is None or not self.material.info.get("client_id"):
            return None
        return str(self.material.info["client_id"])

    @property
    def client_email(self) -> str:
        if self.material is None:
            return "the service account"
        return str(self.material.info.get("client_email") or "the service account")

    @property
    def needed_scopes(self) -> tuple[str, ...]:
        """What a delegated calendar's user must grant: the union of the deployed functions' least scopes."""
        config = self.config
        scopes: list[str] = []
        if "booking" in self.functions:
            scopes += BOOKING_SCOPES
        if "sync" in self.functions:
            scopes += SYNC_SCOPES
        delegated_sharing = config is None or config.sharing.mode == "delegated"
        # With its own delegation client, sharing's scopes belong to that client (check_sharing_client).
        if "sharing" in self.functions and delegated_sharing and not self.sharing_secret_name:
            scopes += SHARING_SCOPES
        return _ordered(scopes)

    @property
    def sharing_secret_name(self) -> str | None:
        """Sharing's own delegation client, when the config gives it one distinct from the checked secret."""
        name = self.config.credentials.sharing_secret if self.config is not None else None
        return name if name and name != self.secret_name else None

    def dwd_fix(self) -> str:
        client = self.client_id or "<the service account's client ID: terraform output -raw dwd_client_id>"
        return (
            f"In the Admin console, {ADMIN_CONSOLE_DWD} (Security > Access and data control > API controls "
            f"> Domain-wide delegation), add client ID {client} (or edit it: the list you save replaces the old one) "
            "with exactly these OAuth scopes:\n"
            f"{','.join(self.needed_scopes)}\n"
            f"{_PROPAGATION}"
        )

    def add_version_command(self) -> str:
        parts = self.secret_name.split("/")
        if len(parts) < 4:
            return "gcloud secrets versions add SECRET --project=PROJECT --data-file=key.json"
        return f"gcloud secrets versions add {parts[3]} --project={parts[1]} --data-file=key.json"

    def dwd_details(self, **extra: Any) -> dict[str, Any]:
        return {
            "adminConsole": ADMIN_CONSOLE_DWD,
            "clientId": self.client_id,
            "scopes": list(self.needed_scopes),
            **extra,
        }

    def runtime_identity(self) -> Any:
        """Who signs keyless: the metadata server's identity against the emulator (as a function would), else
        Application Default Credentials, which `gcloud auth application-default login
        --impersonate-service-account=<runtime service account>` makes the function's own identity."""
        if self.endpoints.emulated:
            return None
        import google.auth

        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
        return credentials

    def skip_google_checks(self, why: str) -> None:
        config = self.config
        if config is None:
            return
        for check_id, label in (
            ("secret.checksum", "secret checksum"),
            ("key.valid", "key"),
            ("key.accepted", "key accepted"),
        ):
            if self.report.get(check_id) is None:
                self.skipped(check_id, label, why)
        per_calendar = [("access", "access")]
        if "booking" in self.functions:
            per_calendar += [("freebusy", "free/busy"), ("insert", "insert")]
        if "booking" in self.functions or "sharing" in self.functions:
            for calendar in config.calendars:
                for suffix, label in per_calendar:
                    self.skipped(f"calendar.{calendar.slug}.{suffix}", f"{calendar.slug}: {label}", why)
        if "sync" in self.functions and config.sync.act_as:
            self.skipped("sync.access", "sync: access", why)
            self.skipped("sync.freebusy", "sync: free/busy", why)

    def identity(self, calendar: CalendarConfig) -> Identity:
        subject = calendar.act_as if calendar.mode == "delegated" else None
        return Identity(calendar.mode, subject, BOOKING_SCOPES)

    def principal(self, mode: str, subject: str | None) -> str:
        if mode == "delegated":
            return subject or "?"
        if mode == "direct":
            return self.client_email
        return "the authorized user"

    def _index(self, calendar: CalendarConfig | None) -> int:
        assert self.config is not None
        return next((i for i, c in enumerate(self.config.calendars) if c is calendar), 0)

    # --- fixes for errors that can come from anywhere ---------------------------------------------------------
    def _generic_fix(self, error: AppError) -> str:
        reason = error.details.get("reason")
        if isinstance(error, DelegationError):
            return self.dwd_fix()
        if isinstance(error, SecretError):
            if reason in ("invalid_grant", "invalid_client"):
                return (
                    "The key or grant was revoked or rotated: add valid credentials as a new secret version and pin "
                    "credentials_secret_version to it."
                )
            if reason == "invalid_scope":
                return f"Make the authorized_user grant again with the scopes {','.join(self.needed_scopes)}."
            return "Fix the credentials secret (see the key checks above)."
        if isinstance(error, UpstreamUnavailable):
            return "Google is unavailable or rate limiting; run the doctor again in a minute."
        if reason in ("insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
            return self.dwd_fix()
        if reason == "accessNotConfigured":
            return "Enable the Google Calendar API: gcloud services enable calendar-json.googleapis.com --project=P"
        return "See the message; run the doctor again after fixing it."

