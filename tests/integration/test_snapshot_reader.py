"""The snapshot reader under a threaded server: one read of the store at a time, stale copies served meanwhile."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.availability import SnapshotReader


class SlowStore:
    """A snapshot store whose reads block until released, counting them."""

    location = "memory://snapshot"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0
        self.release = threading.Event()
        self.started = threading.Event()
        self._lock = threading.Lock()

    def read(self) -> bytes | None:
        with self._lock:
            self.reads += 1
        self.started.set()
        assert self.release.wait(10)
        return self.data

    def write(self, data: bytes) -> None:  # pragma: no cover - the reader never writes
        raise AssertionError("the reader does not write")

    def read_versioned(self) -> tuple[bytes | None, str | None]:  # pragma: no cover
        raise AssertionError("the reader does not compare and swap")

    def replace(self, data: bytes, expected_generation: str | None) -> None:  # pragma: no cover
        raise AssertionError("the reader does not compare and swap")


def _document(as_of: str) -> bytes:
    return json.dumps({"version": 1, "asOf": as_of, "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z",
                       "calendars": {"alice": {"status": "ok", "busy": [], "bookingsPerDay": {}}}}).encode()


def test_many_threads_one_read_then_stale_copies_while_one_thread_rereads() -> None:
    now = [0.0]
    store = SlowStore(_document("2026-01-01T00:00:00Z"))
    reader = SnapshotReader(store, clock=lambda: now[0])

    with ThreadPoolExecutor(max_workers=20) as pool:
        first = [pool.submit(reader.current) for _ in range(20)]
        assert store.started.wait(5)
        store.release.set()
        snapshots = [job.result(timeout=10) for job in first]
    assert store.reads == 1  # a cold instance's first burst reads the store once, not 20 times
    assert all(s is snapshots[0] for s in snapshots) and snapshots[0] is not None

    now[0] = 10.0  # past the re-check interval
    store.release.clear()
    store.started.clear()
    with ThreadPoolExecutor(max_workers=10) as pool:
        rereading = pool.submit(reader.current)
        assert store.started.wait(5)
        meanwhile: list[Any] = [pool.submit(reader.current).result(timeout=5) for _ in range(9)]
        assert all(s is snapshots[0] for s in meanwhile)  # answered from the copy in hand, without waiting
        store.release.set()
        assert rereading.result(timeout=10) is snapshots[0]  # unchanged bytes: the parsed copy is kept
    assert store.reads == 2

    now[0] = 20.0
    store.data = _document("2026-01-01T00:05:00Z")
    renewed = reader.current()
    assert renewed is not None and renewed is not snapshots[0]
    assert renewed.as_of.minute == 5


def _stores(emulator: Any, tmp_path: Any) -> list[Any]:
    from shared.endpoints import Endpoints
    from shared.store import GcsStore, LocalStore

    return [LocalStore(tmp_path / "snapshot"),
            GcsStore("demo-project-availability", "snapshots/reader.json", Endpoints.for_emulator(emulator.url))]


def test_stores_answer_unchanged_without_the_bytes(emulator: Any, tmp_path: Any) -> None:
    for store in _stores(emulator, tmp_path):
        absent = store.read_changed(None)
        assert absent is not None and absent[0] is None
        assert store.read_changed(absent[1]) is None  # still absent
        store.write(_document("2026-01-01T00:00:00Z"))
        first = store.read_changed(absent[1])
        assert first is not None and first[0] == _document("2026-01-01T00:00:00Z") and first[1]
        assert store.read_changed(first[1]) is None, store.location  # unchanged: nothing downloaded
        store.write(_document("2026-01-01T00:05:00Z"))
        second = store.read_changed(first[1])
        assert second is not None and second[0] == _document("2026-01-01T00:05:00Z") and second[1] != first[1]


def test_the_reader_keeps_its_copy_while_the_store_says_unchanged(emulator: Any, tmp_path: Any) -> None:
    for store in _stores(emulator, tmp_path):
        store.write(_document("2026-01-01T00:00:00Z"))
        now = [0.0]
        reader = SnapshotReader(store, clock=lambda: now[0])  # noqa: B023  (read while `now` is this store's)
        first = reader.current()
        assert first is not None
        now[0] = 10.0
        assert reader.current() is first
        store.write(_document("2026-01-01T00:05:00Z"))
        now[0] = 20.0
        renewed = reader.current()
        assert renewed is not None and renewed is not first and renewed.as_of.minute == 5
