"""Secret Manager REST v1, as `SecretManagerServiceClient(transport="rest")` calls it.

Errors are gRPC-transcoded (`{"error": {"code", "message", "status"}}`). `versions/latest` is "an alias to the
most recently created SecretVersion" (Google's reference for `versions.access`), whatever its state: when the
newest version is disabled or destroyed, accessing `latest` fails with FAILED_PRECONDITION, as it does on Google.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

import google_crc32c

from .errors import GoogleError, RpcError
from .routing import Ctx, RouteTable
from .state import Secret, SecretVersion, rfc3339

routes = RouteTable()

_STATE_NUMBERS = {"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_PAYLOAD = 65536

_BASE = "/v1/projects/<project>/secrets"


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


# --- helpers ----------------------------------------------------------------------------------------------
def _secret_name(project: str, secret: str) -> str:
    return f"projects/{project}/secrets/{secret}"


def _find_secret(ctx: Ctx, project: str, secret: str) -> Secret:
    name = _secret_name(project, secret)
    found = ctx.state.secrets.get(name)
    if found is None:
        raise RpcError(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
    return found


def _find_version(ctx: Ctx, project: str, secret: str, version: str) -> tuple[Secret, SecretVersion]:
    found = _find_secret(ctx, project, secret)
    if version == "latest":
        if not found.versions:
            raise RpcError(404, "NOT_FOUND", f"Secret [{found.name}] not found or has no versions.")
        return found, max(found.versions, key=lambda v: v.number)
    if not version.isdigit() or version.startswith("0"):
        raise RpcError(
            400,
            "INVALID_ARGUMENT",
            f'Invalid resource field value in the request. Version [{version}] must be a positive integer or "latest".',
        )
    number = int(version)
    for candidate in found.versions:
        if candidate.number == number:
            return found, candidate
    raise RpcError(404, "NOT_FOUND", f"Secret Version [{found.name}/versions/{number}] not found.")


def _enum(ctx: Ctx, value: str) -> Any:
    """Enums as the client asked for them: `$alt=json;enum-encoding=int` (what the REST client sends) gets numbers."""
    if "enum-encoding=int" in ctx.request.args.get("$alt", ""):
        return _STATE_NUMBERS.get(value, 0)
    return value


def _etag(secret: Secret, version: SecretVersion | None = None) -> str:
    seed = f"{secret.name}/{version.number}/{version.state}" if version else f"{secret.name}/{len(secret.versions)}"
    return '"' + hashlib.sha1(seed.encode()).hexdigest()[:14] + '"'  # noqa: S324 - an etag, not a MAC


def _version_json(ctx: Ctx, secret: Secret, version: SecretVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"{secret.name}/versions/{version.number}",
        "createTime": version.create_time,
        "state": _enum(ctx, version.state),
        "replicationStatus": {"automatic": {}},
        "etag": _etag(secret, version),
    }
    return body


def _secret_json(secret: Secret) -> dict[str, Any]:
    created = min((v.create_time for v in secret.versions if v.create_time), default="") or rfc3339()
    return {
        "name": secret.name,
        "replication": {"automatic": {}},
        "createTime": created,
        "etag": _etag(secret),
    }


def _object_body(ctx: Ctx) -> dict[str, Any]:
    try:
        body = ctx.json_body()
    except GoogleError:
        raise RpcError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise RpcError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
    return body


def _decode_data(raw: Any) -> bytes:
    if not isinstance(raw, str):
        raise RpcError(400, "INVALID_ARGUMENT", "Invalid value at 'payload.data' (TYPE_BYTES)")
    text = raw.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        message = "Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed"
        raise RpcError(400, "INVALID_ARGUMENT", message) from None


# --- secrets ----------------------------------------------------------------------------------------------
@routes.route(_BASE, "POST", "secretmanager.secrets.create")
def create_secret(ctx: Ctx, project: str) -> Any:
    secret_id = ctx.request.args.get("secretId", "")
    body = _object_body(ctx)
    if not _SECRET_ID.match(secret_id):
        raise RpcError(
            400,
            "INVALID_ARGUMENT",
            "The secret ID must be 1-255 characters of letters, digits, underscores and hyphens "
            "(the secretId query parameter).",
        )
    if not isinstance(body.get("replication"), dict):
        raise RpcError(400, "INVALID_ARGUMENT", "Secret.replication is required.")
    name = _secret_name(project, secret_id)
    with ctx.state.lock:
        if name in ctx.state.secrets:
            raise RpcError(409, "ALREADY_EXISTS", f"Secret [{name}] already exists.")
        secret = ctx.state.secrets[name] = Secret(name=name)
        return _secret_json(secret)


@routes.route(_BASE, "GET", "secretmanager.secrets.list")
def list_secrets(ctx: Ctx, project: str) -> Any:
    prefix = f"projects/{project}/secrets/"
    with ctx.state.lock:
        found = [_secret_json(s) for name, s in sorted(ctx.state.secrets.items()) if name.startswith(prefix)]
    return {"secrets": found, "totalSize": len(found)} if found else {}


@routes.route(f"{_BASE}/<secret>", "GET", "secretmanager.secrets.get")
def get_secret(ctx: Ctx, project: str, secret: str) -> Any:
    with ctx.state.lock:
        return _secret_json(_find_secret(ctx, project, secret))


@routes.route(f"{_BASE}/<secret>", "DELETE", "secretmanager.secrets.delete")
def delete_secret(ctx: Ctx, project: str, secret: str) -> Any:
    with ctx.state.lock:
        found = _find_secret(ctx, project, secret)
        del ctx.state.secrets[found.name]
    return {}


@routes.route(f"{_BASE}/<secret>:addVersion", "POST", "secretmanager.secrets.addVersion")
def add_version(ctx: Ctx, project: str, secret: str) -> Any:
    body = _object_body(ctx)
    payload = body.get("payload")
    if not isinstance(payload, dict) or "data" not in payload:
        raise RpcError(400, "INVALID_ARGUMENT", "Secret Payload is required.")
    data = _decode_data(payload["data"])
    if len(data) > MAX_PAYLOAD:
        raise RpcError(400, "INVALID_ARGUMENT", f"Secret Payload cannot be larger than {MAX_PAYLOAD} bytes.")
    if payload.get("dataCrc32c") is not None:
        try:
            claimed = int(payload["dataCrc32c"])
        except (TypeError, ValueError):
            raise RpcError(400, "INVALID_ARGUMENT", "Invalid value at 'payload.data_crc32c' (TYPE_INT64)") from None
        if claimed != crc32c(data):
            raise RpcError(
                400,
                "INVALID_ARGUMENT",
                "Checksum mismatch: the payload's data_crc32c does not match the CRC32C of the data received.",
            )
    ctx.log["secret"] = _secret_name(project, secret)
    with ctx.state.lock:
        found = _find_secret(ctx, project, secret)
        number = max((v.number for v in found.versions), default=0) + 1
        version = SecretVersion(
            number=number, data_b64=base64.b64encode(data).decode(), state="ENABLED", create_time=rfc3339()
        )
        found.versions.append(version)
        return _version_json(ctx, found, version)


# --- versions ---------------------------------------------------------------------------------------------
@routes.route(f"{_BASE}/<secret>/versions", "GET", "secretmanager.versions.list")
def list_versions(ctx: Ctx, project: str, secret: str) -> Any:
    with ctx.state.lock:
        found = _find_secret(ctx, project, secret)
        versions = [_version_json(ctx, found, v) for v in sorted(found.versions, key=lambda v: -v.number)]
    return {"versions": versions, "totalSize": len(versions)} if versions else {}


@routes.route(f"{_BASE}/<secret>/versions/<version>", "GET", "secretmanager.versions.get")
def get_version(ctx: Ctx, project: str, secret: str, version: str) -> Any:
    with ctx.state.lock:
        found, resolved = _find_version(ctx, project, secret, version)
        return _version_json(ctx, found, resolved)


@routes.route(f"{_BASE}/<secret>/versions/<version>:access", "GET", "secretmanager.versions.access")
def access_version(ctx: Ctx, project: str, secret: str, version: str) -> Any:
    with ctx.state.lock:
        found, resolved = _find_version(ctx, project, secret, version)
        name = f"{found.name}/versions/{resolved.number}"
        ctx.log["version"] = name
        if resolved.state != "ENABLED":
            raise RpcError(400, "FAILED_PRECONDITION", f"Secret Version [{name}] is in {resolved.state} state.")
        data = resolved.data
    return {
        "name": name,
        "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))},
    }


def _transition(ctx: Ctx, project: str, secret: str, version: str, target: str) -> Any:
    _object_body(ctx)  # the body carries only an optional etag; it must still be JSON
    with ctx.state.lock:
        found, resolved = _find_version(ctx, project, secret, version)
        name = f"{found.name}/versions/{resolved.number}"
        if resolved.state == "DESTROYED" and target != "DESTROYED":
            raise RpcError(400, "FAILED_PRECONDITION", f"Secret Version [{name}] is in DESTROYED state.")
        resolved.state = target
        if target == "DESTROYED":
            resolved.data_b64 = ""
        return _version_json(ctx, found, resolved)


@routes.route(f"{_BASE}/<secret>/versions/<version>:disable", "POST", "secretmanager.versions.disable")
def disable_version(ctx: Ctx, project: str, secret: str, version: str) -> Any:
    return _transition(ctx, project, secret, version, "DISABLED")


@routes.route(f"{_BASE}/<secret>/versions/<version>:enable", "POST", "secretmanager.versions.enable")
def enable_version(ctx: Ctx, project: str, secret: str, version: str) -> Any:
    return _transition(ctx, project, secret, version, "ENABLED")


@routes.route(f"{_BASE}/<secret>/versions/<version>:destroy", "POST", "secretmanager.versions.destroy")
def destroy_version(ctx: Ctx, project: str, secret: str, version: str) -> Any:
    return _transition(ctx, project, secret, version, "DESTROYED")
