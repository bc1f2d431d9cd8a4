"""The metadata server of a Cloud Run instance and the IAM Credentials API: what keyless delegation runs on.

Metadata server (https://cloud.google.com/compute/docs/metadata/querying-metadata, and for Cloud Run
https://cloud.google.com/run/docs/container-contract#metadata-server): `GET /computeMetadata/v1/...`, every
request must carry `Metadata-Flavor: Google` and no `X-Forwarded-For`, or it is refused with 403; every answer
carries `Metadata-Flavor: Google`. It answers as one runtime identity, `state.metadata_identity`.

IAM Credentials v1 (https://cloud.google.com/iam/docs/reference/credentials/rest): `signBlob`, `signJwt` and
`generateIdToken` on `projects/-/serviceAccounts/{email}`. The caller (its access token) must hold
`roles/iam.serviceAccountTokenCreator` on the target account (`state.token_creators`), else 403
`PERMISSION_DENIED` "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist)." with an
`ErrorInfo` detail, as Google answers; an unknown target gets the same answer (Google does not say which).
Signatures are made with the account's Google-managed key, whose public half the token endpoint trusts.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from werkzeug.wrappers import Response

from .errors import GoogleError, json_response
from .keys import KeyPair, system_managed_key
from .routing import Ctx, RouteTable
from .state import AccessToken, ServiceAccount, State, now

routes = RouteTable()

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"  # noqa: S105 - a role name
_FLAVOR = {"Metadata-Flavor": "Google"}
_MD = "/computeMetadata/v1"


# --- metadata server ------------------------------------------------------------------------------------------
def _refusal(ctx: Ctx) -> Response | None:
    """What the metadata server answers a request without the header (or one that came through a proxy)."""
    if ctx.request.headers.get("Metadata-Flavor") == "Google" and "X-Forwarded-For" not in ctx.request.headers:
        return None
    text = (
        f"Your client does not have permission to get URL {ctx.request.path} from this server. "
        "Missing Metadata-Flavor:Google header."
    )
    ctx.log["refused"] = "Metadata-Flavor"
    return Response(text, status=403, headers=_FLAVOR, content_type="text/html; charset=UTF-8")


def _metadata(ctx: Ctx, body: Any, status: int = 200) -> Response:
    refused = _refusal(ctx)
    if refused is not None:
        return refused
    if isinstance(body, str):
        return Response(body, status=status, headers=_FLAVOR, content_type="application/text")
    return json_response(body, status, dict(_FLAVOR))


def _runtime_account(ctx: Ctx, account: str) -> ServiceAccount | None:
    state = ctx.state
    with state.lock:
        email = state.metadata_identity
        found = state.service_accounts.get(email) if email else None
    if found is None or account not in ("default", found.email):
        return None
    return found


def _not_found(ctx: Ctx) -> Response:
    return _metadata(ctx, "Not Found", 404)


@routes.route("/", "GET", "metadata.ping")
def ping(ctx: Ctx) -> Any:
    """google-auth's `is_on_gce` pings the root (GCE_METADATA_IP) and looks for the Metadata-Flavor answer."""
    return _metadata(ctx, "computeMetadata/\n")


@routes.route(f"{_MD}/project/project-id", "GET", "metadata.project.projectId")
def project_id(ctx: Ctx) -> Any:
    account = _runtime_account(ctx, "default")
    return _metadata(ctx, account.project_id) if account else _not_found(ctx)


@routes.route(f"{_MD}/universe/universe-domain", "GET", "metadata.universe.universeDomain")
def universe_domain(ctx: Ctx) -> Any:
    return _metadata(ctx, "googleapis.com")


@routes.route(f"{_MD}/instance/service-accounts/<account>/", "GET", "metadata.serviceAccounts.get")
def service_account(ctx: Ctx, account: str) -> Any:
    found = _runtime_account(ctx, account)
    if found is None:
        return _not_found(ctx)
    if ctx.request.args.get("recursive") == "true":
        return _metadata(ctx, {"aliases": ["default"], "email": found.email, "scopes": [CLOUD_PLATFORM]})
    return _metadata(ctx, "aliases\nemail\nidentity\nscopes\ntoken\n")


@routes.route(f"{_MD}/instance/service-accounts/<account>/email", "GET", "metadata.serviceAccounts.email")
def service_account_email(ctx: Ctx, account: str) -> Any:
    found = _runtime_account(ctx, account)
    return _metadata(ctx, found.email) if found else _not_found(ctx)


@routes.route(f"{_MD}/instance/service-accounts/<account>/token", "GET", "metadata.serviceAccounts.token")
def service_account_token(ctx: Ctx, account: str) -> Any:
    found = _runtime_account(ctx, account)
    if found is None:
        return _not_found(ctx)
    refused = _refusal(ctx)
    if refused is not None:
        return refused
    scopes = [s for s in ctx.request.args.get("scopes", "").split(",") if s] or [CLOUD_PLATFORM]
    access = _issue(ctx.state, found, scopes)
    ctx.log.update({"principal": found.email, "scopes": scopes})
    return _metadata(ctx, {"access_token": access.token, "expires_in": int(access.expires_at - now()),
                           "token_type": "Bearer"})


