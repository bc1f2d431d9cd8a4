"""Cloudflare Turnstile's server-side check, `POST /turnstile/v0/siteverify`, and a control route minting tokens.

As Cloudflare documents it: the form (or JSON) fields `secret`, `response`, optional `remoteip`; the answer
`{"success", "error-codes": [...], "challenge_ts", "hostname", "action", "cdata"}`. A token is valid for 300 s
and can be verified once (`timeout-or-duplicate` after). The documented dummy secrets behave as documented:
`1x0000000000000000000000000000000AA` always passes, `2x0000000000000000000000000000000AA` always fails,
`3x0000000000000000000000000000000AA` answers `timeout-or-duplicate`. Any other secret accepts only tokens
minted for it through `POST /_emulator/turnstile-token {"secret", "hostname"?, "action"?}` (the harsher reading:
a token from one site's widget does not verify with another site's secret).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import now, rfc3339

routes = RouteTable()

TOKEN_LIFETIME = 300
DUMMY_PASS, DUMMY_FAIL, DUMMY_SPENT = (f"{n}x0000000000000000000000000000000AA" for n in (1, 2, 3))


@dataclass
class _Token:
    secret: str
    issued: float
    hostname: str
    action: str
    used: bool = False


_lock = threading.Lock()
_tokens: dict[str, _Token] = {}


def mint_token(secret: str, *, hostname: str = "localhost", action: str = "") -> str:
    token = "0." + secrets.token_urlsafe(96)
    with _lock:
        _tokens[token] = _Token(secret, now(), hostname, action)
    return token


def _answer(success: bool, *codes: str, token: _Token | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": success, "error-codes": list(codes)}
    if token is not None:
        body.update({"challenge_ts": rfc3339(token.issued), "hostname": token.hostname, "action": token.action,
                     "cdata": ""})
    return body


@routes.route("/turnstile/v0/siteverify", "POST", "turnstile.siteverify")
def siteverify(ctx: Ctx) -> Any:
    if ctx.request.mimetype == "application/json":
        raw = ctx.json_body()
        params = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    else:
        params = {key: ctx.request.form.get(key, "") for key in ctx.request.form}
    secret, response = params.get("secret", ""), params.get("response", "")
    if not secret:
        return _answer(False, "missing-input-secret")
    if not response:
        return _answer(False, "missing-input-response")
    if secret == DUMMY_PASS:
        return _answer(True)
    if secret == DUMMY_FAIL:
        return _answer(False, "invalid-input-response")
    if secret == DUMMY_SPENT:
        return _answer(False, "timeout-or-duplicate")
    if len(response) > 2048:
        return _answer(False, "invalid-input-response")
    with _lock:
        token = _tokens.get(response)
        if token is None or token.secret != secret:
            return _answer(False, "invalid-input-response")
        if token.used or now() - token.issued > TOKEN_LIFETIME:
            return _answer(False, "timeout-or-duplicate")
        token.used = True
    return _answer(True, token=token)


@routes.route("/_emulator/turnstile-token", "POST", "control.turnstileToken", control=True)
def turnstile_token(ctx: Ctx) -> Any:
    """`{"secret", "hostname"?, "action"?}` -> `{"token"}`: what the Turnstile widget hands the visitor's page."""
    body = ctx.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("secret"), str) or not body["secret"]:
        raise GoogleError(400, "required", "'secret' is required: the site's secret key.", location="secret")
    return {"token": mint_token(body["secret"], hostname=str(body.get("hostname", "localhost")),
                                action=str(body.get("action", "")))}
