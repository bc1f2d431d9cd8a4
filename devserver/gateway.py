"""One local HTTP front door for the three functions and the demo page, as Cloud Functions URLs look.

Each function is the very app functions-framework serves in production (`create_app(target, source)`),
mounted at `/<name>` with that prefix stripped; `/` serves the booking page from `web/`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("booking", "sharing", "sync")


def function_app(name: str) -> Any:
    import functions_framework

    # functions-framework ships no type hints
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        target=name, source=str(ROOT / "functions" / name / "main.py")
    )


class StaticFiles:
    """The demo page: files under `web/`, `index.html` for `/`. Nothing outside that folder is served."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        relative = request.path.lstrip("/") or "index.html"
        target = (self.directory / relative).resolve()
        if request.method not in ("GET", "HEAD") or not target.is_relative_to(self.directory) or not target.is_file():
            response = Response('{"error":{"code":"not_found","message":"No such page."}}', 404,
                                content_type="application/json")
            return response(environ, start_response)
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        response = Response(target.read_bytes(), content_type=content_type)
        response.headers["Cache-Control"] = "no-cache"
        return response(environ, start_response)


def gateway_app(functions: tuple[str, ...] = FUNCTIONS) -> Any:
    present = [name for name in functions if (ROOT / "functions" / name / "main.py").is_file()]
    mounts = {f"/{name}": function_app(name) for name in present}
    return DispatcherMiddleware(StaticFiles(ROOT / "web"), mounts)


class GatewayRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, whose access log shows the path only: a query string (a `?token=`, or anything a
    caller put there) never reaches the log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path, line = getattr(self, "path", None), self.requestline
        if path is not None:
            self.path = path.partition("?")[0]
        else:  # a request line that did not parse: werkzeug logs the raw line instead
            method, _, rest = line.partition(" ")
            target, _, version = rest.partition(" ")
            self.requestline = " ".join(part for part in (method, target.partition("?")[0], version) if part)
        try:
            super().log_request(code, size)
        finally:
            if path is not None:
                self.path = path
            self.requestline = line


def gateway_server(
    port: int, functions: tuple[str, ...] = FUNCTIONS, *, host: str = "127.0.0.1"
) -> BaseWSGIServer:
    """The gateway served on `host:port` (0 picks a free port), threaded, logging paths without queries."""
    return make_server(host, port, gateway_app(functions), threaded=True, request_handler=GatewayRequestHandler)
