"""Signature checks for JWTs from Google: an issuer's published keys, fetched and cached, and RS256 / ES256.

Google publishes ID-token keys as PEM certificates by key id (`oauth2/v1/certs`) and as a JWK set
(`oauth2/v3/certs`); IAP publishes its ES256 keys as a JWK set (`iap/verify/public_key-jwk`) and as PEM public
keys (`iap/verify/public_key`). `KeySet` reads all four formats. Only the algorithms a key set was built for are
accepted, so a token cannot choose `none` or HS256 with a public key as the secret.

Time (key cache age) is read through the injected clock, like everything in `shared/`.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from .clock import Clock
from .errors import Unauthenticated

_KEYS_TTL_SECONDS = 3600.0
_REFETCH_AFTER_SECONDS = 30.0  # an unknown key id refetches at most this often (key rotation)


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
        header_b64, payload_b64, signature_b64 = _split(token)
        header = _json_part(header_b64, "header")
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise Unauthenticated(f"The token's algorithm must be one of {', '.join(self.algorithms)}.")
        key = self._key(str(header.get("kid", "")))
        signature = _b64decode(signature_b64, "signature")
        if not _signature_ok(key, str(algorithm), f"{header_b64}.{payload_b64}".encode(), signature):
            raise Unauthenticated("The token's signature does not verify.")
        return header, _json_part(payload_b64, "payload")

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
        keys = _parse_keys(self._fetch())
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
            raise Unauthenticated("The token cannot be checked now: the issuer's keys are unreachable.") from None


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, claims, signature text) of a JWT, without checking anything; 401 if it is not a JWT."""
    header_b64, payload_b64, signature = _split(token)
    return _json_part(header_b64, "header"), _json_part(payload_b64, "payload"), signature


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise Unauthenticated("The bearer token is not a JWT.")
    return parts[0], parts[1], parts[2]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise Unauthenticated(f"The token's {what} cannot be read.") from None


def _json_part(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(text, what))
    except (ValueError, UnicodeDecodeError):
        raise Unauthenticated(f"The token's {what} cannot be read.") from None
    if not isinstance(value, dict):
        raise Unauthenticated(f"The token's {what} cannot be read.")
    return value


def _parse_keys(document: Any) -> dict[str, Any]:
    """Public keys by key id from a JWK set or a `{kid: PEM}` map (certificates or public keys)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    keys: dict[str, Any] = {}
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        for jwk in document["keys"]:
            if isinstance(jwk, dict) and jwk.get("kid"):
                key = _jwk_key(jwk)
                if key is not None:
                    keys[str(jwk["kid"])] = key
        return keys
    if not isinstance(document, dict):
        raise Unauthenticated("The issuer's keys are not in a format this function reads.")
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


def _jwk_key(jwk: dict[str, Any]) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def number(name: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(str(jwk[name]) + "=" * (-len(str(jwk[name])) % 4)), "big")

    try:
        if jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            return ec.EllipticCurvePublicNumbers(number("x"), number("y"), ec.SECP256R1()).public_key()
    except (KeyError, ValueError):
        return None
    return None


def _signature_ok(key: Any, algorithm: str, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        if algorithm == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if algorithm == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
