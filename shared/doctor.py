"""`python -m shared.doctor`: check a deployment's delegation setup, the way `gam check serviceaccount` does.

    python -m shared.doctor --config booking.toml [--secret projects/P/secrets/S/versions/N]
                            [--functions booking,sharing,sync] [--json]

One line per check, PASS or FAIL (SKIP when an earlier failure makes a check meaningless), and under each FAIL
the fix: the Admin console page, the client id and the exact scopes to paste, the secret to add a version to,
the calendar to share. Exit code 0 when every check passed, 1 otherwise.

The checks, in order:

- ``config``: the config file loads (every problem listed at once).
- ``secret.readable``: the credentials secret version can be read (named, its content never shown).
- ``secret.checksum``: the payload's CRC32C matches what Secret Manager sent.
- ``key.valid``: the payload is a ``service_account`` key or ``authorized_user`` JSON with every field, its private
  key loads, and it suits the calendars' modes.
- ``key.accepted``: Google's token endpoint accepts it (not deleted, disabled or revoked).
- per bookable calendar ``<slug>``:
  ``calendar.<slug>.access`` acts as the calendar's user (domain-wide delegation) with exactly the scopes the
  deployed functions need, and names each missing scope;
  ``calendar.<slug>.freebusy`` free/busy answers for the calendar without a per-calendar error;
  ``calendar.<slug>.insert`` a dry run: a private, transparent, clearly labelled event two years ahead, inserted
  with ``sendUpdates=none``, deleted again and verified gone (deleted even when a later step fails).
- ``sync.access`` / ``sync.freebusy`` when the sync function asks free/busy as one user (``sync.act_as``).

Tokens, keys and the secret's content are never printed. Only this module's ``main`` reads the command line;
like every other module it reads no environment variable (pass ``--secret`` where the functions get
``CREDENTIALS_SECRET``).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from .calendar_client import CalendarClient, Identity, RetryPolicy
from .clock import SYSTEM_CLOCK
from .config import CalendarConfig, Config, ConfigError, load_config
from .credentials import (
    ADMIN_CONSOLE_DWD,
    ALL_SCOPES,
    AUTH,
    BOOKING_SCOPES,
    CLOUD_PLATFORM,
    KEYLESS,
    SHARING_SCOPES,
    SYNC_SCOPES,
    TOKEN_CREATOR,
    CredentialProvider,
)
from .endpoints import Endpoints
from .errors import AppError, DelegationError, Gone, NotFound, SecretError, UpstreamUnavailable
from .secrets import (
    Accessor,
    CredentialsMaterial,
    SecretManagerUnreachable,
    SecretSource,
    crc32c,
    secret_manager_accessor,
)

__all__ = ["FUNCTIONS", "Check", "Report", "main", "run_doctor"]

FUNCTIONS = ("booking", "sharing", "sync")
Status = Literal["PASS", "FAIL", "SKIP"]

DOCTOR_PROPERTY = "wcbDoctor"  # private extended property on the dry-run event (never a booking marker)
DOCTOR_SUMMARY = "Calendar booking: delegation check (safe to delete)"
_DRY_RUN_AHEAD = timedelta(days=730)
_DRY_RUN_LENGTH = timedelta(minutes=15)
_FREEBUSY_WINDOW = timedelta(days=7)
_PROPAGATION = "Changes usually apply within minutes, but can take up to 24 hours."
_DOCTOR_RETRY = RetryPolicy(deadline=15.0, attempts=4)
_VERSION_HINT = "terraform output -raw credentials_secret, then /versions/ and the pinned credentials_secret_version"
_ACCESS_REASONS = ("requiredAccessLevel", "forbidden", "insufficientPermissions")  # the caller may not write


@dataclass(frozen=True)
class Check:
    """One check's outcome: a stable id, a human label, what was found, and how to fix a failure."""

    id: str
    label: str
    status: Status
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "label": self.label, "status": self.status, "summary": self.summary}
        if self.fix:
            body["fix"] = self.fix
        if self.details:
            body["details"] = self.details
        return body


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.status == "PASS" for check in self.checks)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def get(self, check_id: str) -> Check | None:
        return next((check for check in self.checks if check.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        counted = {status: sum(1 for c in self.checks if c.status == status) for status in ("PASS", "FAIL", "SKIP")}
        return {"ok": self.ok, "counts": counted, "checks": [check.to_json() for check in self.checks]}

    def render(self) -> str:
        width = max((len(check.label) for check in self.checks), default=0) + 2
        lines: list[str] = []
        for check in self.checks:
            lines.append(f"{check.status}  {check.label.ljust(width)}{check.summary}")
            if check.fix:
                fix_lines = check.fix.splitlines()
                lines.append(f"      fix: {fix_lines[0]}")
                lines.extend(f"           {line}" for line in fix_lines[1:])
        passed = sum(1 for check in self.checks if check.status == "PASS")
        if self.ok:
            lines.append(f"doctor: all {passed} checks passed")
        else:
            failed = sum(1 for check in self.checks if check.status == "FAIL")
            skipped = len(self.checks) - passed - failed
            tail = f", {skipped} skipped" if skipped else ""
            total = len(self.checks)
            lines.append(f"doctor: {failed} of {total} checks failed{tail}; fix them in order, then run again")
        return "\n".join(lines) + "\n"


# --- entry points ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.doctor",
        description="Check a deployment's credentials secret, key and domain-wide delegation, one line per check.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the booking config TOML the functions use")
    parser.add_argument(
        "--secret",
        default=None,
        help="credentials secret version projects/P/secrets/S/versions/N, as the functions get it in "
        f"CREDENTIALS_SECRET ({_VERSION_HINT}); default: credentials.secret of the config",
    )
    parser.add_argument(
        "--functions",
        default=",".join(FUNCTIONS),
        help="comma-separated deployed functions whose scopes to check (default: booking,sharing,sync)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    args = parser.parse_args(argv)
    functions = tuple(name.strip() for name in args.functions.split(",") if name.strip())
    unknown = [name for name in functions if name not in FUNCTIONS]
    if unknown or not functions:
        parser.error(f"--functions takes names from {', '.join(FUNCTIONS)}; got {args.functions!r}")
    report = run_doctor(args.config, secret=args.secret, functions=functions)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.render())
    sys.stdout.flush()
    return 0 if report.ok else 1


def run_doctor(
    config_path: str | Path,
    *,
    secret: str | None = None,
    functions: Iterable[str] = FUNCTIONS,
    accessor: Accessor | None = None,
    now: Callable[[], datetime] | None = None,
    retry: RetryPolicy | None = None,
) -> Report:
    """Run every check and return the report (nothing printed). `accessor` replaces Secret Manager (tests)."""
    doctor = _Doctor(
        Path(config_path),
        secret=secret,
        functions=tuple(functions),
        accessor=accessor,
        now=now or SYSTEM_CLOCK.now,
        retry=retry or _DOCTOR_RETRY,
    )
    doctor.run()
    return doctor.report


# --- the checks -----------------------------------------------------------------------------------------------


def _short(scopes: Iterable[str]) -> str:
    return ", ".join(scope.removeprefix(AUTH) for scope in scopes)


def _ordered(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = set(scopes)
    return tuple(scope for scope in ALL_SCOPES if scope in wanted) + tuple(sorted(wanted - set(ALL_SCOPES)))


class _Doctor:
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

    # --- run --------------------------------------------------------------------------------------------------
    def run(self) -> None:
        if not self.check_config():
            return
        if not (self.check_secret() and self.check_key()):
            self.skip_google_checks("the credentials secret must be usable first")
            return
        if self.material is not None and self.material.kind == KEYLESS and not self.check_keyless_chain():
            self.skip_google_checks("the keyless signing chain must work first")
            return
        if not self.check_key_accepted():
            self.skip_google_checks("Google must accept the key first")
            return
        assert self.config is not None
        if "booking" in self.functions or "sharing" in self.functions:
            for calendar in self.config.calendars:
                self.check_calendar(calendar)
        if "sync" in self.functions:
            self.check_sync()
        if "sharing" in self.functions and self.sharing_secret_name and self.config.sharing.mode == "delegated":
            self.check_sharing_client()

    # --- keyless ------------------------------------------------------------------------------------------------
    def runtime_identity(self) -> Any:
        """Who signs keyless: the metadata server's identity against the emulator (as a function would), else
        Application Default Credentials, which `gcloud auth application-default login
        --impersonate-service-account=<runtime service account>` makes the function's own identity."""
        if self.endpoints.emulated:
            return None
        import google.auth

        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
        return credentials

    def check_keyless_chain(self) -> bool:
        """Runtime identity (a token for it), then Token Creator (one signBlob as the delegation account)."""
        assert self.credentials is not None
        delegate = self.client_email
        provider = self.credentials
        try:
            identity = provider.runtime_identity()
            identity.refresh(provider._request())
        except Exception as error:
            self.failed(
                "keyless.identity",
                "runtime identity",
                f"no runtime identity to sign with ({type(error).__name__}: {str(error)[:160]})",
                "On Cloud Run the metadata server provides it. From your machine, act as the function's runtime "
                "service account: gcloud auth application-default login --impersonate-service-account="
                "<terraform output -json runtime_service_accounts: booking's> (you need Token Creator on it).",
            )
            return False
        who = str(getattr(identity, "service_account_email", None) or getattr(identity, "signer_email", "?"))
        self.passed("keyless.identity", "runtime identity", f"signing as {who}", runtimeIdentity=who)
        from google.auth import iam

        try:
            iam.Signer(provider._request(), identity, delegate).sign(b"doctor")  # type: ignore[no-untyped-call]
        except Exception as error:
            text = str(error)
            if "403" in text or "PERMISSION_DENIED" in text:
                self.failed(
                    "keyless.token_creator",
                    "token creator",
                    f"{who} may not sign as {delegate}: it lacks {TOKEN_CREATOR} on that service account",
                    f"gcloud iam service-accounts add-iam-policy-binding {delegate} "
                    f"--member=serviceAccount:{who} --role={TOKEN_CREATOR} (Terraform grants it to each "
                    "function's runtime service account with keyless_dwd = true; then apply).",
                    missingRole=TOKEN_CREATOR,
                )
            else:
                self.failed(
                    "keyless.token_creator",
                    "token creator",
                    f"IAM Credentials signBlob failed: {text[:200]}",
                    "Enable iamcredentials.googleapis.com (Terraform does, infra/apis.tf) and run the doctor again.",
                )
            return False
        self.passed("keyless.token_creator", "token creator", f"{who} may sign as {delegate} (IAM Credentials)")
        return True

    def check_sharing_client(self) -> None:
        """Sharing's own delegation client: its secret, its grant (calendar.acls + calendarlist.readonly)."""
        assert self.config is not None
        name = self.sharing_secret_name
        assert name is not None
        label = "sharing: access"
        subject = next((c.act_as for c in self.config.calendars if c.act_as), None) or next(
            iter(self.config.sharing.admins), None
        )
        if subject is None:
            self.skipped("sharing.access", label, "no user to act as (no delegated calendar, no sharing admin)")
            return
        source = SecretSource(name, self.accessor or secret_manager_accessor(self.endpoints))
        provider = CredentialProvider(source, self.endpoints, runtime_identity=self.runtime_identity())
        try:
            provider.ready("delegated", subject, SHARING_SCOPES)
        except AppError as error:
            client = error.details.get("clientId") or "sharing's client ID (terraform output sharing_dwd_client_id)"
            self.failed(
                "sharing.access",
                label,
                f"sharing's delegation client ({name}) may not act as {subject}: {error.message}",
                f"In the Admin console ({ADMIN_CONSOLE_DWD}) add client ID {client} with exactly "
                f"{','.join(SHARING_SCOPES)}; or fix the secret {name} (the fix above applies to it).",
            )
            return
        self.passed("sharing.access", label, f"sharing's delegation client may act as {subject} with "
                    f"{_short(SHARING_SCOPES)}")

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

    # --- config -----------------------------------------------------------------------------------------------
    def check_config(self) -> bool:
        label = "config"
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            problems = "; ".join(str(problem) for problem in error.problems)
            self.failed(
                "config",
                label,
                f"{self.config_path} cannot be used: {problems}",
                f"Fix what is listed in {self.config_path} (config/README.md describes every key). A deployment's "
                "config is the latest version of its config secret: gcloud secrets versions access latest "
                "--secret=<prefix>-booking-config > booking.toml",
                problems=[str(problem) for problem in error.problems],
            )
            return False
        self.config = config
        self.endpoints = Endpoints.from_emulator_url(config.google.emulator_url if config.google else None)
        slugs = ", ".join(calendar.slug for calendar in config.calendars)
        if not config.calendars and "booking" in self.functions:
            self.failed(
                "config",
                label,
                f"{self.config_path} loads but has no bookable calendars",
                f"Add a [[calendars]] table per bookable calendar to {self.config_path} (see config/README.md).",
            )
            return False
        where = " (against the local emulator)" if self.endpoints.emulated else ""
        count = len(config.calendars)
        self.passed(
            "config",
            label,
            f"{self.config_path} loads{where}: {count} bookable calendar{'s' if count != 1 else ''} ({slugs})",
            calendars=[calendar.slug for calendar in config.calendars],
        )
        return True

    # --- secret and key ---------------------------------------------------------------------------------------
    def check_secret(self) -> bool:
        assert self.config is not None
        label = "secret"
        name = self.secret_arg or self.config.credentials.secret
        if not name:
            self.failed(
                "secret.readable",
                label,
                "no credentials secret given",
                f"Pass --secret projects/P/secrets/S/versions/N (the functions' CREDENTIALS_SECRET: {_VERSION_HINT}), "
                "or set credentials.secret in the config.",
            )
            return False
        parts = name.split("/")
        if len(parts) != 6 or parts[0] != "projects" or parts[2] != "secrets" or parts[4] != "versions":
            self.failed(
                "secret.readable",
                label,
                f"{name!r} is not a secret version name",
                f"Give the full version name, projects/PROJECT/secrets/SECRET/versions/N ({_VERSION_HINT}).",
            )
            return False
        self.secret_name = name
        secret = "/".join(parts[:4])
        add_version = self.add_version_command()
        access = self.accessor or secret_manager_accessor(self.endpoints)
        try:
            version, payload, server_crc = access(name)
        except SecretError as error:
            fix = self._secret_fix(error.message, parts, add_version)
            self.failed("secret.readable", label, error.message, fix)
            return False
        except UpstreamUnavailable as error:
            if not (isinstance(error, SecretManagerUnreachable) and self.endpoints.emulated):
                self.failed("secret.readable", label, error.message, "Run the doctor again in a minute.")
                return False
            fix = (
                f"The config points at a local emulator ({self.endpoints.secret_manager}) that does not answer: "
                "start the local stack (`make run`) and use the config it writes, .local/config.toml."
            )
            self.failed("secret.readable", label, f"cannot read {name}: {error.message}", fix)
            return False
        except Exception as error:  # credentials of the person running the doctor, transport problems
            if self.endpoints.emulated:
                fix = (
                    f"The config points at a local emulator ({self.endpoints.secret_manager}) that does not answer: "
                    "start the local stack (`make run`) and use the config it writes, .local/config.toml."
                )
            else:
                fix = (
                    "The doctor reads the secret with your Application Default Credentials: run `gcloud auth "
                    "application-default login` as someone holding roles/secretmanager.secretAccessor on "
                    f"{secret} (or roles/secretmanager.admin on the project)."
                )
            self.failed("secret.readable", label, f"cannot read {name}: {type(error).__name__}", fix)
            return False
        number = version.rsplit("/", 1)[-1]
        resolved = f" (resolved to version {number})" if not name.endswith(f"/versions/{number}") else ""
        self.passed("secret.readable", label, f"{name} is readable{resolved}", version=version)

        computed = crc32c(payload)
        if server_crc is None:
            self.passed(
                "secret.checksum", "secret checksum", f"Secret Manager sent no CRC32C for version {number}"
            )
        elif computed != server_crc:
            self.failed(
                "secret.checksum",
                "secret checksum",
                f"version {number} failed its CRC32C check: the payload arrived corrupted",
                f"Run the doctor again; if it fails again, add the credentials JSON as a new version ({add_version}) "
                "and pin credentials_secret_version to it.",
                version=version,
            )
            return False
        else:
            self.passed("secret.checksum", "secret checksum", f"CRC32C of version {number} verifies")
        self._fetched = (version, payload, server_crc)
        return True

    @staticmethod
    def _secret_fix(message: str, parts: list[str], add_version: str) -> str:
        secret = "/".join(parts[:4])
        if "DISABLED" in message:
            number = parts[5] if parts[5].isdigit() else "N"
            enable = f"gcloud secrets versions enable {number} --secret={parts[3]} --project={parts[1]}"
            return (
                f"The version is disabled. Enable it again ({enable}), or add the credentials JSON as a new version "
                f"({add_version}) and pin credentials_secret_version to it."
            )
        if "DESTROYED" in message:
            return (
                f"The version is destroyed for good: add the credentials JSON as a new version ({add_version}) and "
                "pin credentials_secret_version to it."
            )
        if "may not read" in message:
            return (
                f"Grant roles/secretmanager.secretAccessor on {secret} to whoever reads it (Terraform grants it to "
                "the functions' service accounts; for the doctor, your own account)."
            )
        return (
            f"Check the name (the functions' CREDENTIALS_SECRET: {_VERSION_HINT}). If the secret has no such version "
            f"yet, add the credentials JSON: {add_version}"
        )

    def check_key(self) -> bool:
        assert self.config is not None
        label = "key"
        fetched = self._fetched
        source = SecretSource(self.secret_name, lambda _name: fetched)
        add_version = self.add_version_command()
        try:
            material = source.get()
        except SecretError as error:
            self.failed(
                "key.valid",
                label,
                error.message,
                "Add the downloaded key JSON (or the authorized_user JSON) unchanged as a new version "
                f"({add_version}) and pin credentials_secret_version to it.",
            )
            return False
        self.material = material
        if material.kind == "service_account":
            from google.oauth2 import service_account

            try:
                service_account.Credentials.from_service_account_info(material.info)  # type: ignore[no-untyped-call]
            except (ValueError, KeyError) as error:
                self.failed(
                    "key.valid",
                    label,
                    f"the private key in {material.version} cannot be loaded ({type(error).__name__})",
                    f"Create a new key and add it as a new version ({add_version}).",
                )
                return False
        wrong = [
            calendar.slug
            for calendar in self.config.calendars
            if (calendar.mode == "authorized_user") != (material.kind == "authorized_user")
        ]
        if wrong:
            needs = "an authorized_user JSON" if material.kind == "service_account" else "a service_account key"
            self.failed(
                "key.valid",
                label,
                f"the secret holds a {material.kind} JSON, but calendars {', '.join(wrong)} need {needs}",
                "Make the calendars' `mode` match the credentials (delegated or direct: a service_account key; "
                "authorized_user: an installed-app grant), or add the matching JSON as a new secret version.",
            )
            return False
        runtime = self.runtime_identity() if material.kind == KEYLESS else None
        self.credentials = CredentialProvider(source, self.endpoints, runtime_identity=runtime)
        self.calendar = CalendarClient(self.credentials, self.endpoints, retry=self.retry)
        if material.kind == KEYLESS:
            self.passed(
                "key.valid",
                label,
                f"keyless_dwd descriptor: sign as {self.client_email}, client ID {self.client_id}, through IAM "
                "Credentials (no key)",
                clientEmail=self.client_email,
                clientId=self.client_id,
            )
        elif material.kind == "service_account":
            key_id = str(material.info.get("private_key_id", ""))
            client = self.client_id or "unknown (no client_id in the key JSON)"
            self.passed(
                "key.valid",
                label,
                f"service_account key of {self.client_email}, client ID {client}, key ID {key_id}",
                clientEmail=self.client_email,
                clientId=self.client_id,
                keyId=key_id,
            )
        else:
            self.passed(
                "key.valid",
                label,
                f"authorized_user grant of OAuth client {material.info.get('client_id')}",
                clientId=str(material.info.get("client_id")),
            )
        return True

    def check_key_accepted(self) -> bool:
        assert self.credentials is not None
        assert self.material is not None
        label = "key accepted"
        kind = self.material.kind
        mode = "authorized_user" if kind == "authorized_user" else "direct"
        scopes = BOOKING_SCOPES if kind == "authorized_user" else SYNC_SCOPES
        try:
            self.credentials.ready(mode, None, scopes)
        except SecretError as error:
            if kind == "service_account":
                fix = (
                    f"The key was deleted, disabled or rotated away. Create a new one (gcloud iam service-accounts "
                    f"keys create key.json --iam-account={self.client_email}), add it as a new version of the secret "
                    f"({self.add_version_command()}), pin credentials_secret_version to it, apply, and delete "
                    "key.json."
                )
            else:
                fix = (
                    "Make the installed-app grant again and add the new authorized_user JSON as a secret version "
                    f"({self.add_version_command()})."
                )
            self.failed("key.accepted", label, error.message, fix, reason=error.details.get("reason"))
            return False
        except AppError as error:
            self.failed("key.accepted", label, error.message, "Run the doctor again in a minute.")
            return False
        if kind == KEYLESS:
            self.passed("key.accepted", label, "Google accepts the JWT IAM Credentials signed (a token was minted)")
        elif kind == "service_account":
            self.passed("key.accepted", label, "Google accepts the key (a token was minted for the service account)")
        else:
            self.passed("key.accepted", label, f"Google accepts the refresh token for {_short(scopes)}")
        return True

    # --- per calendar -----------------------------------------------------------------------------------------
    def identity(self, calendar: CalendarConfig) -> Identity:
        subject = calendar.act_as if calendar.mode == "delegated" else None
        return Identity(calendar.mode, subject, BOOKING_SCOPES)

    def principal(self, mode: str, subject: str | None) -> str:
        if mode == "delegated":
            return subject or "?"
        if mode == "direct":
            return self.client_email
        return "the authorized user"

    def check_calendar(self, calendar: CalendarConfig) -> None:
        slug = calendar.slug
        usable = self.check_access(calendar)
        if "booking" not in self.functions:
            return  # free/busy and insert are what booking does; sharing needs only the access check
        if not usable:
            for suffix, label in (("freebusy", "free/busy"), ("insert", "insert")):
                why = f"{slug}: access with {_short(BOOKING_SCOPES)} must work first"
                self.skipped(f"calendar.{slug}.{suffix}", f"{slug}: {label}", why)
            return
        self.check_freebusy(calendar)
        self.check_insert(calendar)

    def check_access(self, calendar: CalendarConfig) -> bool:
        """Report the access check; True when the booking scopes work (so free/busy and insert can be tried,
        even if only the sharing scopes are missing)."""
        assert self.credentials is not None
        check_id, label = f"calendar.{calendar.slug}.access", f"{calendar.slug}: access"
        if calendar.mode == "delegated":
            self._check_delegation(check_id, label, calendar.act_as or "", self.needed_scopes, calendar)
            return not set(self._last_missing) & set(BOOKING_SCOPES) if self._last_missing is not None else False
        scopes = BOOKING_SCOPES
        try:
            self.credentials.ready(calendar.mode, None, scopes)
        except AppError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error), reason=error.details.get("reason"))
            return False
        if calendar.mode == "direct":
            summary = (
                f"acts as {self.client_email} itself (mode direct): {calendar.calendar_id} must be shared with it"
            )
        else:
            summary = f"acts as the authorized user with {_short(scopes)}"
        self.passed(check_id, label, summary)
        return True

    def _check_delegation(
        self,
        check_id: str,
        label: str,
        subject: str,
        scopes: tuple[str, ...],
        calendar: CalendarConfig | None,
    ) -> bool:
        assert self.credentials is not None
        self._last_missing = None  # None: failed for another reason than missing scopes
        try:
            self.credentials.ready("delegated", subject, scopes)
        except DelegationError as error:
            reason = error.details.get("reason")
            if reason == "unauthorized_client":
                missing = self._missing_scopes(subject, scopes)
                self._last_missing = list(missing or scopes)
                client = self.client_id or "?"
                if missing and len(missing) < len(scopes):
                    summary = (
                        f"client ID {client} may not act as {subject} with {_short(missing)}: "
                        "missing from its domain-wide delegation grant"
                    )
                else:
                    summary = (
                        f"client ID {client} may not act as {subject}: it has no domain-wide delegation grant "
                        f"for {_short(scopes)}"
                    )
                self.failed(
                    check_id,
                    label,
                    summary,
                    self.dwd_fix(),
                    **self.dwd_details(missingScopes=list(missing or scopes), subject=subject, reason=reason),
                )
                return False
            where = (
                f"calendars[{self._index(calendar)}].act_as of {calendar.slug}" if calendar else "sync.act_as"
            )
            self.failed(
                check_id,
                label,
                f"Google does not know the user {subject} (or the user is suspended or deleted)",
                f"Set {where} in the config to an active user of the Workspace domain (for a calendar: its owner, "
                "or a user it is shared with as 'Make changes to events').",
                subject=subject,
                reason=reason,
            )
            return False
        except SecretError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error), reason=error.details.get("reason"))
            return False
        except AppError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error))
            return False
        self._last_missing = []
        self.passed(
            check_id,
            label,
            f"{self.client_email} may act as {subject} with {_short(scopes)}",
            subject=subject,
            scopes=list(scopes),
        )
        return True

    def _missing_scopes(self, subject: str, scopes: tuple[str, ...]) -> list[str]:
        """Probe each scope alone, as `gam check serviceaccount` does, to name the ones the grant lacks."""
        assert self.credentials is not None
        missing: list[str] = []
        for scope in scopes:
            try:
                self.credentials.ready("delegated", subject, (scope,))
            except DelegationError as error:
                if error.details.get("reason") == "unauthorized_client":
                    missing.append(scope)
            except AppError:
                pass
        return missing

    def _index(self, calendar: CalendarConfig | None) -> int:
        assert self.config is not None
        return next((i for i, c in enumerate(self.config.calendars) if c is calendar), 0)

    def check_freebusy(self, calendar: CalendarConfig) -> None:
        assert self.calendar is not None
        check_id, label = f"calendar.{calendar.slug}.freebusy", f"{calendar.slug}: free/busy"
        identity = self.identity(calendar)
        start = self.now().replace(microsecond=0)
        try:
            answer = self.calendar.free_busy(identity, [calendar.calendar_id], start, start + _FREEBUSY_WINDOW)
        except AppError as error:
            self.failed(check_id, label, f"free/busy failed: {error.message}", self._generic_fix(error))
            return
        result = answer[calendar.calendar_id]
        who = self.principal(identity.mode, identity.subject)
        if result.error:
            self.failed(
                check_id,
                label,
                f"free/busy of {calendar.calendar_id} as {who} answered {result.error!r}",
                self._visibility_fix(calendar, who),
                reason=result.error,
            )
            return
        self.passed(
            check_id,
            label,
            f"{calendar.calendar_id} as {who}: {len(result.busy)} busy interval(s) in the next 7 days",
        )

    def _visibility_fix(self, calendar: CalendarConfig, who: str, *, write: bool = False) -> str:
        need = "'Make changes to events'"
        if not write:
            need = f"at least 'See only free/busy' ({need} to book)"
        if calendar.mode == "direct":
            return (
                f"Share {calendar.calendar_id} with {who} with {need} (Google Calendar > Settings and sharing > "
                f"Share with specific people), or switch calendar {calendar.slug} to mode = \"delegated\" with "
                "act_as = the calendar's owner."
            )
        if calendar.mode == "delegated":
            return (
                f"Check calendars[{self._index(calendar)}].calendar_id, and that {who} can see it: set act_as to the "
                f"calendar's owner, or share {calendar.calendar_id} with {who} with {need}."
            )
        return f"Share {calendar.calendar_id} with the account that made the authorized_user grant, with {need}."

    def check_insert(self, calendar: CalendarConfig) -> None:
        assert self.calendar is not None
        client = self.calendar
        check_id, label = f"calendar.{calendar.slug}.insert", f"{calendar.slug}: insert"
        identity = self.identity(calendar)
        who = self.principal(identity.mode, identity.subject)
        event_id = "doctor" + secrets.token_hex(10)  # base32hex alphabet [a-v0-9], fresh per run
        start = datetime.combine((self.now() + _DRY_RUN_AHEAD).date(), time(3, 0), UTC)
        body = {
            "id": event_id,
            "summary": DOCTOR_SUMMARY,
            "description": (
                "Written by `python -m shared.doctor` to check that the booking service may write to this calendar, "
                "and deleted again at once. If you can read this, the clean-up failed: delete this event."
            ),
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + _DRY_RUN_LENGTH).isoformat(), "timeZone": "UTC"},
            "transparency": "transparent",
            "visibility": "private",
            "reminders": {"useDefault": False},
            "extendedProperties": {"private": {DOCTOR_PROPERTY: "1"}},
        }
        inserted = False
        failure: AppError | None = None
        cleanup: str | None = None
        try:
            try:
                client.insert_event(identity, calendar.calendar_id, body, send_updates="none")
                inserted = True
            except AppError as error:
                if error.details.get("reason") == "duplicate":  # a retried insert that had landed: ours
                    inserted = True
                else:
                    failure = error
        finally:
            # Clean up whenever the event may exist: inserted, unknown (Google unavailable: it may have landed),
            # or an unexpected exception on its way out of here.
            if inserted or failure is None or isinstance(failure, UpstreamUnavailable):
                cleanup = self._delete_and_verify(identity, calendar.calendar_id, event_id)
        by_hand = (
            f"Delete the event titled {DOCTOR_SUMMARY!r} on {start.date().isoformat()} from {calendar.calendar_id} "
            "by hand, then run the doctor again."
        )
        if failure is not None:
            reason = failure.details.get("reason")
            if isinstance(failure, NotFound) or reason in _ACCESS_REASONS:
                fix = self._visibility_fix(calendar, who, write=True)
            else:
                fix = self._generic_fix(failure)
            summary = f"insert into {calendar.calendar_id} as {who} failed: {failure.message or reason}"
            if cleanup is not None:
                summary += f"; the test event {event_id} may have landed and {cleanup}"
                fix += "\n" + by_hand
            self.failed(check_id, label, summary, fix, reason=reason, eventId=event_id)
        elif cleanup is not None:
            self.failed(check_id, label, f"inserted test event {event_id}, but {cleanup}", by_hand, eventId=event_id)
        else:
            self.passed(
                check_id,
                label,
                f"dry run as {who}: inserted a private, transparent test event on {start.date().isoformat()} "
                "(sendUpdates=none), deleted it, verified it is gone",
                eventId=event_id,
            )

    def _delete_and_verify(self, identity: Identity, calendar_id: str, event_id: str) -> str | None:
        """Delete the test event and confirm it is gone; None on success, else what went wrong."""
        assert self.calendar is not None
        try:
            self.calendar.delete_event(identity, calendar_id, event_id, send_updates="none")
        except (NotFound, Gone):
            pass  # never landed, or a retried delete that had landed
        except AppError as error:
            return f"deleting it failed: {error.message}"
        try:
            event = self.calendar.get_event(identity, calendar_id, event_id)
        except (NotFound, Gone):
            return None
        except AppError as error:
            return f"checking that it is gone failed: {error.message}"
        if event.get("status") == "cancelled":
            return None
        return f"it is still there after deleting it (status {event.get('status')!r})"

    # --- sync -------------------------------------------------------------------------------------------------
    def check_sync(self) -> None:
        assert self.config is not None
        assert self.calendar is not None
        sync = self.config.sync
        if not sync.act_as:
            return  # each calendar is asked as itself: the per-calendar checks cover it
        mode = sync.mode
        subject = sync.act_as if mode == "delegated" else None
        if mode == "delegated":
            ok = self._check_delegation("sync.access", "sync: access", sync.act_as, SYNC_SCOPES, None)
        else:
            ok = self.check_sync_plain(mode)
        if not ok:
            self.skipped("sync.freebusy", "sync: free/busy", "sync: access must work first")
            return
        identity = Identity(mode, subject, SYNC_SCOPES)
        who = self.principal(mode, subject)
        ids = [calendar.calendar_id for calendar in self.config.calendars]
        start = self.now().replace(microsecond=0)
        try:
            answer = self.calendar.free_busy(identity, ids, start, start + _FREEBUSY_WINDOW)
        except AppError as error:
            self.failed("sync.freebusy", "sync: free/busy", f"free/busy failed: {error.message}",
                        self._generic_fix(error))
            return
        errors = {cid: result.error for cid, result in answer.items() if result.error}
        if errors:
            listed = ", ".join(f"{cid} ({reason})" for cid, reason in errors.items())
            self.failed(
                "sync.freebusy",
                "sync: free/busy",
                f"as {who}, free/busy has errors for {listed}",
                f"Let {who} see those calendars' free/busy (Workspace shares free/busy inside the domain by default: "
                "Admin console > Apps > Google Workspace > Calendar > Sharing settings), or remove sync.act_as so "
                "each calendar is asked as its own user.",
                calendars=sorted(errors),
            )
            return
        self.passed("sync.freebusy", "sync: free/busy", f"as {who}: all {len(ids)} calendars answer free/busy")

    def check_sync_plain(self, mode: str) -> bool:
        assert self.credentials is not None
        try:
            self.credentials.ready(mode, None, SYNC_SCOPES)
        except AppError as error:
            self.failed("sync.access", "sync: access", error.message, self._generic_fix(error))
            return False
        self.passed("sync.access", "sync: access", f"acts as {self.principal(mode, None)} (mode {mode})")
        return True

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


if __name__ == "__main__":
    sys.exit(main())
