"""The config, the credentials secret and the key: `config`, `secret.*`, `key.*`."""

from __future__ import annotations

from ..calendar_client import CalendarClient
from ..config import ConfigError, load_config
from ..credentials import (
    BOOKING_SCOPES,
    KEYLESS,
    SYNC_SCOPES,
    CredentialProvider,
)
from ..endpoints import Endpoints
from ..errors import AppError, SecretError, UpstreamUnavailable
from ..secrets import (
    SecretManagerUnreachable,
    SecretSource,
    crc32c,
    secret_manager_accessor,
)
from .base import _VERSION_HINT, DoctorBase, _short


class CredentialChecks(DoctorBase):
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
        except ImportError as error:  # the doctor's Python lacks the project's dependencies
            module = error.name or str(error)
            self.failed(
                "secret.readable",
                label,
                f"cannot read {name}: the module {module} does not import ({type(error).__name__})",
                "Run the doctor with the project's Python: `make run` sets up .venv, or install the project "
                "there (`.venv/bin/python -m pip install -e .`); then `.venv/bin/python -m shared.doctor`.",
            )
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

