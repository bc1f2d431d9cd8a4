"""Cloud Storage uploads: `uploadType=media`, `multipart` (metadata and media in one `multipart/related` body) and
`resumable` (a session, then chunks with `Content-Range`; 308 until the last byte). Hashes the client claims
(metadata `crc32c`/`md5Hash`, `x-goog-hash`) are checked before the object is written, as Google does; the write
itself and its preconditions are storage.py's.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from .errors import GoogleError, json_response
from .routing import Ctx, RouteTable
from .storage import _bucket, _check, _json_object, _object_json, _preconditions, _quoted, _verify_hashes, _write

routes = RouteTable()


def _split_multipart(ctx: Ctx) -> tuple[dict[str, Any], bytes, str]:
    """The two parts of a `multipart/related` upload: JSON metadata, then the media with its content type."""
    boundary = ctx.request.mimetype_params.get("boundary", "")
    if ctx.request.mimetype != "multipart/related" or not boundary:
        raise GoogleError(400, "invalid", "Multipart upload requires a multipart/related body with a boundary.")
    body = ctx.request.get_data()
    parts = body.split(b"--" + boundary.encode())
    sections = [p for p in parts[1:] if not p.startswith(b"--")]
    if len(sections) != 2:
        raise GoogleError(400, "invalid", "Multipart upload must have exactly a metadata part and a media part.")
    decoded = []
    for section in sections:
        section = section.removeprefix(b"\r\n")
        head, _, content = section.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        decoded.append((headers, content))
    try:
        metadata = json.loads(decoded[0][1] or b"{}")
    except ValueError:
        raise GoogleError(400, "parseError", "Parse Error") from None
    if not isinstance(metadata, dict):
        raise GoogleError(400, "parseError", "Parse Error")
    return metadata, decoded[1][1], decoded[1][0].get("content-type", "")


@dataclass
class _Session:
    bucket: str
    name: str
    metadata: dict[str, Any]
    content_type: str
    conditions: dict[str, int]
    total: int | None = None
    buffer: bytearray = field(default_factory=bytearray)


_sessions_lock = threading.Lock()
_sessions: dict[str, _Session] = {}


@routes.route("/upload/storage/v1/b/<bucket>/o", "POST", "storage.objects.insert")
def upload_object(ctx: Ctx, bucket: str) -> Any:
    upload_type = ctx.request.args.get("uploadType", "")
    conditions = _preconditions(ctx)
    if upload_type == "multipart":
        metadata, data, media_type = _split_multipart(ctx)
        name = str(metadata.get("name") or ctx.request.args.get("name", ""))
        _verify_hashes(data, metadata)
        content_type = str(metadata.get("contentType") or media_type)
        return _object_json(ctx, _write(ctx, bucket, name, data, content_type, metadata, conditions))
    if upload_type == "media":
        data = ctx.request.get_data()
        name = ctx.request.args.get("name", "")
        return _object_json(ctx, _write(ctx, bucket, name, data, ctx.request.content_type or "", {}, conditions))
    if upload_type == "resumable":
        return _start_resumable(ctx, bucket, conditions)
    raise GoogleError(400, "invalid", f"Invalid upload type: {upload_type!r}", location="uploadType")


def _start_resumable(ctx: Ctx, bucket: str, conditions: dict[str, int]) -> Response:
    metadata = _json_object(ctx) if ctx.request.get_data(cache=True) else {}
    name = str(metadata.get("name") or ctx.request.args.get("name", ""))
    if not name:
        raise GoogleError(400, "required", "Required", location="resource.name")
    with ctx.state.lock:
        _check(_bucket(ctx, bucket).get(name), conditions)
    total = ctx.request.headers.get("X-Upload-Content-Length")
    session = _Session(
        bucket=bucket,
        name=name,
        metadata=metadata,
        content_type=str(metadata.get("contentType") or ctx.request.headers.get("X-Upload-Content-Type", "")),
        conditions=conditions,
        total=int(total) if total and total.isdigit() else None,
    )
    upload_id = secrets.token_urlsafe(24)
    with _sessions_lock:
        _sessions[upload_id] = session
    location = (
        f"{ctx.base_url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name={_quoted(name)}&upload_id={upload_id}"
    )
    ctx.log["object"] = f"{bucket}/{name}"
    return Response(b"", status=200, headers={"Location": location, "X-GUploader-UploadID": upload_id})


_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


@routes.route("/upload/storage/v1/b/<bucket>/o", "PUT", "storage.objects.insert.chunk")
def upload_chunk(ctx: Ctx, bucket: str) -> Any:
    upload_id = ctx.request.args.get("upload_id", "")
    with _sessions_lock:
        session = _sessions.get(upload_id)
    if session is None or session.bucket != bucket:
        raise GoogleError(404, "notFound", "No such upload session.")
    data = ctx.request.get_data()
    content_range = ctx.request.headers.get("Content-Range", "")
    match = _CONTENT_RANGE.match(content_range) if content_range else None
    if content_range and match is None:
        raise GoogleError(400, "invalid", f"Invalid Content-Range header: {content_range}")
    with _sessions_lock:
        if match:
            first, _, total = match.groups()
            if total != "*":
                session.total = int(total)
            if first is not None:
                begin = int(first)
                if begin > len(session.buffer):
                    raise GoogleError(400, "invalid", "Content-Range starts past the bytes received so far.")
                session.buffer.extend(data[len(session.buffer) - begin :])
        else:  # a whole-object PUT without Content-Range
            session.buffer[:] = data
            session.total = len(data)
        received = len(session.buffer)
        done = session.total is not None and received >= session.total
        if done:
            _sessions.pop(upload_id, None)
    if not done:
        headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
        return Response(b"", status=308, headers=headers)
    payload = bytes(session.buffer)
    claimed = ctx.request.headers.get("x-goog-hash", "")
    for item in claimed.split(","):
        label, _, value = item.strip().partition("=")
        if label in ("crc32c", "md5"):
            _verify_hashes(payload, {"crc32c" if label == "crc32c" else "md5Hash": value})
    _verify_hashes(payload, session.metadata)
    obj = _write(ctx, bucket, session.name, payload, session.content_type, session.metadata, session.conditions)
    return json_response(_object_json(ctx, obj), 200)
