"""The control API under `/_emulator/`: reset, state, clock, faults, latency, request log, counts, mailbox, ID tokens.

Control routes are never subject to faults, latency, quotas or the request log. Errors use Google's JSON error
shape (`{"error": {"code", "message", "errors": [...]}}`) so one client-side parser reads them all.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, fields
from typing import Any

from .clock import CLOCK, parse_duration, parse_instant
from .errors import GoogleError
from .oauth import mint_id_token
from .routing import Ctx, RouteTable
from .state import Settings, State, now

routes = RouteTable()

_P = "/_emulator"


def _body(ctx: Ctx) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise GoogleError(400, "parseError", "The request body must be a JSON object.")
    return body


def _rules(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rules = body.get(key)
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise GoogleError(400, "invalid", f"'{key}' must be a list of objects.", location=key)
    return rules


@routes.route(f"{_P}/health", "GET", "control.health", control=True)
def health(ctx: Ctx) -> Any:
    return {"status": "ok", "url": ctx.base_url}


# --- state --------------------------------------------------------------------------------------------------
def _install(ctx: Ctx, state: State) -> None:
    if not state.settings.issuer:
        state.settings.issuer = ctx.base_url
    ctx.emulator.replace_state(state)


@routes.route(f"{_P}/reset", "POST", "control.reset", control=True)
def reset(ctx: Ctx) -> Any:
    body = _body(ctx)
    if body.get("empty"):
        state = State()
    else:
        from .demo import build_demo_state

        state = build_demo_state(ctx.base_url)
    _install(ctx, state)
    return {"status": "reset", "demo": not body.get("empty")}


@routes.route(f"{_P}/state", "GET", "control.state.get", control=True)
def dump_state(ctx: Ctx) -> Any:
    return ctx.emulator.state.to_json()


@routes.route(f"{_P}/state", "PUT", "control.state.put", control=True)
def load_state(ctx: Ctx) -> Any:
    body = _body(ctx)
    try:
        state = State.from_json(body)
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise GoogleError(400, "invalid", f"Not a state dump: {error}") from None
    _install(ctx, state)
    return {"status": "loaded"}


@routes.route(f"{_P}/settings", "GET", "control.settings.get", control=True)
def get_settings(ctx: Ctx) -> Any:
    return asdict(ctx.emulator.state.settings)


@routes.route(f"{_P}/settings", "PUT", "control.settings.put", control=True)
def put_settings(ctx: Ctx) -> Any:
    body = _body(ctx)
    known = {f.name: f.type for f in fields(Settings)}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise GoogleError(400, "invalid", f"Unknown settings {unknown}; known: {sorted(known)}")
    state = ctx.emulator.state
    with state.lock:
        for key, value in body.items():
            if key == "issuer":
                if not isinstance(value, str):
                    raise GoogleError(400, "invalid", "issuer must be a string", location=key)
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise GoogleError(400, "invalid", f"{key} must be a non-negative integer", location=key)
            setattr(state.settings, key, value)
        return asdict(state.settings)


def _parsed(body: dict[str, Any], key: str, parse: Any) -> float | None:
    if key not in body:
        return None
    try:
        return float(parse(str(body[key])))
    except ValueError as error:
        raise GoogleError(400, "invalid", str(error), location=key) from None


# --- clock --------------------------------------------------------------------------------------------------
@routes.route(f"{_P}/clock", "GET", "control.clock.get", control=True)
def get_clock(ctx: Ctx) -> Any:
    return CLOCK.describe()


@routes.route(f"{_P}/clock", "POST", "control.clock.set", control=True)
def set_clock(ctx: Ctx) -> Any:
    """`{"now": "<RFC 3339>", "frozen"?: bool}` pins, `{"advance": "PT5M"}` moves on, `{"reset": true}` unpins."""
    body = _body(ctx)
    unknown = sorted(set(body) - {"now", "frozen", "advance", "reset"})
    if unknown:
        raise GoogleError(400, "invalid", f"Unknown field {unknown[0]!r}: use now, frozen, advance or reset.",
                          location=unknown[0])
    frozen = body.get("frozen", CLOCK.frozen)
    if not isinstance(frozen, bool):
        raise GoogleError(400, "invalid", "'frozen' must be true or false.", location="frozen")
    instant = _parsed(body, "now", parse_instant)
    seconds = _parsed(body, "advance", parse_duration)
    if body.get("reset") is True:
        CLOCK.reset()
    if instant is not None or "frozen" in body:
        CLOCK.pin(CLOCK.now() if instant is None else instant, frozen=frozen)
    if seconds is not None:
        CLOCK.advance(seconds)
    return CLOCK.describe()


@routes.route(f"{_P}/expire-tokens", "POST", "control.expireTokens", control=True)
def expire_tokens(ctx: Ctx) -> Any:
    state = ctx.emulator.state
    moment = now()
    with state.lock:
        live = [token for token in state.access_tokens.values() if token.expires_at > moment]
        for token in live:
            token.expires_at = moment - 1
    return {"expired": len(live)}


# --- faults and latency -------------------------------------------------------------------------------------
@routes.route(f"{_P}/faults", "GET", "control.faults.get", control=True)
def get_faults(ctx: Ctx) -> Any:
    return ctx.emulator.faults.describe()


@routes.route(f"{_P}/faults", "PUT", "control.faults.put", control=True)
def put_faults(ctx: Ctx) -> Any:
    body = _body(ctx)
    rules = _rules(body, "faults")
    try:
        ctx.emulator.faults.set_faults(rules)
    except TypeError as error:
        raise GoogleError(400, "invalid", f"Bad fault rule: {error}", location="faults") from None
    if body.get("seed") is not None:
        ctx.emulator.faults.seed(int(body["seed"]))
    return ctx.emulator.faults.describe()


@routes.route(f"{_P}/faults", "DELETE", "control.faults.delete", control=True)
def delete_faults(ctx: Ctx) -> Any:
    ctx.emulator.faults.set_faults([])
    return ctx.emulator.faults.describe()


@routes.route(f"{_P}/latency", "PUT", "control.latency.put", control=True)
def put_latency(ctx: Ctx) -> Any:
    rules = _rules(_body(ctx), "latency")
    try:
        ctx.emulator.faults.set_latency(rules)
    except TypeError as error:
        raise GoogleError(400, "invalid", f"Bad latency rule: {error}", location="latency") from None
    return ctx.emulator.faults.describe()


@routes.route(f"{_P}/latency", "DELETE", "control.latency.delete", control=True)
def delete_latency(ctx: Ctx) -> Any:
    ctx.emulator.faults.set_latency([])
    return ctx.emulator.faults.describe()


# --- request log --------------------------------------------------------------------------------------------
@routes.route(f"{_P}/requests", "GET", "control.requests.get", control=True)
def get_requests(ctx: Ctx) -> Any:
    pattern = ctx.request.args.get("method", "*")
    entries, _ = ctx.emulator.log_snapshot()
    selected = [entry for entry in entries if fnmatch.fnmatchcase(entry["method"], pattern)]
    return {"requests": selected, "count": len(selected)}


@routes.route(f"{_P}/requests", "DELETE", "control.requests.delete", control=True)
def clear_requests(ctx: Ctx) -> Any:
    ctx.emulator.clear_log()
    return {"status": "cleared"}


@routes.route(f"{_P}/counts", "GET", "control.counts", control=True)
def get_counts(ctx: Ctx) -> Any:
    _, counts = ctx.emulator.log_snapshot()
    pattern = ctx.request.args.get("method", "*")
    selected = {method: n for method, n in sorted(counts.items()) if fnmatch.fnmatchcase(method, pattern)}
    return {"counts": selected, "total": sum(selected.values())}


@routes.route(f"{_P}/mailbox", "GET", "control.mailbox", control=True)
def get_mailbox(ctx: Ctx) -> Any:
    state = ctx.emulator.state
    with state.lock:
        messages = [dict(message) for message in state.mailbox]
    return {"messages": messages, "count": len(messages)}


@routes.route(f"{_P}/mailbox", "DELETE", "control.mailbox.delete", control=True)
def clear_mailbox(ctx: Ctx) -> Any:
    state = ctx.emulator.state
    with state.lock:
        state.mailbox.clear()
    return {"status": "cleared"}


# --- identity -----------------------------------------------------------------------------------------------
@routes.route(f"{_P}/id-token", "POST", "control.idToken", control=True)
def id_token(ctx: Ctx) -> Any:
    body = _body(ctx)
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise GoogleError(400, "required", "'email' is required: the identity the ID token asserts.", location="email")
    audience = body.get("audience") or ctx.base_url
    lifetime = body.get("lifetime", 3600)
    if not isinstance(audience, str):
        raise GoogleError(400, "invalid", "'audience' must be a string.", location="audience")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime > 86400:
        message = "'lifetime' must be an integer of seconds, at most 86400."
        raise GoogleError(400, "invalid", message, location="lifetime")
    issuer = ctx.emulator.state.settings.issuer or ctx.base_url
    return {"token": mint_id_token(issuer, email, audience, lifetime), "audience": audience, "issuer": issuer}


@routes.route(f"{_P}/metadata", "GET", "control.metadata.get", control=True)
def get_metadata(ctx: Ctx) -> Any:
    return {"serviceAccount": ctx.emulator.state.metadata_identity}


@routes.route(f"{_P}/metadata", "PUT", "control.metadata.put", control=True)
def put_metadata(ctx: Ctx) -> Any:
    """Which runtime identity the metadata server answers as (each Cloud Run service has its own)."""
    email = _body(ctx).get("serviceAccount")
    state = ctx.emulator.state
    with state.lock:
        if not isinstance(email, str) or (email and email not in state.service_accounts):
            raise GoogleError(
                400, "invalid", "'serviceAccount' must be the email of a service account of the state.",
                location="serviceAccount",
            )
        state.metadata_identity = email
    return {"serviceAccount": email}
