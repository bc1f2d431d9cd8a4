"""Google's OAuth 2.0 token endpoint and the ID-token signing certificates.

`POST /token` follows "Using OAuth 2.0 for Server to Server Applications" (JWT-bearer grant, with domain-wide
delegation through `sub`) and RFC 6749 section 6 (refresh-token grant); its errors are Google's
(`{"error", "error_description"}`). `GET /oauth2/v1/certs` and `/oauth2/v3/certs` publish the key that signs
the emulator's ID tokens, in the two formats Google publishes its own.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import jwt

from .clock import CLOCK
from .errors import OAuthError, json_response
from .keys import id_token_certificates, id_token_jwks, id_token_key, load_public_key
from .routing import Ctx, RouteTable
from .state import AccessToken, State, now

routes = RouteTable()

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - the grant type's name, not a secret
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
# Audiences Google has accepted for the token endpoint over the years (google-auth sends the first).
_GOOGLE_AUDIENCES = {
    GOOGLE_TOKEN_URI,
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
}
MAX_ASSERTION_LIFETIME = 3600  # "The maximum value is 1 hour after the issued time."
CLOCK_SKEW = 60
_PRUNE_AT = 20_000  # drop expired access tokens once this many are stored

_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)
_UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the "
    "scopes requested."
)
_NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


# --- token endpoint ---------------------------------------------------------------------------------------
@routes.route("/token", "POST", "oauth2.token")
@routes.route("/oauth2/v4/token", "POST", "oauth2.token")
def token(ctx: Ctx) -> Any:
    params = _form(ctx)
    grant_type = params.get("grant_type", "")
    ctx.log["grant_type"] = grant_type
    if grant_type == JWT_BEARER:
        body = _jwt_bearer(ctx, params)
    elif grant_type == REFRESH_TOKEN:
        body = _refresh(ctx, params)
    else:
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    return json_response(body, 200, _NO_STORE)


def _form(ctx: Ctx) -> dict[str, str]:
    if ctx.request.mimetype == "application/json":
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise OAuthError(400, "invalid_request", "Request body must be a JSON object.")
        return {str(k): str(v) for k, v in body.items()}
    return {key: ctx.request.form.get(key, "") for key in ctx.request.form}


def _require(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")
    return value


def _jwt_bearer(ctx: Ctx, params: dict[str, str]) -> dict[str, Any]:
    assertion = _require(params, "assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError(400, "invalid_grant", "Invalid JWT: the assertion is not a well-formed JWT.") from None
    issuer = str(claims.get("iss", ""))
    subject = claims.get("sub")
    scopes = str(claims.get("scope", "")).split()
    ctx.log.update({"iss": issuer, "sub": subject, "scopes": scopes})

    state = ctx.state
    with state.lock:
        account = state.service_accounts.get(issuer)
        keys = dict(account.public_keys) if account else {}
    if account is None:
        raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
    _verify_signature(assertion, header, keys)
    _check_claims(ctx, claims)

    if claims.get("target_audience") and not scopes:
        # google-auth's IDTokenCredentials: a Google-signed ID token for the service account itself.
        ctx.log["target_audience"] = claims["target_audience"]
        id_token = mint_id_token(_issuer(ctx), account.email, str(claims["target_audience"]))
        return {"id_token": id_token}
    if not scopes:
        raise OAuthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")

    if subject is not None and not isinstance(subject, str):
        raise OAuthError(400, "invalid_grant", "Invalid email or User ID")
    if subject and subject.lower() != account.email.lower():
        with state.lock:
            user = state.users.get(subject) or next(
                (u for email, u in state.users.items() if email.lower() == subject.lower()), None
            )
            granted = set(state.dwd_grants.get(account.client_id, []))
        if user is None:
            raise OAuthError(400, "invalid_grant", "Invalid email or User ID")
        if not set(scopes) <= granted:
            ctx.log["ungranted_scopes"] = sorted(set(scopes) - granted)
            raise OAuthError(401, "unauthorized_client", _UNAUTHORIZED_CLIENT)
        access = _issue(ctx, user.email, "user", scopes, account.client_id, via_dwd=True)
    else:
        access = _issue(ctx, account.email, "service_account", scopes, account.client_id)
    return _token_body(access)


def _verify_signature(assertion: str, header: dict[str, Any], keys: dict[str, str]) -> None:
    if header.get("alg") != "RS256":
        raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
    candidates = [keys[kid]] if kid in keys else ([] if kid else list(keys.values()))
    for pem in candidates:
        try:
            jwt.decode(
                assertion,
                load_public_key(pem),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
            return
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            break
    raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")


def _check_claims(ctx: Ctx, claims: dict[str, Any]) -> None:
    audience = claims.get("aud")
    own = {f"{ctx.base_url}/token", f"{ctx.base_url}/oauth2/v4/token"}
    if not isinstance(audience, str) or audience not in _GOOGLE_AUDIENCES | own:
        raise OAuthError(
            400,
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The expected value was {GOOGLE_TOKEN_URI} but the actual "
            f"value was {audience}",
        )
    try:
        issued, expires = int(claims["iat"]), int(claims["exp"])
    except (KeyError, TypeError, ValueError):
        raise OAuthError(400, "invalid_grant", _SHORT_LIVED) from None
    moment = CLOCK.host_now()  # the client stamped it with the machine's clock (see emulator.clock)
    if expires - issued > MAX_ASSERTION_LIFETIME or expires <= issued:
        raise OAuthError(400, "invalid_grant", _SHORT_LIVED)
    if issued > moment + CLOCK_SKEW or expires < moment - CLOCK_SKEW:
        raise OAuthError(400, "invalid_grant", _SHORT_LIVED)


def _refresh(ctx: Ctx, params: dict[str, str]) -> dict[str, Any]:
    client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
    if ctx.request.authorization and ctx.request.authorization.type == "basic":
        client_id = client_id or ctx.request.authorization.username or ""
        client_secret = client_secret or ctx.request.authorization.password or ""
    ctx.log["client_id"] = client_id
    state = ctx.state
    with state.lock:
        client = state.oauth_clients.get(client_id)
    if client is None:
        raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
    if not secrets.compare_digest(client.client_secret, client_secret):
        raise OAuthError(401, "invalid_client", "Unauthorized")
    refresh_token = _require(params, "refresh_token")
    with state.lock:
        grant = state.refresh_tokens.get(refresh_token)
        user_known = grant is not None and grant.subject in state.users
    if grant is None or grant.client_id != client_id or not user_known:
        raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
    requested = params.get("scope", "").split()
    ctx.log.update({"sub": grant.subject, "scopes": requested or list(grant.scopes)})
    if requested and not set(requested) <= set(grant.scopes):
        missing = sorted(set(requested) - set(grant.scopes))
        raise OAuthError(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={missing}}}")
    scopes = requested or list(grant.scopes)
    access = _issue(ctx, grant.subject, "user", scopes, client_id)
    return {**_token_body(access), "scope": " ".join(scopes)}


def _issue(
    ctx: Ctx, principal: str, kind: str, scopes: list[str], client_id: str, *, via_dwd: bool = False
) -> AccessToken:
    state = ctx.state
    access = AccessToken(
        token="ya29." + secrets.token_urlsafe(48),
        principal=principal,
        kind=kind,
        scopes=list(scopes),
        expires_at=now() + state.settings.token_ttl_seconds,
        client_id=client_id,
        via_dwd=via_dwd,
    )
    with state.lock:
        if len(state.access_tokens) >= _PRUNE_AT:
            _prune(state)
        state.access_tokens[access.token] = access
    ctx.log.update({"principal": principal, "token_kind": kind})
    return access


def _prune(state: State) -> None:
    moment = now()
    for key in [key for key, value in state.access_tokens.items() if value.expires_at <= moment]:
        del state.access_tokens[key]


def _token_body(access: AccessToken) -> dict[str, Any]:
    return {
        "access_token": access.token,
        "expires_in": max(0, round(access.expires_at - now())),
        "token_type": "Bearer",
    }


# --- ID tokens ------------------------------------------------------------------------------------------
def _issuer(ctx: Ctx) -> str:
    return ctx.state.settings.issuer or ctx.base_url


def subject_id(email: str) -> str:
    """A stable, numeric-looking account id for `email` (Google's `sub` is a 21-digit number)."""
    digest = int(hashlib.sha256(email.lower().encode()).hexdigest(), 16)
    return str(10**20 + digest % (9 * 10**20))


def mint_id_token(issuer: str, email: str, audience: str, lifetime: int = 3600) -> str:
    """An RS256 ID token for `email`, signed by the key published at `/oauth2/v1/certs` and `/oauth2/v3/certs`.

    A `lifetime` of zero or less mints a token that expired `-lifetime` seconds ago (for expiry tests).
    """
    pair = id_token_key()
    moment = int(CLOCK.now())
    expires = moment + lifetime
    issued = moment if lifetime > 0 else expires - 3600
    account = subject_id(email)
    claims = {
        "iss": issuer,
        "aud": audience,
        "azp": account,
        "sub": account,
        "email": email,
        "email_verified": True,
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, pair.private_key, algorithm="RS256", headers={"kid": pair.key_id})


_CERTS_CACHE = {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"}


@routes.route("/oauth2/v1/certs", "GET", "oauth2.certs")
def certs_v1(ctx: Ctx) -> Any:
    return json_response(id_token_certificates(), 200, _CERTS_CACHE)


@routes.route("/oauth2/v3/certs", "GET", "oauth2.jwks")
def certs_v3(ctx: Ctx) -> Any:
    return json_response(id_token_jwks(), 200, _CERTS_CACHE)


@routes.route("/.well-known/openid-configuration", "GET", "oauth2.openidConfiguration")
def openid_configuration(ctx: Ctx) -> Any:
    return {
        "issuer": _issuer(ctx),
        "token_endpoint": f"{ctx.base_url}/token",
        "jwks_uri": f"{ctx.base_url}/oauth2/v3/certs",
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"],
    }
