"""Identity-Aware Proxy's signed headers: the keys IAP publishes and a control route minting its assertions.

IAP signs `x-goog-iap-jwt-assertion` with ES256 (P-256) and publishes the public keys at
`https://www.gstatic.com/iap/verify/public_key-jwk` (JWK set) and `.../public_key` (`{kid: PEM}`). The claims
of an assertion: `iss` = `https://cloud.google.com/iap`, `aud` = `/projects/NUMBER/global/backendServices/ID`
(behind a load balancer) or `/projects/NUMBER/locations/REGION/services/NAME` (Cloud Run), `sub` and `email`
of the signed-in user, `hd` for Workspace users, `iat`, `exp` (10 minutes). IAP's assertions carry no
`email_verified`. The emulator serves the same paths under its own URL; tests set `iap_keys_url` to it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import GoogleError, json_response
from .routing import Ctx, RouteTable
from .state import now

routes = RouteTable()

IAP_ISSUER = "https://cloud.google.com/iap"
ASSERTION_LIFETIME = 600
_lock = threading.Lock()
_key: tuple[str, ec.EllipticCurvePrivateKey] | None = None


def iap_key() -> tuple[str, ec.EllipticCurvePrivateKey]:
    """(key id, private key) of the emulated IAP signing key, generated once per process."""
    global _key
    with _lock:
        if _key is None:
            private = ec.generate_private_key(ec.SECP256R1())
            der = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _key = (hashlib.sha256(der).hexdigest()[:8], private)
        return _key


def mint_iap_assertion(email: str, audience: str, *, lifetime: int = ASSERTION_LIFETIME,
                       claims: dict[str, Any] | None = None) -> str:
    key_id, private = iap_key()
    moment = int(now())
    body: dict[str, Any] = {
        "iss": IAP_ISSUER,
        "aud": audience,
        "sub": "accounts.google.com:" + hashlib.sha256(email.lower().encode()).hexdigest()[:21],
        "email": email,
        "iat": moment if lifetime > 0 else moment + lifetime - ASSERTION_LIFETIME,
        "exp": moment + lifetime,
    }
    if "@" in email:
        body["hd"] = email.rpartition("@")[2]
    body.update(claims or {})
    return jwt.encode(body, private, algorithm="ES256", headers={"kid": key_id})


def _b64url_uint(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


_CACHE = {"Cache-Control": "public, max-age=3600"}


@routes.route("/iap/verify/public_key-jwk", "GET", "iap.publicKeyJwk")
def public_key_jwk(ctx: Ctx) -> Any:
    key_id, private = iap_key()
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "EC", "alg": "ES256", "use": "sig", "kid": key_id, "crv": "P-256",
           "x": _b64url_uint(numbers.x), "y": _b64url_uint(numbers.y)}
    return json_response({"keys": [jwk]}, 200, _CACHE)


@routes.route("/iap/verify/public_key", "GET", "iap.publicKey")
def public_key_pem(ctx: Ctx) -> Any:
    key_id, private = iap_key()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return json_response({key_id: pem}, 200, _CACHE)


@routes.route("/_emulator/iap-assertion", "POST", "control.iapAssertion", control=True)
def iap_assertion(ctx: Ctx) -> Any:
    """`{"email", "audience", "lifetime"?}` -> `{"assertion"}`: what IAP would put in x-goog-iap-jwt-assertion."""
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise GoogleError(400, "parseError", "The request body must be a JSON object.")
    email, audience, lifetime = body.get("email"), body.get("audience"), body.get("lifetime", ASSERTION_LIFETIME)
    if not isinstance(email, str) or "@" not in email:
        raise GoogleError(400, "required", "'email' is required: the signed-in user.", location="email")
    if not isinstance(audience, str) or not audience:
        raise GoogleError(400, "required", "'audience' is required: /projects/N/global/backendServices/ID.",
                          location="audience")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime > 3600:
        raise GoogleError(400, "invalid", "'lifetime' must be an integer of seconds, at most 3600.",
                          location="lifetime")
    return {"assertion": mint_iap_assertion(email, audience, lifetime=lifetime)}