@routes.route(f"{_MD}/instance/service-accounts/<account>/identity", "GET", "metadata.serviceAccounts.identity")
def service_account_identity(ctx: Ctx, account: str) -> Any:
    found = _runtime_account(ctx, account)
    if found is None:
        return _not_found(ctx)
    audience = ctx.request.args.get("audience", "")
    if not audience:
        return _metadata(ctx, "non-empty audience parameter required", 400)
    from .oauth import mint_id_token

    return _metadata(ctx, mint_id_token(ctx.state.settings.issuer or ctx.base_url, found.email, audience))


def _issue(state: State, account: ServiceAccount, scopes: list[str]) -> AccessToken:
    access = AccessToken(
        token="ya29.m." + secrets.token_urlsafe(40),
        principal=account.email,
        kind="service_account",
        scopes=list(scopes),
        expires_at=now() + state.settings.token_ttl_seconds,
        client_id=account.client_id,
    )
    with state.lock:
        state.access_tokens[access.token] = access
    return access


# --- IAM Credentials ----------------------------------------------------------------------------------------------
class IamError(GoogleError):
    """An IAM Credentials error: `{"error": {"code", "message", "status", "details"?}}` (gRPC transcoded)."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(code, status, message)
        self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def _denied(permission: str, target: str) -> IamError:
    return IamError(
        403,
        "PERMISSION_DENIED",
        f"Permission '{permission}' denied on resource (or it may not exist).",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": permission},
            }
        ],
    )


def _authorized_signer(ctx: Ctx, target: str, permission: str) -> tuple[ServiceAccount, KeyPair]:
    """The target account and its Google-managed key, if the caller holds Token Creator on it; else Google's error."""
    token = ctx.bearer_token()
    if token is None or token.expires_at <= now():
        raise IamError(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
            "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
    ctx.log.update({"principal": token.principal, "target": target})
    if not {CLOUD_PLATFORM, IAM_SCOPE} & set(token.scopes):
        raise IamError(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
    member = ("serviceAccount:" if token.kind == "service_account" else "user:") + token.principal
    state = ctx.state
    with state.lock:
        account = state.service_accounts.get(target) or next(
            (sa for sa in state.service_accounts.values() if sa.client_id == target), None
        )
        allowed = account is not None and member in state.token_creators.get(account.email, [])
    if account is None or not allowed:
        ctx.log["denied"] = permission
        raise _denied(permission, target)
    pair = system_managed_key(account.email)
    with state.lock:
        account.public_keys.setdefault(pair.key_id, pair.public_pem)  # Google publishes its managed keys too
    return account, pair


def _body(ctx: Ctx) -> dict[str, Any]:
    try:
        body = ctx.json_body()
    except GoogleError:
        raise IamError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise IamError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
    return body


_SA = "/v1/projects/<project>/serviceAccounts/<account>"


@routes.route(f"{_SA}:signBlob", "POST", "iamcredentials.serviceAccounts.signBlob")
def sign_blob(ctx: Ctx, project: str, account: str) -> Any:
    _, pair = _authorized_signer(ctx, account, "iam.serviceAccounts.signBlob")
    raw = _body(ctx).get("payload")
    try:
        payload = base64.b64decode(str(raw), validate=True) if raw else b""
    except ValueError:
        raise IamError(400, "INVALID_ARGUMENT", "Invalid value at 'payload' (TYPE_BYTES)") from None
    if not payload:
        raise IamError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    signature = pair.private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return {"keyId": pair.key_id, "signedBlob": base64.b64encode(signature).decode()}


@routes.route(f"{_SA}:signJwt", "POST", "iamcredentials.serviceAccounts.signJwt")
def sign_jwt(ctx: Ctx, project: str, account: str) -> Any:
    _, pair = _authorized_signer(ctx, account, "iam.serviceAccounts.signJwt")
    raw = _body(ctx).get("payload")
    try:
        claims = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise IamError(400, "INVALID_ARGUMENT", "The payload must be a JSON object of JWT claims.")
    if "exp" in claims and int(claims["exp"]) > now() + 12 * 3600:
        raise IamError(400, "INVALID_ARGUMENT", "The exp claim must be at most 12 hours in the future.")
    signed = jwt.encode(claims, pair.private_key, algorithm="RS256", headers={"kid": pair.key_id})
    ctx.log["iss"] = claims.get("iss")
    return {"keyId": pair.key_id, "signedJwt": signed}


@routes.route(f"{_SA}:generateIdToken", "POST", "iamcredentials.serviceAccounts.generateIdToken")
def generate_id_token(ctx: Ctx, project: str, account: str) -> Any:
    found, _ = _authorized_signer(ctx, account, "iam.serviceAccounts.getOpenIdToken")
    audience = _body(ctx).get("audience")
    if not isinstance(audience, str) or not audience:
        raise IamError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    from .oauth import mint_id_token

    return {"token": mint_id_token(ctx.state.settings.issuer or ctx.base_url, found.email, audience)}
