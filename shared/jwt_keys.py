"""Signature checks for JWTs from Google: an issuer's published keys, fetched and cached, and RS256 / ES256.

Google publishes ID-token keys as PEM certificates by key id (`oauth2/v1/certs`) and as a JWK set
(`oauth2/v3/certs`); IAP publishes its ES256 keys as a JWK set (`iap/verify/public_key-jwk`) and as PEM public
keys (`iap/verify/public_key`). `KeySet` reads all four formats. Only the algorithms a key set was built for are
accepted, so a token cannot choose `none` or HS256 with a public key as the secret.

PyJWT checks the signature; the times, issuer and audience are judged by the caller on the injected clock
(PyJWT would judge them on the machine's), so PyJWT is told to check the signature only. Key cache age is read
through the clock too, like everything in `shared/`.

Keys that cannot be fetched are the issuer's fault, not the caller's: with no keys in hand the answer is 503 (try
again), never 401 (which tells a scheduler or an admin their token is bad). Keys past their hour are kept while a
refetch fails, and tried again at most every 30 s: a token signed by a key in hand still verifies.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .errors import Unauthenticated, UpstreamUnavailable

if TYPE_CHECKING:
    from jwt.types import Options

_KEYS_TTL_SECONDS = 3600.0
_REFETCH_AFTER_SECONDS = 30.0  # an unknown key id refetches at most this often (key rotation)
_SIGNATURE_ONLY: Options = {
    "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
    "verify_aud": False, "verify_iss": False,
}


class KeySet:
    def __init__(self, url: str, *, algorithms: tuple[str, ...], clock: Clock) -> None:
        self.url = url
        self.algorithms = algorithms
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, claims) of `token` if its signature verifies against this issuer's keys; else 401."""
        import jwt

        header, _, _ = unverified_parts(token)
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise Unauthenticated(f"The token's algorithm must be one of {', '.join(self.algorithms)}.")
        key = self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(token, key, algorithms=[str(algorithm)], options=_SIGNATURE_ONLY)
        except jwt.InvalidSignatureError:
            raise Unauthenticated("The token's signature does not verify.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The token cannot be read.") from None
        return header, claims

    def _key(self, key_id: str) -> Any:
        moment = self._clock.monotonic()
        with self._lock:
            age = None if self._fetched_at is None else moment - self._fetched_at
            key = self._keys.get(key_id)
            stale = age is None or age > _KEYS_TTL_SECONDS
            if key is not None and not stale:
                return key
            if key is None and age is not None and not stale and age < _REFETCH_AFTER_SECONDS:
                raise Unauthenticated("The token was signed with a key the issuer does not publish.")
        try:
            keys = _parse_keys(self._fetch())
        except UpstreamUnavailable:
            with self._lock:
                if key is None:
                    raise
                # Stale but published an hour ago: keep it, and ask again after the refetch pause, not per request.
                self._fetched_at = moment - _KEYS_TTL_SECONDS + _REFETCH_AFTER_SECONDS
                return key
        with self._lock:
            self._keys, self._fetched_at = keys, moment
        if key_id not in keys:
            raise Unauthenticated("The token was signed with a key the issuer does not publish.")
        return keys[key_id]

    def _fetch(self) -> Any:
        import requests

        try:
            response = requests.get(self.url, timeout=5)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError):
            raise UpstreamUnavailable(
                "The token cannot be checked now: the issuer's keys are unreachable; try again shortly."
            ) from None


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, claims, signature text) of a JWT, without checking anything; 401 if it is not a JWT."""
    import jwt

    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise Unauthenticated("The bearer token is not a JWT.")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthenticated("The bearer token cannot be read.") from None
    if not isinstance(claims, dict):
        raise Unauthenticated("The bearer token cannot be read.")
    return header, claims, parts[2]


def _parse_keys(document: Any) -> dict[str, Any]:
    """Public keys by key id from a JWK set or a `{kid: PEM}` map (certificates or public keys)."""
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not isinstance(document, dict):
        raise Unauthenticated("The issuer's keys are not in a format this function reads.")
    if isinstance(document.get("keys"), list):
        try:
            key_set = jwt.PyJWKSet.from_dict(document)
        except jwt.PyJWTError:
            return {}  # no usable key: every token is refused as signed by an unknown key
        return {key.key_id: key.key for key in key_set.keys if key.key_id}
    keys: dict[str, Any] = {}
    for key_id, pem in document.items():
        data = str(pem).encode()
        try:
            if b"CERTIFICATE" in data:
                keys[str(key_id)] = x509.load_pem_x509_certificate(data).public_key()
            else:
                keys[str(key_id)] = serialization.load_pem_public_key(data)
        except ValueError:
            continue
    return keys
