"""RSA keys the emulator needs, generated once per process and cached (a demo reset must stay cheap).

Two keys: the demo service account's key (its private half goes into the key JSON handed to clients, its public
half into the state) and the emulator's own ID-token signing key, published at `/oauth2/v1/certs` (X.509 PEM by
key id) and `/oauth2/v3/certs` (JWK set), as Google publishes its own.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_lock = threading.Lock()


@dataclass(frozen=True)
class KeyPair:
    key_id: str  # 40 hex digits, like a Google `private_key_id` / certs `kid`
    private_key: rsa.RSAPrivateKey
    private_pem: str  # PKCS#8, as in a service account key JSON
    public_pem: str  # SubjectPublicKeyInfo


def _new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(hashlib.sha1(public_der).hexdigest(), key, private_pem, public_pem)  # noqa: S324 - an id, not a MAC


_cache: dict[str, KeyPair] = {}


def cached_key(name: str) -> KeyPair:
    """The process-wide key called `name`, generated on first use (about 50 ms), then reused."""
    with _lock:
        pair = _cache.get(name)
        if pair is None:
            pair = _cache[name] = _new_key_pair()
        return pair


def service_account_key() -> KeyPair:
    return cached_key("demo-service-account")


def system_managed_key(email: str) -> KeyPair:
    """The Google-managed key of a service account: IAM Credentials signs with it, its private half never leaves
    the emulator (as a Google-managed key never leaves Google)."""
    return cached_key(f"system-managed:{email.lower()}")


def id_token_key() -> KeyPair:
    return cached_key("id-token-signing")


@functools.lru_cache(maxsize=4)
def _certificate_pem(key_id: str) -> str:
    pair = id_token_key()
    assert pair.key_id == key_id
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulator.local.googleapis.com")])
    # Valid over any date a test may pin the clock to; verifiers check the signature, not these dates.
    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pair.private_key.public_key())
        .serial_number(int(key_id[:16], 16))
        .not_valid_before(start)
        .not_valid_after(datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC))
        .sign(pair.private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def id_token_certificates() -> dict[str, str]:
    """`{kid: X.509 PEM}`, the format of https://www.googleapis.com/oauth2/v1/certs."""
    pair = id_token_key()
    return {pair.key_id: _certificate_pem(pair.key_id)}


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def id_token_jwks() -> dict[str, Any]:
    """The JWK set, the format of https://www.googleapis.com/oauth2/v3/certs."""
    pair = id_token_key()
    numbers = pair.private_key.public_key().public_numbers()
    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": pair.key_id,
                "n": _b64url_uint(numbers.n),
                "e": _b64url_uint(numbers.e),
            }
        ]
    }


@functools.lru_cache(maxsize=64)
def load_public_key(pem: str) -> Any:
    """A parsed public key (cached: parsing is the slow part of verifying a JWT)."""
    return serialization.load_pem_public_key(pem.encode())
