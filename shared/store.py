"""Where the availability snapshot lives: a local directory (`file://`) or a Cloud Storage object (`gs://`).

Both backends replace the whole snapshot at once: a reader sees the old one or the new one, never half of
either, and a sync that fails before writing leaves the last good snapshot in place.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from .endpoints import Endpoints
from .errors import UpstreamUnavailable

SNAPSHOT_NAME = "availability.json"


class SnapshotStore(Protocol):
    location: str

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...


class LocalStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / SNAPSHOT_NAME
        self.location = f"file://{self.path}"

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".snapshot-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)  # atomic on POSIX: readers see old or new, never a mix
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class GcsStore:
    """One object in a bucket, written with a single-request upload (which Cloud Storage applies atomically)."""

    def __init__(self, bucket: str, name: str, endpoints: Endpoints) -> None:
        self.bucket_name = bucket
        self.object_name = name
        self.location = f"gs://{bucket}/{name}"
        self._endpoints = endpoints
        self._lock = threading.Lock()
        self._client: Any = None

    def _blob(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import storage  # type: ignore[attr-defined]

                if self._endpoints.storage is None:
                    self._client = storage.Client()
                else:
                    from google.auth.credentials import AnonymousCredentials

                    self._client = storage.Client(
                        project="local",
                        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                        client_options={"api_endpoint": self._endpoints.storage},
                    )
        return self._client.bucket(self.bucket_name).blob(self.object_name)

    def read(self) -> bytes | None:
        from google.api_core import exceptions as api_exceptions

        try:
            return bytes(self._blob().download_as_bytes(timeout=10))
        except api_exceptions.NotFound:
            return None
        except (api_exceptions.ServiceUnavailable, api_exceptions.InternalServerError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage is unavailable ({type(error).__name__}).") from None

    def write(self, data: bytes) -> None:
        from google.api_core import exceptions as api_exceptions

        try:
            self._blob().upload_from_string(data, content_type="application/json", timeout=30)
        except (api_exceptions.GoogleAPICallError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage refused the snapshot ({type(error).__name__}).") from None


def open_store(location: str, endpoints: Endpoints, *, base: Path | None = None) -> SnapshotStore:
    """`file://relative/dir`, `file:///absolute/dir` or `gs://bucket/path/object.json`."""
    parsed = urlparse(location)
    if parsed.scheme == "gs":
        name = parsed.path.lstrip("/") or SNAPSHOT_NAME
        return GcsStore(parsed.netloc, name, endpoints)
    if parsed.scheme == "file":
        raw = parsed.netloc + parsed.path
        path = Path(raw)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return LocalStore(path)
    raise ValueError(f"snapshot location must start with file:// or gs://, not {location!r}")
