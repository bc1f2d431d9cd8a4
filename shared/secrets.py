"""The credentials JSON, read from one Secret Manager version, checked, cached per instance, rotated in place.

A warm instance reads the secret once; it reads it again only when `refresh_after` has passed (to pick up a new
`latest`) or when a caller reports that the key it got stopped working (`invalidate`), so a rotated key takes
effect without a redeploy. Errors name the secret version, never its content.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


class SecretManagerUnreachable(UpstreamUnavailable):
    """Secret Manager did not answer within the retry deadline (down, or nothing listening at its address)."""


Accessor = Callable[[str], tuple[str, bytes, int | None]]
"""Reads a secret version: name -> (resolved version name, payload bytes, the server's CRC32C or None)."""


def secret_manager_accessor(endpoints: Endpoints) -> Accessor:
    """An accessor backed by google-cloud-secret-manager, built on first use (its import costs ~0.6 s)."""
    client: Any = None
    lock = threading.Lock()

    def access(name: str) -> tuple[str, bytes, int | None]:
        nonlocal client
        from google.api_core import exceptions as api_exceptions

        with lock:
            if client is None:
                client = _build_client(endpoints)
        try:
            response = client.access_secret_version(request={"name": name}, timeout=10, retry=_retry())
        except api_exceptions.NotFound:
            raise SecretError(f"Secret version {name} does not exist or has no versions.") from None
        except (api_exceptions.FailedPrecondition, api_exceptions.BadRequest) as error:
            raise SecretError(f"Secret version {name} cannot be read: {error.message}") from None
        except api_exceptions.PermissionDenied:
            raise SecretError(
                f"This service may not read {name}: grant roles/secretmanager.secretAccessor on that secret."
            ) from None
        except (
            api_exceptions.ServiceUnavailable,
            api_exceptions.InternalServerError,
            api_exceptions.TooManyRequests,
        ):
            raise UpstreamUnavailable("Secret Manager is unavailable; try again shortly.") from None
        except api_exceptions.RetryError:
            raise SecretManagerUnreachable("Secret Manager did not answer in time; try again shortly.") from None
        crc = response.payload.data_crc32c if response.payload._pb.HasField("data_crc32c") else None
        return str(response.name), bytes(response.payload.data), crc

    return access


def _retry() -> Any:
    """Transient errors retried within 5 s (the client's default would hold a request for 60 s, then fail)."""
    from google.api_core import retry

    return retry.Retry(
        predicate=retry.if_transient_error, initial=0.1, maximum=1.0, multiplier=2.0, timeout=5.0
    )


def _build_client(endpoints: Endpoints) -> Any:
    from google.cloud import secretmanager

    if endpoints.secret_manager is None:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoints.secret_manager},
    )


def crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))


T = TypeVar("T")
_RETRY_REFRESH_AFTER = 30.0  # seconds until a refresh that failed transiently is tried again


class _CachedSecret(Generic[T]):
    """One secret version, read through `accessor`, checked against its CRC32C, turned into a `T` by `_parse`,
    and cached: read again only once `refresh_after` seconds have passed. A refresh that Secret Manager cannot
    answer now keeps the value in hand (it was good a moment ago) and is tried again shortly, instead of failing
    every request meanwhile."""

    def __init__(
        self, name: str, accessor: Accessor, *, refresh_after: float = 600.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.name = name
        self._clock = clock
        self._access = accessor
        self._refresh_after = refresh_after
        self._lock = threading.Lock()
        self._value: T | None = None
        self._read_at = 0.0

    def get(self) -> T:
        with self._lock:
            stale = self._clock.monotonic() - self._read_at > self._refresh_after
            if self._value is None or stale:
                try:
                    version, payload, server_crc = self._access(self.name)
                except UpstreamUnavailable:
                    if self._value is None:
                        raise
                    self._read_at = self._clock.monotonic() - self._refresh_after + _RETRY_REFRESH_AFTER
                    return self._value
                if server_crc is not None and crc32c(payload) != server_crc:
                    raise SecretError(
                        f"Secret version {version} failed its CRC32C check: the payload arrived corrupted."
                    )
                self._value = self._parse(version, payload)
                self._read_at = self._clock.monotonic()
            return self._value

    def _parse(self, version: str, payload: bytes) -> T:
        raise NotImplementedError


class SecretSource(_CachedSecret[CredentialsMaterial]):
    """One secret version's credentials JSON, cached for the life of the instance."""

    def invalidate(self, version: str | None = None) -> None:
        """Forget the cached material (only if it is still `version`, when given) so the next get re-reads."""
        with self._lock:
            if self._value is not None and (version is None or self._value.version == version):
                self._value = None

    def _parse(self, version: str, payload: bytes) -> CredentialsMaterial:
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


class RawSecret(_CachedSecret[tuple[str, bytes]]):
    """One secret version's bytes (no JSON: e.g. the booking-token key), read once and cached like `SecretSource`:
    `get()` gives (resolved version name, payload)."""

    def _parse(self, version: str, payload: bytes) -> tuple[str, bytes]:
        if len(payload) < 32:
            raise SecretError(f"Secret version {version} must hold at least 32 bytes of random key material.")
        return version, payload


def _missing_fields(info: dict[str, Any]) -> list[str]:
    if info["type"] == "service_account":
        needed = ["client_email", "private_key", "private_key_id", "token_uri"]
    elif info["type"] == "keyless_dwd":
        needed = ["client_email", "client_id"]
    else:
        needed = ["client_id", "client_secret", "refresh_token"]
    return [field for field in needed if not info.get(field)]
