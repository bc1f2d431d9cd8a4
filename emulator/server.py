"""Serve the emulator over HTTP: threaded, HTTP/1.1 keep-alive, Nagle off, a deep accept queue."""

from __future__ import annotations

import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .app import Emulator


class _CountingInput:
    """The request body, counted, so that what the application left unread can be drained afterwards."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._stream.read(size)
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._stream.readline(size)
        self.remaining -= len(data)
        return data

    def drain(self) -> None:
        while self.remaining > 0 and self.read(65536):
            pass


class _Handler(WSGIRequestHandler):
    """Werkzeug's development handler closes every connection; Google keeps them open, and so does this one.

    Each answer is buffered and sent with its Content-Length; the unread rest of a request body is drained so
    that the next request on the connection starts where it should. Chunked request bodies close the
    connection after the answer (no client of the emulator sends them)."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle kept-alive connection frees its thread after this

    def setup(self) -> None:
        super().setup()
        # Without this, Python's server adds ~40 ms to each request on a reused connection (Nagle + delayed ACK).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        # Wait for the next request's first byte here: an idle kept-alive connection that reaches `timeout` is
        # the ordinary end of a connection, closed quietly (the base class would log "Request timed out" as an
        # error). A request that stalls once it has begun is still the base class's to report.
        try:
            self.rfile.peek(1)  # type: ignore[attr-defined]  # rfile is a buffered socket file
        except TimeoutError:
            self.close_connection = True
            return
        super().handle_one_request()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        body: _CountingInput | None = None
        if not chunked:
            body = _CountingInput(self.rfile, int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = body
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("early", []).append(data)

        try:
            iterable = self.server.app(environ, start_response)
            try:
                payload = b"".join([*answer.get("early", []), *iterable])
            finally:
                if hasattr(iterable, "close"):
                    iterable.close()
        except ConnectionError as error:  # an injected dropped connection, or the client went away
            self.connection_dropped(error, environ)
            return
        if body is not None:
            body.drain()
        if chunked:
            self.close_connection = True
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in answer["headers"]:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if environ["REQUEST_METHOD"] != "HEAD" or payload:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if environ["REQUEST_METHOD"] != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

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
