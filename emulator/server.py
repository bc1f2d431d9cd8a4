"""Serve the emulator over HTTP: threaded, HTTP/1.1 keep-alive, Nagle off, a deep accept queue."""

from __future__ import annotations

import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .app import Emulator


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Without this, Python's server adds ~40 ms to each request on a reused connection (Nagle + delayed ACK).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """The control API keeps the request log; nothing on stderr per request."""


class _Server(ThreadedWSGIServer):
    request_queue_size = 1024
    daemon_threads = True


class EmulatorServer:
    """Runs an `Emulator` on a port in a background thread (port 0 picks a free one)."""

    def __init__(self, emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator or Emulator()
        self._server = _Server(host, port, self.emulator, handler=_Handler)
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self.emulator.base_url = self.url
        if not self.emulator.state.settings.issuer:
            self.emulator.state.settings.issuer = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
