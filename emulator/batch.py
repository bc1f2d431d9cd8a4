"""The Calendar batch endpoint, `POST /batch/calendar/v3`, as Google's "Send batch requests" guide describes it.

The body is `multipart/mixed`; each part is `Content-Type: application/http` (optionally with a `Content-ID`) whose
body is a whole HTTP request: request line with the path, its own headers (`Authorization` included), a blank line,
the body. Lines may end in CRLF or LF. Each inner request runs through the emulator on its own (its own auth,
faults, rate limit and log entry); the answer is `multipart/mixed` with one `application/http` part per request,
in order, each `Content-ID: <response-ID>` when the request part had `Content-ID: <ID>`.
"""

from __future__ import annotations

import io
import re
import sys
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Request, Response

from .errors import GoogleError
from .routing import Ctx, RouteTable

routes = RouteTable()

MAX_PARTS = 1000  # "You're limited to 1000 calls in a single batch request."
API_PREFIX = "/calendar/v3/"
_LINE = re.compile(rb"\r?\n")
_BLANK = re.compile(rb"\r?\n\r?\n")


def _split_head(blob: bytes) -> tuple[list[bytes], bytes]:
    """Header lines and body of a MIME part or an HTTP message (first blank line splits them)."""
    if blob.startswith((b"\r\n", b"\n")):
        return [], blob[2:] if blob.startswith(b"\r\n") else blob[1:]
    match = _BLANK.search(blob)
    if match is None:
        return [line for line in _LINE.split(blob) if line], b""
    return [line for line in _LINE.split(blob[: match.start()]) if line], blob[match.end() :]


def _headers(lines: list[bytes]) -> Headers:
    headers = Headers()
    unfolded: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and unfolded:  # a folded header (RFC 5322 2.2.3), as email writers make
            unfolded[-1] += b" " + line.strip()
        else:
            unfolded.append(line)
    for line in unfolded:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise GoogleError(400, "badRequest", "Failed to parse batch request, error: malformed header line.")
        headers.add(name.strip(), value.strip())
    return headers


def _parts(body: bytes, boundary: bytes) -> list[bytes]:
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        # The line break before a delimiter belongs to the delimiter; so does the one after it.
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        parts.append(chunk)
    return parts


def _inner_request(ctx: Ctx, payload: bytes) -> Request:
    head, body = _split_head(payload)
    if not head:
        raise ValueError("empty inner request")
    request_line = head[0].decode("latin-1").split()
    if len(request_line) < 2:
        raise ValueError("malformed request line")
    method, target = request_line[0].upper(), request_line[1]
    headers = _headers(head[1:])
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        body = body[: int(length)]
    return Request(_environ(ctx, method, urlsplit(target), headers, body))


def _environ(ctx: Ctx, method: str, url: SplitResult, headers: Headers, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an inner request, as werkzeug's `EnvironBuilder` makes it for these arguments (the
    outer request's host and scheme, the part's own headers, `body` as the input), built directly: the builder
    costs several times more, twenty times per booking."""
    scheme, host = ctx.request.scheme, ctx.request.host
    server_name, _, port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _wsgi_text(unquote(url.path)),
        "QUERY_STRING": _wsgi_text(url.query),
        "REQUEST_URI": _wsgi_text(url.path),
        "RAW_URI": _wsgi_text(url.path),
        "SERVER_NAME": server_name,
        "SERVER_PORT": port or ("443" if scheme == "https" else "80"),
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    content_type = headers.get("Content-Type")
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    elif headers.get("Content-Length", "").isdigit():
        environ["CONTENT_LENGTH"] = str(int(headers["Content-Length"]))
    combined: dict[str, list[str]] = {}
    for name, value in headers.items():
        key = f"HTTP_{name.upper().replace('-', '_')}"
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            combined.setdefault(key, []).append(value)
    environ.update({key: ", ".join(values) for key, values in combined.items()})  # a part's Host wins
    environ["REMOTE_ADDR"] = ctx.request.remote_addr or "127.0.0.1"
    return environ


def _wsgi_text(value: str) -> str:
    """A WSGI environ string: the UTF-8 bytes of `value`, read as Latin-1 (PEP 3333)."""
    return value.encode("utf-8").decode("latin-1")


def _part_response(response: Response) -> bytes:
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.status.partition(" ")[2]
    lines = [f"HTTP/1.1 {response.status_code} {phrase}"]
    data = response.get_data()
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
            lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


@routes.route("/batch/calendar/v3", "POST", "calendar.batch")
def batch(ctx: Ctx) -> Any:
    mimetype, options = parse_options_header(ctx.request.headers.get("Content-Type", ""))
    boundary = options.get("boundary")
    if mimetype != "multipart/mixed" or not boundary:
        raise GoogleError(400, "badRequest", "Failed to parse batch request: expected multipart/mixed with a boundary.")
    parts = _parts(ctx.request.get_data(), boundary.encode("latin-1"))
    if not parts:
        raise GoogleError(400, "badRequest", "Failed to parse batch request: no parts.")
    if len(parts) > MAX_PARTS:
        raise GoogleError(400, "badRequest", f"A batch request cannot contain more than {MAX_PARTS} requests.")
    ctx.log["parts"] = len(parts)

    answer_boundary = f"batch_{uuid.uuid4().hex}"
    out = bytearray()
    for part in parts:
        part_head, payload = _split_head(part)
        part_headers = _headers(part_head)
        content_id = part_headers.get("Content-ID")
        try:
            inner = _inner_request(ctx, payload)
        except (ValueError, GoogleError):
            response = GoogleError(400, "badRequest", "Failed to parse batch request part.").response()
        else:
            if not inner.path.startswith(API_PREFIX):
                # "All the inner requests must go to the same Google API."
                response = GoogleError(404, "notFound", f"Not Found: {inner.method} {inner.path}").response()
            else:
                response = ctx.emulator.handle(inner, inner=True)
        out += f"--{answer_boundary}\r\nContent-Type: application/http\r\n".encode()
        if content_id:
            value = content_id.strip()
            bracketed = value.startswith("<") and value.endswith(">")
            value = f"<response-{value[1:]}" if bracketed else f"response-{value}"
            out += f"Content-ID: {value}\r\n".encode("latin-1")
        out += b"\r\n" + _part_response(response) + b"\r\n"
    out += f"--{answer_boundary}--\r\n".encode()
    return Response(bytes(out), status=200, content_type=f"multipart/mixed; boundary={answer_boundary}")
