"""The Cloud Storage JSON API subset google-cloud-storage uses for the availability snapshot.

Uploads (`uploadType=media|multipart|resumable`: storage_uploads.py), downloads (`alt=media`, with
`x-goog-hash` so the client's checksum validation runs), object metadata/list/patch/delete, bucket
insert/get/list/delete. Writes replace the whole object under the state lock; every write gets a new, strictly
larger generation (microsecond-timestamp generations, as Google's are), so `ifGenerationMatch` preconditions are
meaningful: a mismatch answers 412 `conditionNotMet`. No authentication is required (clients use
`AnonymousCredentials`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from typing import Any
from urllib.parse import quote

import google_crc32c
from werkzeug.wrappers import Response

from .clock import CLOCK
from .errors import GoogleError
from .routing import Ctx, RouteTable
from .state import StoredObject, rfc3339

routes = RouteTable()

PROJECT_NUMBER = "123456789012"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_PRECONDITION = "At least one of the pre-conditions you specified did not hold."
_generation_lock = threading.Lock()
_last_generation = 0


def _next_generation() -> int:
    """A process-wide, strictly increasing generation (microseconds since the epoch, like Google's)."""
    global _last_generation
    with _generation_lock:
        _last_generation = max(_last_generation + 1, int(CLOCK.now() * 1_000_000))
        return _last_generation


# --- hashes and resources ---------------------------------------------------------------------------------
def crc32c_b64(data: bytes) -> str:
    digest: bytes = google_crc32c.Checksum(data).digest()  # type: ignore[no-untyped-call]  # google-crc32c: no hints
    return base64.b64encode(digest).decode()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - Storage's content hash


def _quoted(name: str) -> str:
    return quote(name, safe="")


def _object_json(ctx: Ctx, obj: StoredObject) -> dict[str, Any]:
    data = obj.data
    path = f"b/{obj.bucket}/o/{_quoted(obj.name)}"
    body: dict[str, Any] = {
        "kind": "storage#object",
        "id": f"{obj.bucket}/{obj.name}/{obj.generation}",
        "selfLink": f"{ctx.base_url}/storage/v1/{path}",
        "mediaLink": f"{ctx.base_url}/download/storage/v1/{path}?generation={obj.generation}&alt=media",
        "name": obj.name,
        "bucket": obj.bucket,
        "generation": str(obj.generation),
        "metageneration": str(obj.metageneration),
        "contentType": obj.content_type,
        "storageClass": "STANDARD",
        "size": str(len(data)),
        "md5Hash": md5_b64(data),
        "crc32c": crc32c_b64(data),
        "etag": base64.b64encode(f"{obj.generation}/{obj.metageneration}".encode()).decode(),
        "timeCreated": obj.updated,
        "updated": obj.updated,
        "timeStorageClassUpdated": obj.updated,
    }
    if obj.metadata:
        body["metadata"] = dict(obj.metadata)
    return body


def _bucket_json(ctx: Ctx, name: str) -> dict[str, Any]:
    return {
        "kind": "storage#bucket",
        "selfLink": f"{ctx.base_url}/storage/v1/b/{name}",
        "id": name,
        "name": name,
        "projectNumber": PROJECT_NUMBER,
        "metageneration": "1",
        "location": "US",
        "locationType": "multi-region",
        "storageClass": "STANDARD",
        "etag": "CAE=",
        "timeCreated": rfc3339(0),
        "updated": rfc3339(0),
        "iamConfiguration": {
            "uniformBucketLevelAccess": {"enabled": True},
            "publicAccessPrevention": "enforced",
        },
    }


# --- lookups and preconditions ----------------------------------------------------------------------------
def _bucket(ctx: Ctx, bucket: str) -> dict[str, StoredObject]:
    objects = ctx.state.buckets.get(bucket)
    if objects is None:
        raise GoogleError(404, "notFound", "The specified bucket does not exist.")
    return objects


def _object(ctx: Ctx, bucket: str, name: str) -> StoredObject:
    obj = _bucket(ctx, bucket).get(name)
    generation = ctx.request.args.get("generation")
    if obj is None or (generation and generation != str(obj.generation)):
        raise GoogleError(404, "notFound", f"No such object: {bucket}/{name}")
    return obj


def _int_arg(ctx: Ctx, name: str) -> int | None:
    raw = ctx.request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise GoogleError(400, "invalid", f"Invalid argument for {name}: {raw}", location=name) from None


def _preconditions(ctx: Ctx) -> dict[str, int]:
    names = ("ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch")
    return {name: value for name in names if (value := _int_arg(ctx, name)) is not None}


def _check(current: StoredObject | None, conditions: dict[str, int], *, read: bool = False) -> None:
    """Google's request preconditions: a failed *Match is 412; a failed *NotMatch is 304 on reads, 412 on writes."""
    generation = current.generation if current else 0
    metageneration = current.metageneration if current else 0
    failed = False
    if "ifGenerationMatch" in conditions and conditions["ifGenerationMatch"] != generation:
        failed = True
    if "ifMetagenerationMatch" in conditions and (
        current is None or conditions["ifMetagenerationMatch"] != metageneration
    ):
        failed = True
    if failed:
        raise GoogleError(412, "conditionNotMet", _PRECONDITION, location="If-Match", location_type="header")
    not_modified = ("ifGenerationNotMatch" in conditions and conditions["ifGenerationNotMatch"] == generation) or (
        "ifMetagenerationNotMatch" in conditions
        and current is not None
        and conditions["ifMetagenerationNotMatch"] == metageneration
    )
    if "ifGenerationNotMatch" in conditions and current is None and conditions["ifGenerationNotMatch"] != 0:
        not_modified = True  # "If no live object exists, the precondition fails."
    if not_modified:
        if read:
            raise _NotModified()
        raise GoogleError(412, "conditionNotMet", _PRECONDITION, location="If-None-Match", location_type="header")


class _NotModified(GoogleError):
    def __init__(self) -> None:
        super().__init__(304, "notModified", "Not Modified")

    def response(self) -> Response:
        return Response(status=304)


def _write(
    ctx: Ctx,
    bucket: str,
    name: str,
    data: bytes,
    content_type: str,
    metadata: dict[str, Any],
    conditions: dict[str, int],
) -> StoredObject:
    """Replace the whole object atomically (preconditions checked under the same lock)."""
    if not name:
        raise GoogleError(400, "required", "Required", location="resource.name")
    with ctx.state.lock:
        objects = _bucket(ctx, bucket)
        _check(objects.get(name), conditions)
        user_metadata = metadata.get("metadata")
        obj = StoredObject(
            bucket=bucket,
            name=name,
            data_b64=base64.b64encode(data).decode(),
            content_type=content_type or "application/octet-stream",
            generation=_next_generation(),
            metageneration=1,
            updated=rfc3339(),
            metadata={str(k): str(v) for k, v in user_metadata.items()} if isinstance(user_metadata, dict) else {},
        )
        objects[name] = obj
    ctx.log["object"] = f"{bucket}/{name}"
    return obj


def _verify_hashes(data: bytes, metadata: dict[str, Any]) -> None:
    claimed_crc, claimed_md5 = metadata.get("crc32c"), metadata.get("md5Hash")
    if claimed_crc is not None and claimed_crc != crc32c_b64(data):
        raise GoogleError(
            400, "invalid", f'Provided CRC32C "{claimed_crc}" doesn\'t match calculated CRC32C "{crc32c_b64(data)}".'
        )
    if claimed_md5 is not None and claimed_md5 != md5_b64(data):
        raise GoogleError(
            400, "invalid", f'Provided MD5 hash "{claimed_md5}" doesn\'t match calculated MD5 hash "{md5_b64(data)}".'
        )


def _json_object(ctx: Ctx) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise GoogleError(400, "parseError", "Parse Error")
    return body


# --- buckets ----------------------------------------------------------------------------------------------
@routes.route("/storage/v1/b", "POST", "storage.buckets.insert")
def insert_bucket(ctx: Ctx) -> Any:
    body = _json_object(ctx)
    name = str(body.get("name", ""))
    if not ctx.request.args.get("project"):
        raise GoogleError(400, "required", "Required parameter: project", location="project")
    if not _BUCKET_NAME.match(name):
        raise GoogleError(400, "invalid", "Invalid bucket name: '" + name + "'")
    with ctx.state.lock:
        if name in ctx.state.buckets:
            raise GoogleError(
                409, "conflict", "Your previous request to create the named bucket succeeded and you already own it."
            )
        ctx.state.buckets[name] = {}
    return _bucket_json(ctx, name)


@routes.route("/storage/v1/b", "GET", "storage.buckets.list")
def list_buckets(ctx: Ctx) -> Any:
    with ctx.state.lock:
        names = sorted(ctx.state.buckets)
    return {"kind": "storage#buckets", "items": [_bucket_json(ctx, n) for n in names]}


@routes.route("/storage/v1/b/<bucket>", "GET", "storage.buckets.get")
def get_bucket(ctx: Ctx, bucket: str) -> Any:
    with ctx.state.lock:
        _bucket(ctx, bucket)
    return _bucket_json(ctx, bucket)


@routes.route("/storage/v1/b/<bucket>", "DELETE", "storage.buckets.delete")
def delete_bucket(ctx: Ctx, bucket: str) -> Any:
    with ctx.state.lock:
        if _bucket(ctx, bucket):
            raise GoogleError(409, "conflict", "The bucket you tried to delete is not empty.")
        del ctx.state.buckets[bucket]
    return Response(status=204)


# --- objects: metadata ------------------------------------------------------------------------------------
@routes.route("/storage/v1/b/<bucket>/o", "GET", "storage.objects.list")
def list_objects(ctx: Ctx, bucket: str) -> Any:
    args = ctx.request.args
    prefix, delimiter = args.get("prefix", ""), args.get("delimiter", "")
    start, end = args.get("startOffset", ""), args.get("endOffset", "")
    page_size = max(1, min(_int_arg(ctx, "maxResults") or 1000, 1000))
    after = base64.urlsafe_b64decode(args["pageToken"]).decode() if args.get("pageToken") else None
    with ctx.state.lock:
        objects = sorted(_bucket(ctx, bucket).values(), key=lambda o: o.name)
        items: list[dict[str, Any]] = []
        prefixes: set[str] = set()
        token = None
        for obj in objects:
            name = obj.name
            if not name.startswith(prefix) or (start and name < start) or (end and name >= end):
                continue
            if after is not None and name <= after:
                continue
            if delimiter and delimiter in name[len(prefix) :]:
                prefixes.add(name[: len(prefix) + name[len(prefix) :].index(delimiter) + len(delimiter)])
                continue
            if len(items) == page_size:
                token = base64.urlsafe_b64encode(items[-1]["name"].encode()).decode()
                break
            items.append(_object_json(ctx, obj))
    body: dict[str, Any] = {"kind": "storage#objects"}
    if items:
        body["items"] = items
    if prefixes:
        body["prefixes"] = sorted(prefixes)
    if token:
        body["nextPageToken"] = token
    return body


@routes.route("/storage/v1/b/<bucket>/o/<path:name>", "GET", "storage.objects.get")
def get_object(ctx: Ctx, bucket: str, name: str) -> Any:
    if ctx.request.args.get("alt") == "media":
        return _media(ctx, bucket, name)
    with ctx.state.lock:
        obj = _object(ctx, bucket, name)
        _check(obj, _preconditions(ctx), read=True)
        return _object_json(ctx, obj)


@routes.route("/storage/v1/b/<bucket>/o/<path:name>", "PATCH", "storage.objects.patch")
def patch_object(ctx: Ctx, bucket: str, name: str) -> Any:
    body = _json_object(ctx)
    with ctx.state.lock:
        obj = _object(ctx, bucket, name)
        _check(obj, _preconditions(ctx))
        if "contentType" in body:
            obj.content_type = str(body["contentType"] or "application/octet-stream")
        if "metadata" in body:
            if body["metadata"] is None:
                obj.metadata = {}
            else:
                for key, value in dict(body["metadata"]).items():
                    if value is None:
                        obj.metadata.pop(key, None)
                    else:
                        obj.metadata[str(key)] = str(value)
        obj.metageneration += 1
        obj.updated = rfc3339()
        return _object_json(ctx, obj)


@routes.route("/storage/v1/b/<bucket>/o/<path:name>", "DELETE", "storage.objects.delete")
def delete_object(ctx: Ctx, bucket: str, name: str) -> Any:
    with ctx.state.lock:
        obj = _object(ctx, bucket, name)
        _check(obj, _preconditions(ctx))
        del ctx.state.buckets[bucket][name]
    return Response(status=204)


# --- objects: media ---------------------------------------------------------------------------------------
@routes.route("/download/storage/v1/b/<bucket>/o/<path:name>", "GET", "storage.objects.get")
def download_object(ctx: Ctx, bucket: str, name: str) -> Any:
    return _media(ctx, bucket, name)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _media(ctx: Ctx, bucket: str, name: str) -> Response:
    with ctx.state.lock:
        obj = _object(ctx, bucket, name)
        _check(obj, _preconditions(ctx), read=True)
        data, content_type = obj.data, obj.content_type
        generation, metageneration = obj.generation, obj.metageneration
    headers = {
        "x-goog-hash": f"crc32c={crc32c_b64(data)},md5={md5_b64(data)}",
        "x-goog-generation": str(generation),
        "x-goog-metageneration": str(metageneration),
        "x-goog-stored-content-length": str(len(data)),
        "x-goog-stored-content-encoding": "identity",
        "x-goog-storage-class": "STANDARD",
        "ETag": '"' + md5_b64(data) + '"',
        "Accept-Ranges": "bytes",
    }
    status = 200
    match = _RANGE.match(ctx.request.headers.get("Range", ""))
    if match and data:
        first, last = match.groups()
        if first == "":
            begin, end = max(0, len(data) - int(last or 0)), len(data) - 1
        else:
            begin, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
        if begin >= len(data) or begin > end:
            raise GoogleError(416, "requestedRangeNotSatisfiable", "Request range not satisfiable")
        headers["Content-Range"] = f"bytes {begin}-{end}/{len(data)}"
        data, status = data[begin : end + 1], 206
    return Response(data, status=status, headers=headers, content_type=content_type)
