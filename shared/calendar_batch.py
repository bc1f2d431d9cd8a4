"""Calendar's batch wire format (GUIDES/batch: "Send batch requests"), written and read directly.

A batch is one `multipart/mixed` POST; each part is `Content-Type: application/http` with a `Content-ID`, its
body a whole HTTP request (request line, headers with the part's own `Authorization`, blank line, body). The
answer is `multipart/mixed` with one `application/http` part per request, `Content-ID: <response-ID>`.

googleapiclient's `BatchHttpRequest` writes and reads the same format through the `email` package (header
folding, a MIME tree per part, a feed parser for the answer): about half of a warm booking's own CPU, for two
batches of about 20 parts. The parts here carry the same request lines, headers and bodies as it sends; only the
framing is written by hand (CRLF line ends, which HTTP and MIME prescribe; googleapiclient writes bare LF).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

_BLANK = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(rb"\r?\n")
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


class BatchFormatError(Exception):
    """The batch answer is not the multipart/mixed Google sends."""


@dataclass(frozen=True)
class OutgoingPart:
    """One request of a batch: googleapiclient's request fields, and the part's own auth headers."""

    request_id: str
    method: str
    uri: str
    headers: Mapping[str, str]
    body: str | bytes | None


@dataclass(frozen=True)
class PartAnswer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


def encode(parts: Sequence[OutgoingPart]) -> tuple[str, bytes, str]:
    """(Content-Type, body, base id) of the batch request; each part's Content-ID is `<base + quoted id>`, as
    googleapiclient writes it."""
    base = str(uuid.uuid4())
    chunks: list[bytes] = []
    for part in parts:
        url = urlsplit(part.uri)
        target = url.path + (f"?{url.query}" if url.query else "")
        lines = [
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: <{base} + {quote(part.request_id)}>",
            "",
            f"{part.method} {target} HTTP/1.1",
        ]
        headers = {name.lower(): value for name, value in part.headers.items()}
        lines.append(f"Content-Type: {headers.pop('content-type', 'application/json')}")
        headers.pop("host", None)
        headers.pop("content-length", None)
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Host: {url.netloc}")
        body = part.body.encode() if isinstance(part.body, str) else part.body
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("a batch part's request line or header carries a line break")
        chunks.append("\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + (body or b""))
    boundary = _boundary(chunks)
    delimiter = f"--{boundary}\r\n".encode()
    payload = b"".join(delimiter + chunk + b"\r\n" for chunk in chunks) + f"--{boundary}--\r\n".encode()
    return f'multipart/mixed; boundary="{boundary}"', payload, base


def decode(content_type: str, content: bytes) -> dict[str, PartAnswer]:
    """The answer's parts by request id (from `Content-ID: <response-base + id>`)."""
    match = _BOUNDARY.search(content_type or "")
    if not content_type.lower().startswith("multipart/") or match is None:
        raise BatchFormatError(f"batch answer is {content_type!r}, not multipart/mixed")
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    answers: dict[str, PartAnswer] = {}
    for chunk in content.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        # The line break before a delimiter belongs to the delimiter; so does the one after it.
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:] if chunk.startswith(b"\n") else chunk
        chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith(b"\n") else chunk
        part_lines, message = _split_head(chunk)
        request_id = _request_id(_headers(part_lines).get("content-id", ""))
        lines, body = _split_head(message)
        if not lines:
            raise BatchFormatError("a batch answer part has no status line")
        status_line = lines[0].decode("latin-1").split(" ", 2)
        if len(status_line) < 2 or not status_line[1].isdigit():
            raise BatchFormatError(f"a batch answer part's status line is {lines[0]!r}")
        headers = _headers(lines[1:])
        length = headers.get("content-length", "")
        if length.isdigit():
            body = body[: int(length)]
        answers[request_id] = PartAnswer(int(status_line[1]), headers, body)
    return answers


_PROCESS_BOUNDARY = f"batch_{uuid.uuid4().hex}"


def _boundary(chunks: list[bytes]) -> str:
    """One boundary for the process's batches (a fresh one only if a part happens to contain it): a server
    parsing the header with Python's `email` compiles a pattern per distinct boundary (http.server does)."""
    boundary = _PROCESS_BOUNDARY
    while any(boundary.encode() in chunk for chunk in chunks):
        boundary = f"batch_{uuid.uuid4().hex}"
    return boundary


def _split_head(blob: bytes) -> tuple[list[bytes], bytes]:
    """Header lines and body of a MIME part or an HTTP message (the first blank line splits them)."""
    if blob.startswith((b"\r\n", b"\n")):
        return [], blob[2:] if blob.startswith(b"\r\n") else blob[1:]
    match = _BLANK.search(blob)
    if match is None:
        return [line for line in _LINE.split(blob) if line], b""
    return [line for line in _LINE.split(blob[: match.start()]) if line], blob[match.end() :]


def _headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for line in lines:
        text = line.decode("latin-1")
        if text[:1] in (" ", "\t") and last:  # a folded header line (RFC 5322 2.2.3)
            headers[last] += " " + text.strip()
            continue
        name, sep, value = text.partition(":")
        if sep:
            last = name.strip().lower()
            headers[last] = value.strip()
    return headers


def _request_id(content_id: str) -> str:
    """`<response-base + id>` to the id, as googleapiclient reads it."""
    value = content_id.strip()
    if not (value.startswith("<") and value.endswith(">")) or " + " not in value:
        raise BatchFormatError(f"a batch answer part's Content-ID is {content_id!r}")
    return unquote(value[1:-1].split(" + ", 1)[1])
