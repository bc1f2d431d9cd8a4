"""The snapshot store under the sync: both backends (a local directory, and Cloud Storage through
google-cloud-storage against the emulator's Storage API), atomic replacement, and the compare-and-swap that keeps
two instances from both writing one scheduled run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.availability import Snapshot
from shared.clock import PinnedClock
from shared.errors import PreconditionFailed
from shared.runtime import Runtime, set_runtime
from shared.store import GcsStore, LocalStore, SnapshotStore
from shared.sync import AvailabilitySync, parse_schedule_time
from tests.helpers.clients import id_token, storage_client
from tests.helpers.function_app import function_app
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import clear_log, counts, make_config, make_runtime, set_faults

SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"
BUCKET = "demo-project-availability"
OBJECT = "snapshots/availability.json"
LOCAL_LOCATION = 'location = "file://.local/snapshot"'


def runtime_for(backend: str, emulator: Any, tmp_path: Path) -> Runtime:
    if backend == "gs":
        config = make_config(emulator, replace={LOCAL_LOCATION: f'location = "gs://{BUCKET}/{OBJECT}"'})
        return make_runtime(emulator, config=config)
    return make_runtime(emulator, tmp_path / "snapshot")


def store_of(runtime: Runtime) -> SnapshotStore:
    assert runtime.store is not None
    return runtime.store


@pytest.fixture(params=["file", "gs"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def big_snapshot(version: int, calendars: int) -> bytes:
    """A valid snapshot whose every byte depends on `version`, so a mix of two versions cannot parse as either."""
    start = datetime(2026, 11, 23, tzinfo=UTC)
    busy = [[f"2026-11-{23 + d % 5:02d}T{h:02d}:0{version}:00Z", f"2026-11-{23 + d % 5:02d}T{h:02d}:3{version}:00Z"]
            for d in range(5) for h in range(8, 18)]
    body = {
        "version": 1,
        "asOf": f"2026-11-22T00:00:0{version}Z",
        "from": start.isoformat(),
        "to": (start + timedelta(days=28)).isoformat(),
        "scheduleTime": None,
        "calendars": {f"v{version}-{i:05d}": {"status": "ok", "busy": busy, "bookingsPerDay": {}}
                      for i in range(calendars)},
    }
    return json.dumps(body).encode()


# --- compare-and-swap ---------------------------------------------------------------------------------------------
def test_replace_writes_only_over_the_generation_it_read(backend: str, emulator: Any, tmp_path: Path) -> None:
    store = store_of(runtime_for(backend, emulator, tmp_path))
    assert store.read_versioned() == (None, None)

    store.replace(b'{"n": 1}', None)  # "only if there is none yet"
    with pytest.raises(PreconditionFailed):
        store.replace(b'{"n": 2}', None)
    data, first = store.read_versioned()
    assert data == b'{"n": 1}' and first is not None

    store.replace(b'{"n": 3}', first)
    with pytest.raises(PreconditionFailed):
        store.replace(b'{"n": 4}', first)  # someone wrote since `first` was read
    data, second = store.read_versioned()
    assert data == b'{"n": 3}' and second not in (None, first)


class RacingStore:
    """A real store whose first conditional write lets another instance finish a sync first: the race that two
    instances receiving one scheduled run may run, made certain instead of likely."""

    def __init__(self, inner: SnapshotStore, before_first_write: Callable[[], None]) -> None:
        self._inner = inner
        self._before: Callable[[], None] | None = before_first_write
        self.location = inner.location

    def read(self) -> bytes | None:
        return self._inner.read()

    def write(self, data: bytes) -> None:
        self._inner.write(data)

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        return self._inner.read_versioned()

    def replace(self, data: bytes, expected_generation: str | None) -> None:
        if self._before is not None:
            before, self._before = self._before, None
            before()
        self._inner.replace(data, expected_generation)


def test_two_instances_with_one_scheduled_run_write_once(backend: str, emulator: Any, tmp_path: Path) -> None:
    when = parse_schedule_time("2026-10-16T12:00:00Z")
    instance_a = runtime_for(backend, emulator, tmp_path)
    instance_b = runtime_for(backend, emulator, tmp_path)
    instance_b.clock = PinnedClock(instance_a.now() + timedelta(seconds=2))  # so that the two snapshots differ
    winner: dict[str, Any] = {}

    def b_syncs_first() -> None:
        winner["report"] = AvailabilitySync.from_runtime(instance_b).run(schedule_time=when)
        winner["bytes"] = store_of(instance_b).read()

    racing = RacingStore(store_of(instance_a), b_syncs_first)
    clear_log(emulator)

    loser = AvailabilitySync(instance_a.config, instance_a.calendar, racing, instance_a.clock).run(schedule_time=when)

    assert winner["report"].duplicate is False
    assert loser.duplicate is True  # found the run covered when its conditional write failed
    assert loser.freebusy_calls == 1  # and says what it spent before finding out
    assert store_of(instance_a).read() == winner["bytes"]  # the loser did not overwrite
    assert counts(emulator)["calendar.freebusy.query"] == 2  # both asked Google: the accepted cost of the race


def test_a_manual_run_losing_the_race_still_writes_and_keeps_the_schedule_time(
    backend: str, emulator: Any, tmp_path: Path
) -> None:
    when = parse_schedule_time("2026-10-16T12:00:00Z")
    instance_a = runtime_for(backend, emulator, tmp_path)
    instance_b = runtime_for(backend, emulator, tmp_path)

    def b_syncs_the_scheduled_run_first() -> None:
        AvailabilitySync.from_runtime(instance_b).run(schedule_time=when)

    racing = RacingStore(store_of(instance_a), b_syncs_the_scheduled_run_first)

    report = AvailabilitySync(instance_a.config, instance_a.calendar, racing, instance_a.clock).run()

    assert report.duplicate is False
    data = json.loads(store_of(instance_a).read() or b"")
    assert data["scheduleTime"] == "2026-10-16T12:00:00Z"  # carried over from the run it raced with


# --- atomicity ----------------------------------------------------------------------------------------------------
def _read_while_writing(store: SnapshotStore, versions: list[bytes], writes: int,
                        write: Callable[[bytes], None]) -> tuple[int, list[str]]:
    """Parse the snapshot in a loop while `write` replaces it `writes` times; (reads, problems seen)."""
    stop = threading.Event()
    reads = 0
    problems: list[str] = []

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            raw = store.read()
            reads += 1
            if raw not in versions:
                problems.append(f"read {len(raw or b'')} bytes matching no written version")
                continue
            try:
                Snapshot.parse(raw)
            except ValueError as error:
                problems.append(str(error))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for index in range(writes):
            write(versions[index % len(versions)])
    finally:
        stop.set()
        thread.join(timeout=30)
    return reads, problems


def test_a_reader_never_sees_half_a_snapshot(backend: str, emulator: Any, tmp_path: Path) -> None:
    store = store_of(runtime_for(backend, emulator, tmp_path))
    versions = [big_snapshot(v, 400 if backend == "file" else 200) for v in (1, 2)]  # ~1 MB, ~0.5 MB
    store.write(versions[0])

    def conditional(data: bytes) -> None:
        store.replace(data, store.read_versioned()[1])

    reads, problems = _read_while_writing(store, versions, 10, store.write)
    more, more_problems = _read_while_writing(store, versions, 10, conditional)

    assert problems == [] and more_problems == []
    assert reads > 0 and more > 0


def test_the_reader_check_does_see_a_torn_write(tmp_path: Path) -> None:
    """The same reader against a naive in-place write: it does catch half a snapshot, so the test above means it."""
    store = LocalStore(tmp_path)
    versions = [big_snapshot(v, 500) for v in (1, 2)]
    store.write(versions[0])

    def in_place(data: bytes) -> None:
        with store.path.open("wb") as file:
            file.write(data[: len(data) // 2])
            file.flush()
            time.sleep(0.05)
            file.write(data[len(data) // 2 :])

    _, problems = _read_while_writing(store, versions, 4, in_place)
    assert problems


# --- Cloud Storage round trip -------------------------------------------------------------------------------------
def test_the_sync_writes_to_cloud_storage_and_slots_read_it_back(emulator: Any, tmp_path: Path) -> None:
    runtime = runtime_for("gs", emulator, tmp_path)
    set_runtime(runtime)
    try:
        token = id_token(emulator, SCHEDULER, "http://localhost/")
        answer = function_app("sync").test_client().post("/", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["snapshot"] == f"gs://{BUCKET}/{OBJECT}"

        blob = storage_client(emulator).bucket(BUCKET).get_blob(OBJECT)  # google-cloud-storage, as in production
        assert blob is not None and blob.content_type == "application/json"
        snapshot = Snapshot.parse(blob.download_as_bytes())
        assert set(snapshot.calendars) == {"alice", "bob", "carol"}

        clear_log(emulator)
        first = current_clock().now().date() + timedelta(days=1)
        slots = function_app("booking").test_client().get(
            f"/slots?calendar=bob&from={first}&to={first + timedelta(days=6)}&duration=30"
        ).get_json()
        assert slots["source"] == "snapshot"
        assert not any(method.startswith("calendar.") for method in counts(emulator))
        assert counts(emulator).get("storage.objects.get", 0) >= 1  # read through the Storage API
    finally:
        set_runtime(None)


def test_a_storage_failure_answers_503_and_keeps_the_previous_object(emulator: Any, tmp_path: Path) -> None:
    runtime = runtime_for("gs", emulator, tmp_path)
    store = store_of(runtime)
    assert isinstance(store, GcsStore)
    store.retry_deadline = 1.0  # the library backs off for real seconds; keep the test short
    set_runtime(runtime)
    try:
        token = id_token(emulator, SCHEDULER, "http://localhost/")
        client = function_app("sync").test_client()
        assert client.post("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        before = storage_client(emulator).bucket(BUCKET).get_blob(OBJECT)
        assert before is not None
        set_faults(emulator, [{"method": "storage.objects.insert", "kind": "503", "rate": 1.0}])

        answer = client.post("/", headers={"Authorization": f"Bearer {token}"})

        assert answer.status_code == 503
        assert answer.get_json()["error"]["code"] == "upstream_unavailable"
        after = storage_client(emulator).bucket(BUCKET).get_blob(OBJECT)
        assert after is not None and after.generation == before.generation
        assert after.download_as_bytes() == before.download_as_bytes()
    finally:
        set_runtime(None)
