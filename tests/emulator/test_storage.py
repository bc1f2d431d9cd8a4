"""The Cloud Storage JSON API subset, driven by google-cloud-storage."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from typing import Any

import google_crc32c
import pytest
from google.api_core import exceptions

from tests.helpers.clients import control, storage_client

BUCKET = "demo-project-availability"
NAME = "snapshots/2026/availability v1+final.json"  # slashes, a space and a plus: all percent-encoded on the wire


@pytest.fixture
def bucket(emulator: Any) -> Any:
    return storage_client(emulator).bucket(BUCKET)


def _crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def test_upload_download_and_metadata(bucket: Any, caplog: pytest.LogCaptureFixture) -> None:
    data = json.dumps({"calendars": {"alice": []}}).encode()
    blob = bucket.blob(NAME)
    blob.metadata = {"asOf": "2026-11-22T00:00:00Z"}
    blob.upload_from_string(data, content_type="application/json")

    assert blob.generation
    assert blob.metageneration == 1
    fetched = bucket.get_blob(NAME)
    assert fetched is not None
    assert (fetched.name, fetched.bucket.name, fetched.size) == (NAME, BUCKET, len(data))
    assert fetched.content_type == "application/json"
    assert fetched.generation == blob.generation
    assert fetched.crc32c == _crc32c_b64(data)
    md5 = hashlib.md5(data).digest()  # noqa: S324 - Storage's md5Hash is MD5
    assert fetched.md5_hash == base64.b64encode(md5).decode()
    assert fetched.metadata == {"asOf": "2026-11-22T00:00:00Z"}
    assert fetched.updated is not None

    with caplog.at_level(logging.INFO, logger="google.cloud.storage"):
        assert bucket.blob(NAME).download_as_bytes() == data
        assert fetched.download_as_bytes(checksum="md5") == data  # via the mediaLink the metadata carries
    # The client validates x-goog-hash; it only logs when the server sends no checksum to validate.
    assert "checksum was returned" not in caplog.text


def test_overwrite_creates_a_new_larger_generation(bucket: Any) -> None:
    blob = bucket.blob("snap.json")
    blob.upload_from_string(b"1")
    first = blob.generation
    blob.upload_from_string(b"22")
    assert blob.generation > first
    assert bucket.blob("snap.json").download_as_bytes() == b"22"


def test_if_generation_match_precondition(bucket: Any, emulator: Any) -> None:
    blob = bucket.blob("snap.json")
    blob.upload_from_string(b"v1", if_generation_match=0)
    generation = blob.generation

    with pytest.raises(exceptions.PreconditionFailed) as caught:
        bucket.blob("snap.json").upload_from_string(b"v2", if_generation_match=0)
    assert caught.value.response.json()["error"]["errors"][0]["reason"] == "conditionNotMet"
    with pytest.raises(exceptions.PreconditionFailed):
        bucket.blob("snap.json").upload_from_string(b"v2", if_generation_match=generation + 1)

    fresh = bucket.blob("snap.json")
    fresh.upload_from_string(b"v2", if_generation_match=generation)
    assert fresh.generation > generation
    assert bucket.blob("snap.json").download_as_bytes() == b"v2"
    statuses = [e["status"] for e in control(emulator, "GET", "requests?method=storage.objects.insert")["requests"]]
    assert statuses == [200, 412, 412, 200]


def test_resumable_upload_in_several_chunks(bucket: Any, emulator: Any) -> None:
    data = bytes(range(256)) * 2400  # 600 KiB: three 256 KiB chunks
    blob = bucket.blob("big/snapshot.bin", chunk_size=256 * 1024)
    blob.upload_from_file(io.BytesIO(data), content_type="application/octet-stream", if_generation_match=0)

    assert blob.size == len(data)
    assert bucket.blob("big/snapshot.bin").download_as_bytes() == data
    methods = [e["method"] for e in control(emulator, "GET", "requests?method=storage.objects.insert*")["requests"]]
    assert methods == ["storage.objects.insert"] + ["storage.objects.insert.chunk"] * 3


def test_resumable_upload_honours_preconditions(bucket: Any) -> None:
    bucket.blob("race.bin").upload_from_string(b"first")
    with pytest.raises(exceptions.PreconditionFailed):
        bucket.blob("race.bin", chunk_size=256 * 1024).upload_from_file(io.BytesIO(b"x" * 1000), if_generation_match=0)


def test_range_download(bucket: Any) -> None:
    bucket.blob("r.txt").upload_from_string(b"0123456789")
    assert bucket.blob("r.txt").download_as_bytes(start=2, end=5) == b"2345"


def test_list_blobs_with_prefix_and_delimiter(bucket: Any, emulator: Any) -> None:
    for name in ("a/1.json", "a/2.json", "a/deep/3.json", "b/4.json"):
        bucket.blob(name).upload_from_string(b"{}")
    client = storage_client(emulator)
    assert [b.name for b in client.list_blobs(BUCKET, prefix="a/")] == ["a/1.json", "a/2.json", "a/deep/3.json"]
    iterator = client.list_blobs(BUCKET, prefix="a/", delimiter="/")
    assert [b.name for b in iterator] == ["a/1.json", "a/2.json"]
    assert iterator.prefixes == {"a/deep/"}
    assert [b.name for b in client.list_blobs(BUCKET, max_results=10, page_size=1)] == [
        "a/1.json",
        "a/2.json",
        "a/deep/3.json",
        "b/4.json",
    ]


def test_patch_metadata_bumps_metageneration(bucket: Any) -> None:
    blob = bucket.blob("m.json")
    blob.upload_from_string(b"{}")
    blob.metadata = {"source": "sync"}
    blob.patch()
    assert blob.metageneration == 2
    assert bucket.get_blob("m.json").metadata == {"source": "sync"}


def test_delete_and_missing_objects(bucket: Any) -> None:
    blob = bucket.blob(NAME)
    blob.upload_from_string(b"gone soon")
    blob.delete()
    assert bucket.get_blob(NAME) is None
    with pytest.raises(exceptions.NotFound) as caught:
        bucket.blob(NAME).download_as_bytes()
    assert caught.value.code == 404
    with pytest.raises(exceptions.NotFound):
        bucket.blob(NAME).delete()


def test_buckets(emulator: Any) -> None:
    client = storage_client(emulator)
    assert client.get_bucket(BUCKET).name == BUCKET
    created = client.create_bucket("demo-project-scratch")
    assert created.name == "demo-project-scratch"
    with pytest.raises(exceptions.Conflict):
        client.create_bucket("demo-project-scratch")
    with pytest.raises(exceptions.NotFound):
        client.get_bucket("no-such-bucket")
    assert client.lookup_bucket("no-such-bucket") is None
    with pytest.raises(exceptions.NotFound):
        client.bucket("no-such-bucket").blob("x").upload_from_string(b"x")
