"""HTTP plumbing shared by the three entry points: routing, JSON in and out, errors, CORS.

Entry points stay thin: they declare routes and call the use cases; everything here turns a Flask request
into validated input and any `AppError` into the JSON error of DESIGN section 4. An unexpected exception
becomes a 500 `internal` answer with no stack trace, and a log line with no secrets.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import AppError, InvalidRequest, MethodNotAllowed, NotFound, PayloadTooLarge, UnsupportedMediaType
from .logs import log, where_raised
from .validation import validate as validate  # re-exported: the entry points validate through `http`

if TYPE_CHECKING:
    import flask

MAX_BODY_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32


def _nesting(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw` (brackets inside strings not counted); cheap for 16 KiB."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]


def route(method: str, path: str, handler: Callable[..., Any]) -> Route:
    """`path` may hold `{name}` segments, passed to the handler as keyword arguments."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path.rstrip("/") or "/")
    return Route(method.upper(), re.compile(f"^{regex}/?$"), handler)


def dispatch(request: flask.Request, routes: Iterable[Route]) -> Any:
    path = request.path.rstrip("/") or "/"
    allowed: list[str] = []
    for candidate in routes:
        match = candidate.pattern.match(path)
        if match is None:
            continue
        if candidate.method == request.method:
            return candidate.handler(request, **match.groupdict())
        allowed.append(candidate.method)
    if allowed:
        raise MethodNotAllowed(allowed)
    raise NotFound(f"No route for {request.method} {path}.")


def read_json(request: flask.Request, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object: 415 for another media type, 413 when too large, 400 when malformed."""
    media_type = (request.mimetype or "").lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with `Content-Type: application/json`.")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadTooLarge(f"The body may be at most {max_bytes} bytes.")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body may be at most {max_bytes} bytes.")
    if _nesting(raw) > MAX_JSON_DEPTH:
        message = f"The body nests deeper than {MAX_JSON_DEPTH} levels."
        raise InvalidRequest(message, fields={"body": "a flat JSON object"})
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("The body is not valid JSON.", fields={"body": "a JSON object"}) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", fields={"body": "a JSON object"})
    return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    import flask

    response = flask.Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


_FRAMEWORK_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def framework_error(error: Any) -> flask.Response:
    """Errors Flask raises before the function runs (e.g. a path its router refuses), in the project's shape.

    Register with `functions_framework.errorhandler(werkzeug.exceptions.HTTPException)(framework_error)`."""
    status = int(getattr(error, "code", None) or 500)
    code = _FRAMEWORK_CODES.get(status, "internal" if status >= 500 else "http_error")
    message = "No such route." if status == 404 else "The request could not be handled."
    return json_response({"error": {"code": code, "message": message}}, status)


def answer_every_path() -> None:
    """Let the function answer every path itself, so that no request gets functions-framework's HTML redirect.

    functions-framework routes `/` and `/<path:path>` on Flask. Werkzeug would answer an empty path (`POST /sync`
    where the function is mounted at `/sync`, as under the devserver) and a doubled slash (`//`) with a 308 and an
    HTML body, and Flask never passes routing redirects to error handlers. Call this at import: functions-framework
    runs the function's module inside its app's context before adding its rules, and each rule takes these two
    defaults from the map when it is added. The routes of `dispatch` already accept a path with or without its
    trailing slash, so `/sync` and `/sync/` are the same request."""
    import flask

    if not flask.has_app_context():  # imported outside functions-framework (e.g. by a tool): nothing to configure
        return
    url_map = flask.current_app.url_map
    url_map.strict_slashes = False
    url_map.merge_slashes = False


def error_response(error: AppError) -> flask.Response:
    return json_response(error.to_body(), error.status, error.headers())


def guarded(function: str, request: flask.Request, handle: Callable[[], Any]) -> flask.Response:
    """Run `handle`, turning every failure into a JSON error and logging unexpected ones (without secrets)."""
    try:
        result = handle()
    except AppError as error:
        if error.status >= 500:
            log("request failed upstream", severity="WARNING", function=function, path=request.path,
                code=error.code, detail=error.message)
        return error_response(error)
    except Exception as error:  # the last line of defence: never a stack trace in a response
        log(
            "unexpected error",
            severity="ERROR",
            function=function,
            path=request.path,
            error=type(error).__name__,
            where=where_raised(error),
        )
        return json_response(
            {"error": {"code": "internal", "message": "Something went wrong on our side; try again later."}}, 500
        )
    if isinstance(result, tuple):
        body, status, *rest = result
        return json_response(body, status, rest[0] if rest else None)
    if hasattr(result, "status_code"):
        return result  # type: ignore[no-any-return]
    return json_response(result)


def cors_headers(origin: str | None, allowed: Iterable[str], *, methods: str) -> dict[str, str]:
    allowed = tuple(allowed)
    if not origin or (origin not in allowed and "*" not in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, X-Turnstile-Token",
        "Access-Control-Max-Age": "3600",
        "Vary": "Origin",
    }


CORS_CONFIG_KEY = "[booking] cors_origins"
_MAX_LOGGED_ORIGINS = 100  # origins are chosen by callers: a flood of made-up ones must not flood the log


class RefusedOrigins:
    """Logs each origin refused by CORS once per process, with the config key that would allow it.

    A browser that is refused only says so in its own console; this line says it where the operator looks.
    Same-origin requests (the page served next to the function) need no CORS and are never logged."""

    def __init__(self, limit: int = _MAX_LOGGED_ORIGINS) -> None:
        self._seen: set[str] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def refused(self, origin: str, function: str) -> None:
        origin = origin[:200]
        with self._lock:
            if origin in self._seen or len(self._seen) > self._limit:
                return
            self._seen.add(origin)
            full = len(self._seen) > self._limit
        if full:
            log("CORS: more refused origins; no further ones are logged by this instance", severity="WARNING",
                function=function, limit=self._limit)
            return
        log("CORS: origin refused", severity="WARNING", function=function, origin=origin,
            fix=f"to let pages on {origin} call this function, add {json.dumps(origin)} to {CORS_CONFIG_KEY} "
                "in the config")


REFUSED_ORIGINS = RefusedOrigins()


def cors(request: flask.Request, allowed: Iterable[str], *, methods: str, function: str) -> dict[str, str]:
    """The CORS headers for `request` (see `cors_headers`); a cross-origin caller refused is logged once."""
    origin = request.headers.get("Origin")
    headers = cors_headers(origin, allowed, methods=methods)
    if origin and not headers and origin.lower() != _own_origin(request):
        REFUSED_ORIGINS.refused(origin, function)
    return headers


def _own_origin(request: flask.Request) -> str:
    parts = urlsplit(own_url(request))
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_url(request: flask.Request) -> str:
    """This function's URL as its callers name it (the ID-token audience). Cloud Run ends TLS in front of the
    function, so the request arrives as http with `X-Forwarded-Proto: https`."""
    root = str(request.url_root)
    scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if scheme in ("http", "https") and not root.startswith(f"{scheme}://"):
        root = f"{scheme}://{root.split('://', 1)[1]}"
    return root

