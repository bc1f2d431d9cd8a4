"""Where the availability snapshot lives: a local directory (`file://`) or a Cloud Storage object (`gs://`).

Both backends replace the whole snapshot at once: a reader sees the old one or the new one, never half of
either, and a sync that fails before writing leaves the last good snapshot in place.

Besides the plain `read`/`write`, each backend offers a compare-and-swap pair for writers that may race (the
sync on several instances): `read_versioned()` returns the snapshot with an opaque generation, and
`replace(data, expected_generation)` writes only if the snapshot is still that generation (`None`: only if there
is none yet), else raises `PreconditionFailed`. Cloud Storage does this with `ifGenerationMatch` (0 = "no live
object"); the local directory with a content digest compared under an exclusive `flock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from .endpoints import Endpoints
from .errors import PreconditionFailed, UpstreamUnavailable

SNAPSHOT_NAME = "availability.json"


class SnapshotStore(Protocol):
    location: str

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        """The snapshot and its generation, `(None, None)` when there is none."""
        ...

    def replace(self, data: bytes, expected_generation: str | None) -> None:
        """Write `data` only if the snapshot is still `expected_generation` (None: absent); else PreconditionFailed."""
        ...


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

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        data = self.read()
        return data, _digest(data)

    def read_changed(self, seen: str | None) -> tuple[bytes | None, str | None] | None:
        """The snapshot and a token for it, or None while it is still the one `seen` names: a `stat`, no read
        (every write replaces the file, so a new snapshot is a new inode)."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None if seen == "" else (None, "")
        token = f"{status.st_ino}:{status.st_mtime_ns}:{status.st_size}"
        if token == seen:
            return None
        return self.read(), token

    def replace(self, data: bytes, expected_generation: str | None) -> None:
        with self._exclusive():
            if _digest(self.read()) != expected_generation:
                raise PreconditionFailed("The snapshot changed since it was read.")
            self.write(data)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """An exclusive lock between processes (and threads: each call opens its own file description)."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f".{SNAPSHOT_NAME}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _digest(data: bytes | None) -> str | None:
    """A local snapshot's generation: the digest of its content (every snapshot carries its own `asOf`)."""
    return hashlib.sha256(data).hexdigest() if data is not None else None


class GcsStore:
    """One object in a bucket, written with a single-request upload (which Cloud Storage applies atomically)."""

    def __init__(self, bucket: str, name: str, endpoints: Endpoints, *, retry_deadline: float = 20.0) -> None:
        self.bucket_name = bucket
        self.object_name = name
        self.location = f"gs://{bucket}/{name}"
        self.retry_deadline = retry_deadline
        self._endpoints = endpoints
        self._lock = threading.Lock()
        self._client: Any = None

    def _blob(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import storage  # type: ignore[attr-defined, unused-ignore]

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
            return bytes(self._blob().download_as_bytes(timeout=10, retry=self._retry()))
        except api_exceptions.NotFound:
            return None
        except (api_exceptions.GoogleAPIError, OSError) as error:  # GoogleAPIError: also RetryError
            raise UpstreamUnavailable(f"Cloud Storage is unavailable ({type(error).__name__}).") from None

    def write(self, data: bytes) -> None:
        from google.api_core import exceptions as api_exceptions

        try:
            self._blob().upload_from_string(data, content_type="application/json", timeout=30, retry=self._retry())
        except (api_exceptions.GoogleAPIError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage refused the snapshot ({type(error).__name__}).") from None

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        from google.api_core import exceptions as api_exceptions

        blob = self._blob()
        try:
            data = bytes(blob.download_as_bytes(timeout=10, retry=self._retry()))
        except api_exceptions.NotFound:
            return None, None
        except (api_exceptions.GoogleAPIError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage is unavailable ({type(error).__name__}).") from None
        return data, str(blob.generation)  # from the download's x-goog-generation header

    def read_changed(self, seen: str | None) -> tuple[bytes | None, str | None] | None:
        """The object and its generation, or None while its generation is still `seen` (Cloud Storage answers
        304 to `ifGenerationNotMatch`: no download of an unchanged snapshot every few seconds)."""
        from google.api_core import exceptions as api_exceptions

        blob = self._blob()
        condition = int(seen) if seen else None
        try:
            data = bytes(blob.download_as_bytes(timeout=10, retry=self._retry(), if_generation_not_match=condition))
        except api_exceptions.NotModified:
            return None
        except api_exceptions.NotFound:
            return None if seen == "" else (None, "")
        except (api_exceptions.GoogleAPIError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage is unavailable ({type(error).__name__}).") from None
        return data, str(blob.generation)

    def replace(self, data: bytes, expected_generation: str | None) -> None:
        from google.api_core import exceptions as api_exceptions

        try:
            self._blob().upload_from_string(
                data,
                content_type="application/json",
                timeout=30,
                if_generation_match=int(expected_generation) if expected_generation else 0,
                retry=self._retry(),
            )
        except api_exceptions.PreconditionFailed:
            raise PreconditionFailed("The snapshot changed since it was read.") from None
        except (api_exceptions.GoogleAPIError, OSError) as error:
            raise UpstreamUnavailable(f"Cloud Storage refused the snapshot ({type(error).__name__}).") from None

    def _retry(self) -> Any:
        """The library's retry (transient errors only), bounded well inside a function's timeout: its default
        keeps trying for 120 s, and running out raises `RetryError`, which is not a `GoogleAPICallError`."""
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(self.retry_deadline)


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
