"""The credentials JSON, read from one Secret Manager version, checked, cached per instance, rotated in place.

A warm instance reads the secret once; it reads it again only when `refresh_after` has passed (to pick up a new
`latest`) or when a caller reports that the key it got stopped working (`invalidate`), so a rotated key takes
effect without a redeploy. Errors name the secret version, never its content.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .endpoints import Endpoints
from .errors import SecretError, UpstreamUnavailable

# keyless_dwd: a descriptor naming the delegation service account to sign as through IAM Credentials; no key.
_KNOWN_TYPES = ("service_account", "authorized_user", "keyless_dwd")


@dataclass(frozen=True)
class CredentialsMaterial:
    """The parsed credentials JSON and which secret version it came from."""

    info: dict[str, Any]
    version: str  # full version name as Secret Manager resolved it, e.g. projects/p/secrets/s/versions/3

    @property
    def kind(self) -> str:
        return str(self.info["type"])


Accessor = Callable[[str], tuple[str, bytes, int | None]]
"""Reads a secret version: name -> (resolved version name, payload bytes, the server's CRC32C or None)."""


_SECRET_MANAGER = "https://secretmanager.googleapis.com"  # noqa: S105  (a URL, not a password)
_TRANSIENT = frozenset({429, 500, 502, 503, 504})


class _Transient(Exception):
    """A read worth trying again."""

    def __init__(self, unreachable: bool = False) -> None:
        super().__init__()
        self.unreachable = unreachable


class SecretManagerUnreachable(UpstreamUnavailable):
    """No connection to Secret Manager at all (as opposed to an answer saying it is unavailable)."""

_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def secret_manager_accessor(endpoints: Endpoints) -> Accessor:
    """An accessor on Secret Manager's REST API (`GET v1/{name}:access`) through a requests session.

    Not google-cloud-secret-manager: importing that client (gRPC, protobuf, proto-plus) costs ~0.6-1 s, all of
    it on a new instance's first request, for one GET. The session is google-auth's `AuthorizedSession` with the
    instance's own identity (`google.auth.default()`, the metadata server on Cloud Run), which the token mint
    imports anyway; against the emulator, a plain session."""
    session: Any = None
    lock = threading.Lock()
    base = (endpoints.secret_manager or _SECRET_MANAGER).rstrip("/")

    def access(name: str) -> tuple[str, bytes, int | None]:
        nonlocal session
        import requests

        with lock:
            if session is None:
                session = _session(endpoints)
        import stamina

        def attempt() -> Any:
            try:
                answer = session.get(f"{base}/v1/{name}:access", timeout=10)
            except requests.RequestException:
                raise _Transient(unreachable=True) from None
            if answer.status_code in _TRANSIENT:
                raise _Transient()
            return answer

        try:  # what the client library retried too: unavailable, rate limited; briefly, well inside a request
            for retry in stamina.retry_context(on=_Transient, attempts=4, timeout=10.0, wait_initial=0.1, wait_max=1.0):
                with retry:
                    response = attempt()
        except _Transient as failed:
            if failed.unreachable:
                raise SecretManagerUnreachable(f"Secret Manager at {base} does not answer.") from None
            raise UpstreamUnavailable("Secret Manager is unavailable; try again shortly.") from None
        status = response.status_code
        if status == 404:
            raise SecretError(f"Secret version {name} does not exist or has no versions.")
        if status in (400, 412):  # FAILED_PRECONDITION (a disabled or destroyed version), INVALID_ARGUMENT
            raise SecretError(f"Secret version {name} cannot be read: {_message(response)}")
        if status in (401, 403):
            raise SecretError(
                f"This service may not read {name}: grant roles/secretmanager.secretAccessor on that secret."
            )
        if status != 200:
            raise UpstreamUnavailable("Secret Manager is unavailable; try again shortly.")
        try:
            body = response.json()
            payload = body["payload"]
            data = base64.b64decode(payload.get("data", ""), validate=True)
            crc = int(payload["dataCrc32c"]) if payload.get("dataCrc32c") is not None else None
            return str(body["name"]), data, crc
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise UpstreamUnavailable("Secret Manager sent an answer that is not a secret version.") from None

    return access


def _session(endpoints: Endpoints) -> Any:
    if endpoints.secret_manager is not None:
        import requests

        return requests.Session()
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[_CLOUD_PLATFORM])  # type: ignore[no-untyped-call, unused-ignore]
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def _message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))


class SecretSource:
    """One secret version's credentials JSON, cached for the life of the instance."""

    def __init__(
        self, name: str, accessor: Accessor, *, refresh_after: float = 600.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.name = name
        self._clock = clock
        self._access = accessor
        self._refresh_after = refresh_after
        self._lock = threading.Lock()
        self._material: CredentialsMaterial | None = None
        self._read_at = 0.0

    def get(self) -> CredentialsMaterial:
        with self._lock:
            stale = self._clock.monotonic() - self._read_at > self._refresh_after
            if self._material is None or stale:
                self._material = self._read()
                self._read_at = self._clock.monotonic()
            return self._material

    def invalidate(self, version: str | None = None) -> None:
        """Forget the cached material (only if it is still `version`, when given) so the next get re-reads."""
        with self._lock:
            if self._material is not None and (version is None or self._material.version == version):
                self._material = None

    def _read(self) -> CredentialsMaterial:
        version, payload, server_crc = self._access(self.name)
        if server_crc is not None and crc32c(payload) != server_crc:
            raise SecretError(
                f"Secret version {version} failed its CRC32C check: the payload arrived corrupted."
            )
        try:
            info = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise SecretError(
                f"Secret version {version} is not JSON; it must hold a credentials JSON."
            ) from None
        if not isinstance(info, dict) or info.get("type") not in _KNOWN_TYPES:
            raise SecretError(
                f"Secret version {version} must hold a credentials JSON whose `type` is one of {_KNOWN_TYPES}."
            )
        missing = _missing_fields(info)
        if missing:
            raise SecretError(
                f"Secret version {version} lacks the fields {missing} of a {info['type']} JSON."
            )
        return CredentialsMaterial(info=info, version=version)


class RawSecret:
    """One secret version's bytes (no JSON: e.g. the booking-token key), read once and cached like `SecretSource`."""

    def __init__(
        self, name: str, accessor: Accessor, *, refresh_after: float = 600.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.name = name
        self._access = accessor
        self._refresh_after = refresh_after
        self._clock = clock
        self._lock = threading.Lock()
        self._value: tuple[str, bytes] | None = None
        self._read_at = 0.0

    def get(self) -> tuple[str, bytes]:
        """(resolved version name, payload)."""
        with self._lock:
            if self._value is None or self._clock.monotonic() - self._read_at > self._refresh_after:
                version, payload, server_crc = self._access(self.name)
                if server_crc is not None and crc32c(payload) != server_crc:
                    raise SecretError(
                        f"Secret version {version} failed its CRC32C check: the payload arrived corrupted."
                    )
                if len(payload) < 32:
                    raise SecretError(f"Secret version {version} must hold at least 32 bytes of random key material.")
                self._value = (version, payload)
                self._read_at = self._clock.monotonic()
            return self._value


def _missing_fields(info: dict[str, Any]) -> list[str]:
    if info["type"] == "service_account":
        needed = ["client_email", "private_key", "private_key_id", "token_uri"]
    elif info["type"] == "keyless_dwd":
        needed = ["client_email", "client_id"]
    else:
        needed = ["client_id", "client_secret", "refresh_token"]
    return [field for field in needed if not info.get(field)]
