"""The emulator's WSGI application: routing, request log, latency, faults, quotas, then the handler."""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import (
    batch,
    calendar_acl,
    calendar_events,
    calendar_freebusy,
    calendar_lists,
    control,
    iam,
    iap,
    oauth,
    secretmanager,
    storage,
    storage_uploads,
    turnstile,
)
from .clock import CLOCK
from .errors import DropConnection, GoogleError, OAuthError
from .faults import Faults
from .routing import Ctx, Route, RouteTable, to_response
from .state import State

# The route table of each handler module, by the module's name (which prefixes its endpoints); each owns one API.
# Handlers see the app only through `routing.EmulatorApi`, so none of them imports this module.
HANDLER_TABLES: tuple[tuple[str, RouteTable], ...] = (
    ("oauth", oauth.routes),
    ("iam", iam.routes),
    ("calendar_events", calendar_events.routes),
    ("calendar_lists", calendar_lists.routes),
    ("calendar_freebusy", calendar_freebusy.routes),
    ("calendar_acl", calendar_acl.routes),
    ("batch", batch.routes),
    ("secretmanager", secretmanager.routes),
    ("storage", storage.routes),
    ("storage_uploads", storage_uploads.routes),
    ("control", control.routes),
    ("iap", iap.routes),
    ("turnstile", turnstile.routes),
)


class RateLimiter:
    """Per-principal request rate over a sliding one-second window (Calendar's per-user limit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, collections.deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def allow(self, principal: str, limit_per_second: int) -> bool:
        if limit_per_second <= 0:
            return True
        moment = CLOCK.now()  # Google's clock: a frozen or advanced clock moves the windows too
        with self._lock:
            window = self._seen.setdefault(principal, collections.deque())
            while window and moment - window[0] >= 1.0:
                window.popleft()
            if len(window) >= limit_per_second:
                return False
            window.append(moment)
            return True


class Emulator:
    """A local Google: one state, one route map, one fault table, one request log."""

    def __init__(self, state: State | None = None, *, base_url: str = "") -> None:
        self.state = state or State()
        self.base_url = base_url
        self.faults = Faults()
        self.rate_limiter = RateLimiter()
        self._log_lock = threading.Lock()
        self.request_log: list[dict[str, Any]] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self._routes: dict[str, Route] = {}
        rules = []
        for module_name, table in HANDLER_TABLES:
            for index, route in enumerate(table.routes):
                endpoint = f"{module_name}:{index}"
                self._routes[endpoint] = route
                rules.append(Rule(route.path, methods=list(route.methods), endpoint=endpoint))
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    # --- control -----------------------------------------------------------------------------------------
    def replace_state(self, state: State) -> None:
        with self.state.lock:
            self.state = state
        self.faults.reset()
        self.rate_limiter.reset()
        self.clear_log()

    def clear_log(self) -> None:
        with self._log_lock:
            self.request_log.clear()
            self.counts.clear()

    def log_snapshot(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """A consistent copy of the request log and the per-method counts (for the control API)."""
        with self._log_lock:
            return [dict(entry) for entry in self.request_log], dict(self.counts)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.request_log.append(entry)
            self.counts[entry["method"]] += 1

    # --- serving -----------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.handle(request)
        except DropConnection:
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise
        return response(environ, start_response)

    def handle(self, request: Request, *, inner: bool = False) -> Response:
        """Answer one request. `inner` marks a part of a batch: a dropped connection becomes a 503 there."""
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match()
        except NotFound:
            return GoogleError(404, "notFound", f"Not Found: {request.method} {request.path}").response()
        except MethodNotAllowed:
            return GoogleError(
                405, "httpMethodNotAllowed", f"HTTP method {request.method} is not supported by this URL"
            ).response()
        route = self._routes[endpoint]
        ctx = Ctx(request=request, state=self.state, emulator=self, method_id=route.method_id)
        if route.control:
            return self._run(route, ctx, params)

        entry: dict[str, Any] = {
            "time": CLOCK.now(),
            "method": route.method_id,
            "httpMethod": request.method,
            "path": request.path,
            "inner": inner,
        }
        ctx.log = entry
        try:
            # A batch pays the latency once, as one round trip; its parts run inside it.
            delay = 0.0 if inner else self.faults.delay_seconds(route.method_id)
            if delay:
                entry["delayMs"] = round(delay * 1000)
                time.sleep(delay)
            fault = self.faults.pick(route.method_id)
            if isinstance(fault, DropConnection) and inner:
                fault = GoogleError(503, "backendError", "The service is currently unavailable.")
            if fault is not None:
                # Only Google's JSON errors carry a `reason`; any other fault is logged by its type.
                entry["fault"] = fault.reason if isinstance(fault, GoogleError) else type(fault).__name__
                raise fault
            self._check_rate(ctx)
            response = self._run(route, ctx, params)
        except DropConnection:
            entry["status"] = 0
            self._record(entry)
            raise
        except (GoogleError, OAuthError) as error:
            response = error.response()
        entry["status"] = response.status_code
        self._record(entry)
        return response

    def _check_rate(self, ctx: Ctx) -> None:
        token = ctx.bearer_token()
        limit = self.state.settings.user_rate_limit_per_second
        if token is not None and not self.rate_limiter.allow(token.principal, limit):
            raise GoogleError(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")

    @staticmethod
    def _run(route: Route, ctx: Ctx, params: Mapping[str, Any]) -> Response:
        try:
            return to_response(route.handler(ctx, **params))
        except (GoogleError, OAuthError) as error:
            return error.response()
        except DropConnection:
            raise
        except Exception:  # a bug in a handler still answers in Google's shape, as Google's own 500s do
            logging.getLogger(__name__).exception("emulator handler failed")
            return GoogleError(500, "backendError", "Backend Error").response()
