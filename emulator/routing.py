"""How handler modules declare their routes, and the per-request context handlers receive."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from .errors import GoogleError, json_response
from .faults import Faults
from .state import AccessToken, State, now

Handler = Callable[..., Any]


class EmulatorApi(Protocol):
    """What handlers use of the running emulator (`app.Emulator` is one); no handler imports the app."""

    state: State
    base_url: str
    faults: Faults

    def handle(self, request: Request, *, inner: bool = False) -> Response: ...

    def replace_state(self, state: State) -> None: ...

    def clear_log(self) -> None: ...

    def log_snapshot(self) -> tuple[list[dict[str, Any]], dict[str, int]]: ...


@dataclass(frozen=True)
class Route:
    path: str  # werkzeug rule syntax, e.g. "/calendar/v3/calendars/<calendar_id>/events"
    methods: tuple[str, ...]
    method_id: str  # Google's API method id, e.g. "calendar.events.insert"; used for faults and counts
    handler: Handler
    control: bool = False  # control-API routes skip faults, latency, quotas and the request log


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, path: str, methods: str | Iterable[str], method_id: str, *, control: bool = False) -> Callable[
        [Handler], Handler
    ]:
        verbs = (methods,) if isinstance(methods, str) else tuple(methods)

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(path, verbs, method_id, handler, control))
            return handler

        return register


@dataclass
class Ctx:
    request: Request
    state: State
    emulator: EmulatorApi
    method_id: str
    # Extra facts a handler wants in the request log (e.g. the `sub` and scopes of a token request).
    log: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.emulator.base_url or self.request.host_url.rstrip("/")

    def json_body(self) -> Any:
        raw = self.request.get_data(cache=True)
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GoogleError(400, "parseError", "Parse Error") from None

    def bearer_token(self) -> AccessToken | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        return self.state.access_tokens.get(value.strip())

    def authorize(self, accepted_scopes: Iterable[str]) -> AccessToken:
        """The caller's live access token, holding at least one of `accepted_scopes`; else Google's 401/403."""
        token = self.bearer_token()
        if token is None or token.expires_at <= now():
            raise GoogleError(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
                location="Authorization",
                location_type="header",
                item_message="Invalid Credentials",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        self.log["principal"] = token.principal
        if not set(accepted_scopes) & set(token.scopes):
            raise GoogleError(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                item_message="Insufficient Permission",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'},
            )
        return token


def to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        body, status = result
        return json_response(body, status)
    return json_response(result)
