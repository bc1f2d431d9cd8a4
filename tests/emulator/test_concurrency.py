"""Many clients at once: every request answered, every request logged, state changes linearizable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import google.auth.transport.requests
import google_crc32c
from google.api_core import exceptions

from tests.helpers.clients import control, delegated_credentials, secret_manager_client, storage_client

THREADS = 200
SECRET = "projects/demo-project/secrets/calendar-credentials"
SCOPES = ["https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.freebusy"]
USERS = ["alice@example.com", "bob@example.com", "carol@example.com"]


def _all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` on `count` threads released together; exceptions are returned, not raised."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait(timeout=30)
        try:
            return work(index)
        except Exception as error:  # collected and asserted on below
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_200_concurrent_clients_all_succeed_and_are_all_logged(emulator: Any) -> None:
    # Parse the key once (the slow part), then one independent credential copy per thread, as a warm instance does.
    base = delegated_credentials(emulator, None, SCOPES)

    def work(index: int) -> tuple[str, str, int]:
        credentials = base.with_subject(USERS[index % len(USERS)])
        credentials.refresh(google.auth.transport.requests.Request())
        response = secret_manager_client(emulator).access_secret_version(name=f"{SECRET}/versions/latest")
        return credentials.token, response.name, response.payload.data_crc32c

    results = _all_at_once(THREADS, work)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    tokens = {token for token, _, _ in results}
    assert len(tokens) == THREADS
    assert {name for _, name, _ in results} == {f"{SECRET}/versions/1"}
    counts = control(emulator, "GET", "counts")["counts"]
    assert counts == {"oauth2.token": THREADS, "secretmanager.versions.access": THREADS}
    log = control(emulator, "GET", "requests")["requests"]
    assert len(log) == 2 * THREADS
    assert {entry["status"] for entry in log} == {200}
    state = emulator.emulator.state
    assert sorted(state.access_tokens[t].principal for t in tokens) == sorted(USERS[i % 3] for i in range(THREADS))


def test_racing_create_only_uploads_have_exactly_one_winner(emulator: Any) -> None:
    def work(index: int) -> int:
        blob = storage_client(emulator).bucket("demo-project-availability").blob("race/snapshot.json")
        blob.upload_from_string(f'{{"writer": {index}}}'.encode(), if_generation_match=0, retry=None)
        return index

    results = _all_at_once(50, work)

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(error, exceptions.PreconditionFailed) for error in losers)
    stored = storage_client(emulator).bucket("demo-project-availability").blob("race/snapshot.json")
    assert stored.download_as_bytes() == f'{{"writer": {winners[0]}}}'.encode()


def test_concurrent_add_version_numbers_are_unique_and_dense(emulator: Any) -> None:
    def work(index: int) -> str:
        data = f"v{index}".encode()
        added = secret_manager_client(emulator).add_secret_version(
            parent=SECRET, payload={"data": data, "data_crc32c": google_crc32c.value(data)}
        )
        return str(added.name)

    names = _all_at_once(50, work)

    assert not [n for n in names if isinstance(n, Exception)]
    assert sorted(int(name.rsplit("/", 1)[1]) for name in names) == list(range(2, 52))
