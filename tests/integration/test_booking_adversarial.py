"""Adversarial crash tests of the booking guarantee (issue 12), over HTTP only.

Every scenario runs real functions-framework processes (booking, and sync for the sweep) on the emulator with read
lag on, kills one with SIGKILL at a batch boundary of the protocol (shared/booking.py's docstring), lets other
instances, the client's retry (same Idempotency-Key) and the sync's sweep act, and then checks the README's promises
from `/_emulator/state` alone: no two confirmed bookings overlap (buffers included); every 201 (or 200 of a move)
answered still stands; nothing is confirmed for a 409 or 503; after one sweep past the claim TTL no claim holds
capacity for a booking that does not stand, and no booking holds more than one of its day's tokens.

How a kill lands on a batch boundary, with nothing but the emulator's control API: a latency rule on one method id
(`calendar.batch`, or `calendar.events.patch` for the top-level writes of a commit or a cancel) holds each such
request `HOLD_MS` inside the emulator before it runs. The test waits (in the request log) until the step before the
boundary has completed, gives the instance `GRACE_S` to send its next request (which then sits in the emulator),
kills the process, and then either lets that request land (the write happened, its answer never arrived) or
drops it with a `drop` fault on the same method id (injected after the latency, so it never runs). The log then
shows which happened, and every scenario asserts that it did. Time past the claim TTL is the emulator's clock
(`POST /_emulator/clock`), with later instances started on the same later clock (`BOOKING_CLOCK`): no sleeps.
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.demo_calendars import claims_calendar_id
from tests.helpers.booking_support import ALICE, at, booking_body, clear_events, workday, workdays
from tests.helpers.clients import control, id_token
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import ROOT, config_text, requests_log, set_faults, set_latency

HOLD_MS = 800  # how long the emulator holds a request of the chosen method id: the window a kill lands in
GRACE_S = 0.35  # how long an instance may take to send its next request after the step before it completed
MEANWHILE_HOLD_MS = 1800  # the same, where another instance acts while the request is held
READ_LAG_MS = 150  # Google's harsher reading: lists and free/busy lag the writes (CALENDAR.md)
SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"
SYNC_AUDIENCE = "http://127.0.0.1:8080/sync"  # the sync's configured audience (config/example.toml)
BUFFER = timedelta(minutes=10)  # buffer_after_minutes of the example config
CLAIMS = claims_calendar_id(ALICE)


def _ttl() -> timedelta:
    booking = tomllib.loads((ROOT / "config" / "example.toml").read_text())["booking"]
    return timedelta(seconds=int(booking.get("claim_ttl_seconds", 900)))


PAST_TTL = _ttl() + timedelta(seconds=60)


# --- processes -------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    url: str
    target: str

    def kill(self) -> None:
        """SIGKILL to the whole process group: functions-framework serves through gunicorn, whose worker (the
        process that runs the request) would outlive a SIGKILL of the master alone and finish the request."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def book(self, start: datetime, email: str, key: str | None = None, duration: int = 30) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        body = booking_body(start, duration=duration, email=email, name=email.split("@")[0])
        return requests.post(f"{self.url}/bookings", json=body, headers=headers, timeout=60)

    def move(self, booking_id: str, token: str, start: datetime) -> requests.Response:
        return requests.patch(f"{self.url}/bookings/{booking_id}", json={"start": start.isoformat()},
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def cancel(self, booking_id: str, token: str) -> requests.Response:
        return requests.delete(f"{self.url}/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"},
                               timeout=60)

    def get(self, booking_id: str, token: str) -> requests.Response:
        return requests.get(f"{self.url}/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"},
                            timeout=60)


@dataclass
class Stack:
    server: Any
    config_path: Path
    started: list[Instance] = field(default_factory=list)
    ahead: timedelta = timedelta(0)  # how far the emulator's clock was moved on in this test

    def start(self, *targets: str) -> list[Instance]:
        """Processes of the given functions (`booking`, `sync`), started in parallel, on Google's clock as it is now;
        `booking@late`, `sync@late`: on Google's clock as it will be once `past_the_ttl` has moved it on. A booking
        instance is ready once it answered /calendars (which builds its runtime)."""
        fresh = []
        for spec in targets:
            target, _, when = spec.partition("@")
            clock = (current_clock().now() + self.ahead + (PAST_TTL if when == "late" else timedelta(0))).isoformat()
            env = {**os.environ, "BOOKING_CONFIG": str(self.config_path), "NO_GCE_CHECK": "true",
                   "PYTHONUNBUFFERED": "1", "BOOKING_CLOCK": clock}
            port = _free_port()
            command = [sys.executable, "-m", "functions_framework", "--target", target,
                       "--source", str(ROOT / "functions" / target / "main.py"), "--port", str(port)]
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
            fresh.append(Instance(process, f"http://127.0.0.1:{port}", target))
        self.started += fresh
        deadline = time.monotonic() + 30
        for instance in fresh:
            probe = "/calendars" if instance.target == "booking" else "/"
            while True:
                try:
                    requests.get(f"{instance.url}{probe}", timeout=10)
                    break
                except requests.ConnectionError:
                    assert instance.process.poll() is None, f"{instance.target} exited"
                    assert time.monotonic() < deadline, f"{instance.target} did not start"
                    time.sleep(0.05)
        return fresh

    def visible(self) -> None:
        """Lists catch up with the writes so far: Google's clock passes the read lag (no wait on the machine)."""
        control(self.server, "POST", "clock", {"advance": "PT1S"})
        self.ahead += timedelta(seconds=1)

    def past_the_ttl(self) -> None:
        """Google's clock moves on past the claim TTL (what lags in lists has caught up, too)."""
        control(self.server, "POST", "clock", {"advance": f"PT{PAST_TTL.total_seconds():g}S"})
        self.ahead += PAST_TTL

    def sweep(self, sync: Instance) -> dict[str, Any]:
        """One run of the sync (and so of its sweep, `sync.sweep_claims`), as Cloud Scheduler calls it."""
        token = id_token(self.server, SCHEDULER, audience=SYNC_AUDIENCE)
        answer = requests.post(f"{sync.url}/", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def stop(self) -> None:
        for instance in self.started:
            if instance.process.poll() is None:
                os.killpg(instance.process.pid, signal.SIGTERM)
        for instance in self.started:
            try:
                instance.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(instance.process.pid, signal.SIGKILL)
                instance.process.wait(10)


@pytest.fixture
def stack(emulator: Any, tmp_path: Path) -> Iterator[Stack]:
    clear_events(emulator)
    control(emulator, "PUT", "settings", {"read_lag_ms": READ_LAG_MS})
    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot"))
    running = Stack(emulator, config_path)
    try:
        yield running
    finally:
        set_latency(emulator, [])
        set_faults(emulator, [])
        running.stop()
        gc.collect()  # the state dumps read here are large: leave no collection pause to the next test


# --- calls in flight and kills at a boundary ---------------------------------------------------------------------
class Call:
    """An HTTP call in a thread; `answer` is the response, or the exception (the process died under it)."""

    def __init__(self, call: Callable[[], requests.Response]) -> None:
        self.answer: requests.Response | BaseException | None = None

        def run() -> None:
            try:
                self.answer = call()
            except BaseException as error:  # a dead instance breaks the connection
                self.answer = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> requests.Response | BaseException | None:
        self._thread.join(15)
        return self.answer


def _outer(entries: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == method and not e.get("inner")]


def _wait(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def kill_at_boundary(
    server: Any,
    victim: Instance,
    call: Callable[[], requests.Response],
    *,
    done: Callable[[list[dict[str, Any]]], bool],
    held: str,
    fate: str,
    meanwhile: Callable[[], Any] | None = None,
    hold_ms: int = HOLD_MS,
) -> list[dict[str, Any]]:
    """Start `call` on `victim`; once the request log since then satisfies `done` (the step before the boundary
    completed), let the victim send its next request, which the emulator holds (a `held` method id), kill the victim
    (SIGKILL) and then let that request land (`fate="land"`) or drop it (`fate="drop"`). `meanwhile` runs after the
    kill: for "land" while the held request is still in flight (nothing else is held then), for "drop" once it
    was dropped. Returns the log of the call, checked to show exactly that fate for the held request."""
    assert fate in ("land", "drop")
    before = len(requests_log(server))
    set_latency(server, [{"method": held, "ms": hold_ms}])
    try:
        answer = Call(call)
        _wait(lambda: done(requests_log(server)[before:]), "the step before the boundary")
        settled = len(_outer(requests_log(server)[before:], held))

        def finished() -> list[dict[str, Any]]:
            return [e for e in _outer(requests_log(server)[before:], held)[settled:] if e.get("delayMs")]

        time.sleep(GRACE_S)  # the victim's next request is now held inside the emulator
        victim.kill()
        if fate == "drop":
            set_faults(server, [{"method": held, "kind": "drop"}])
        else:
            set_latency(server, [])  # what is held stays held; nothing else is
            if meanwhile is not None:
                meanwhile()
                assert not finished(), "the held request landed before `meanwhile` was done: raise hold_ms"
        [last] = _wait(finished, "the held request to finish")
    finally:
        set_latency(server, [])
        set_faults(server, [])
    assert not isinstance(answer.result(), requests.Response), "the victim answered before it was killed"
    if fate == "drop":
        assert last.get("fault") == "DropConnection", last
        if meanwhile is not None:
            meanwhile()
    else:
        assert last.get("status") == 200 and "fault" not in last, last
    return requests_log(server)[before:]


def batches_done(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda log: len(_outer(log, "calendar.batch")) >= count


def gets_done(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda log: len(_outer(log, "calendar.events.get")) >= count


# --- the state, as the emulator keeps it -------------------------------------------------------------------------
def _events(server: Any, calendar_id: str) -> list[dict[str, Any]]:
    state = requests.get(f"{server.url}/_emulator/state", timeout=10).json()
    return list(state["calendars"][calendar_id]["events"].values())


def _private(event: dict[str, Any]) -> dict[str, str]:
    return dict((event.get("extendedProperties") or {}).get("private") or {})


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _span(event: dict[str, Any]) -> tuple[datetime, datetime]:
    return _utc(event["start"]["dateTime"]), _utc(event["end"]["dateTime"])


def bookings(server: Any) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in _events(server, ALICE) if _private(e).get("wcbBooking") == "1"}


def confirmed(server: Any) -> dict[str, dict[str, Any]]:
    return {i: e for i, e in bookings(server).items() if e.get("status") != "cancelled"}


def claims(server: Any) -> list[dict[str, Any]]:
    return [e for e in _events(server, CLAIMS) if _private(e).get("wcbClaim") == "1"]


def holders(claim: dict[str, Any]) -> list[str]:
    if claim.get("status") == "cancelled":
        return []
    props = _private(claim)
    return [h for h in (props.get("wcbHolder"), props.get("wcbAlso")) if h]


@dataclass
class Ledger:
    """What the clients were answered: the bookings that must stand, the requests that must have left nothing."""

    standing: dict[str, str] = field(default_factory=dict)  # booking id -> what answered it
    refused: list[tuple[str, datetime]] = field(default_factory=list)  # (visitor email, start) answered 409/503

    def booked(self, answer: requests.Response, what: str) -> tuple[str, str]:
        assert answer.status_code in (200, 201), (what, answer.status_code, answer.text)
        body = answer.json()
        self.standing[body["booking"]["id"]] = what
        return body["booking"]["id"], body["token"]

    def moved(self, old: str, answer: requests.Response, what: str) -> tuple[str, str]:
        self.standing.pop(old, None)
        return self.booked(answer, what)

    def cancelled(self, booking_id: str) -> None:
        self.standing.pop(booking_id, None)

    def refusal(self, answer: requests.Response, email: str, start: datetime, what: str) -> None:
        assert answer.status_code in (409, 503), (what, answer.status_code, answer.text)
        self.refused.append((email.lower(), start.astimezone(UTC)))


def assert_guarantees(server: Any, ledger: Ledger, *, swept: bool = False) -> None:
    """The README's promises, read from the emulator's state.

    Before a sweep, the old booking of a half-done move (marked for a new booking that stands and names it) is not
    counted: the docstring lets it keep its time until the first look or the next sweep. After a sweep (`swept`,
    past the TTL) nothing is excused: no such pair, and no claim held for a booking that does not stand."""
    found = confirmed(server)
    counted = dict(found)
    if not swept:
        for booking_id, event in found.items():
            new = found.get(_private(event).get("wcbMovedTo", ""))
            if new is not None and _private(new).get("wcbMovedFrom") == booking_id:
                counted.pop(booking_id)
    spans = sorted((_span(e), i) for i, e in counted.items())
    for ((_, a_end), a), ((b_start, _), b) in itertools.pairwise(spans):
        assert a_end + BUFFER <= b_start, f"confirmed bookings {a} and {b} overlap (within the buffer)"
    for booking_id, what in ledger.standing.items():
        assert booking_id in found, f"{what} answered {booking_id}, which no longer stands"
    for email, start in ledger.refused:
        left = [i for i, e in found.items() if _private(e).get("wcbEmail") == email and _span(e)[0] == start]
        assert not left, f"{email} at {start} was refused, yet {left} is confirmed"
    if swept:
        for claim in claims(server):
            names = holders(claim)
            assert not names or any(h in found for h in names), \
                f"claim {_private(claim)['wcbCell']} still held for {names}, none of them standing: {_private(claim)}"
        for booking_id in found:
            tokens = [c for c in claims(server) if booking_id in holders(c) and "/day" in _private(c)["wcbCell"]]
            assert len(tokens) <= 1, f"{booking_id} holds {len(tokens)} of its day's tokens (one is all it needs)"


# --- scenarios ---------------------------------------------------------------------------------------------------
BATCH, PATCH = "calendar.batch", "calendar.events.patch"
# The batches of a booking, the first of its day (shared/booking.py, steps 2 and 3): claims, live check and the key's
# own id in one; then the booking insert with the release of surplus day tokens.
BOOKING_CLAIMS = 1
# The batches of a move to a time on the same day as its booking: the mark with the new time's claims and live
# check; the reads of the day tokens that already exist (one held by the old booking, to be shared, the others
# released); the take-over of a released token; then the new booking's insert. A move to another day (`OTHER`)
# finds its day's tokens free: the mark with the claims, then the insert.
MOVE_MARK, MOVE_CLAIMS = 1, 3
OTHER, THIRD = (lambda: workdays(3)[1]), (lambda: workdays(3)[2])
DAY = workday  # a regular long day at least 3 days after the pinned today


def _id(answer: requests.Response) -> str:
    return str(answer.json()["booking"]["id"])


def _held_claims(server: Any) -> list[dict[str, Any]]:
    return [c for c in claims(server) if holders(c)]


# 1. Booking: killed after the claims batch, before the booking insert ------------------------------------------
def test_killed_after_the_claims_batch_holds_the_slot_until_the_ttl_then_one_sweep_frees_it(stack: Stack) -> None:
    """A holds its claims and is killed; its booking insert never runs. Within the TTL a rival on B for an
    overlapping slot is refused; past the TTL one sweep releases every claim and the slot books again."""
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    start, ledger = at(DAY(), 10), Ledger()
    kill_at_boundary(stack.server, a, lambda: a.book(start, "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="drop")
    assert confirmed(stack.server) == {} and _held_claims(stack.server)
    ledger.refusal(b.book(at(DAY(), 10, 15), "rob@visitor.test"), "rob@visitor.test", at(DAY(), 10, 15), "rival")
    stack.past_the_ttl()
    stack.sweep(sync)
    assert _held_claims(stack.server) == [], "one sweep past the TTL leaves no claim of the dead attempt held"
    assert_guarantees(stack.server, ledger, swept=True)
    ledger.booked(late.book(start, "cat@visitor.test"), "the freed slot, booked again")
    assert_guarantees(stack.server, ledger, swept=True)


def test_killed_after_the_claims_batch_the_retry_elsewhere_books_and_the_day_keeps_its_capacity(
    stack: Stack,
) -> None:
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    start, ledger = at(DAY(), 10), Ledger()
    kill_at_boundary(stack.server, a, lambda: a.book(start, "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="drop")
    ledger.refusal(b.book(at(DAY(), 10, 15), "rob@visitor.test"), "rob@visitor.test", at(DAY(), 10, 15), "rival")
    ledger.booked(b.book(start, "ann@visitor.test", key="k-ann"), "the retry on B")
    assert_guarantees(stack.server, ledger)
    stack.past_the_ttl()
    stack.sweep(sync)
    ledger.booked(late.book(at(DAY(), 15), "dan@visitor.test"), "another booking that day, hours away")
    assert_guarantees(stack.server, ledger, swept=True)


# 2. Booking: killed after the booking insert, before its answer -------------------------------------------------
def test_killed_after_the_booking_insert_the_retry_gets_the_same_booking_and_it_stands(stack: Stack) -> None:
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    start, ledger = at(DAY(), 10), Ledger()
    kill_at_boundary(stack.server, a, lambda: a.book(start, "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="land")
    [landed] = confirmed(stack.server)  # written, never answered
    ledger.refusal(b.book(at(DAY(), 10, 15), "rob@visitor.test", duration=60), "rob@visitor.test",
                   at(DAY(), 10, 15), "rival")
    retry = b.book(start, "ann@visitor.test", key="k-ann")
    assert retry.status_code == 200 and _id(retry) == landed, retry.text  # the same booking, not a second
    ledger.booked(retry, "the retry on B")
    stack.past_the_ttl()
    stack.sweep(sync)
    assert_guarantees(stack.server, ledger, swept=True)
    ledger.booked(late.book(at(DAY(), 15), "dan@visitor.test"), "another booking that day")
    assert_guarantees(stack.server, ledger, swept=True)


def test_the_retry_racing_the_dead_attempts_insert_in_flight_books_once_and_the_day_keeps_its_capacity(
    stack: Stack,
) -> None:
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    start, ledger = at(DAY(), 10), Ledger()
    answers: dict[str, requests.Response] = {}

    def retry_and_rival() -> None:
        answers["retry"] = b.book(start, "ann@visitor.test", key="k-ann")
        answers["rival"] = b.book(at(DAY(), 10, 15), "rob@visitor.test")

    kill_at_boundary(stack.server, a, lambda: a.book(start, "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="land", meanwhile=retry_and_rival,
                     hold_ms=MEANWHILE_HOLD_MS)
    ledger.booked(answers["retry"], "the retry on B, while the dead attempt's insert was in flight")
    ledger.refusal(answers["rival"], "rob@visitor.test", at(DAY(), 10, 15), "rival")
    assert list(confirmed(stack.server)) == [_id(answers["retry"])]
    stack.past_the_ttl()
    stack.sweep(sync)
    ledger.booked(late.book(at(DAY(), 15), "dan@visitor.test"), "another booking that day, hours away")
    assert_guarantees(stack.server, ledger, swept=True)


def test_a_sweep_while_the_dead_attempts_insert_is_in_flight_releases_nothing_it_needs(stack: Stack) -> None:
    """The sweep runs (on Google's current clock) between the kill and the landing of the dead attempt's insert:
    the holds are younger than the TTL, so it releases none, and the booking that lands holds its slot."""
    a, b, sync = stack.start("booking", "booking", "sync")
    start, ledger = at(DAY(), 10), Ledger()
    kill_at_boundary(stack.server, a, lambda: a.book(start, "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="land", meanwhile=lambda: stack.sweep(sync),
                     hold_ms=MEANWHILE_HOLD_MS)
    [landed] = confirmed(stack.server)
    stack.visible()
    ledger.refusal(b.book(at(DAY(), 10, 15), "rob@visitor.test"), "rob@visitor.test", at(DAY(), 10, 15), "rival")
    retry = b.book(start, "ann@visitor.test", key="k-ann")
    assert retry.status_code == 200 and _id(retry) == landed, retry.text
    ledger.booked(retry, "the retry on B")
    assert_guarantees(stack.server, ledger)


# 3. Move: killed after the mark (first batch), before the new booking -------------------------------------------
@pytest.mark.parametrize("boundary", [MOVE_MARK, MOVE_CLAIMS], ids=["after-the-mark", "after-the-take-over"])
def test_a_move_killed_after_the_mark_keeps_the_booking_and_the_retry_elsewhere_moves_it(
    stack: Stack, boundary: int
) -> None:
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(DAY(), 14)),
                     done=batches_done(boundary), held=BATCH, fate="drop")
    assert _private(bookings(stack.server)[old]).get("wcbMovedTo"), "the mark was written"
    assert list(confirmed(stack.server)) == [old]
    stack.visible()
    for when, who in ((at(DAY(), 10, 15), "rob@visitor.test"), (at(DAY(), 14, 15), "ria@visitor.test")):
        ledger.refusal(b.book(when, who), who, when, "a rival for the old or the new time")
    seen = b.get(old, token)
    assert seen.status_code == 200 and seen.json()["booking"]["status"] == "confirmed"
    ledger.moved(old, b.move(old, token, at(DAY(), 14)), "the move's retry on B")
    assert_guarantees(stack.server, ledger)
    stack.past_the_ttl()
    stack.sweep(sync)
    assert_guarantees(stack.server, ledger, swept=True)
    ledger.booked(late.book(at(DAY(), 10), "cat@visitor.test"), "the old time, freed by the move")
    assert_guarantees(stack.server, ledger, swept=True)


def test_a_move_killed_after_the_mark_and_never_retried_is_undone_by_one_sweep_past_the_ttl(stack: Stack) -> None:
    a, b, late, sync = stack.start("booking", "booking", "booking@late", "sync@late")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(OTHER(), 14)),
                     done=batches_done(MOVE_MARK), held=BATCH, fate="drop")
    stack.past_the_ttl()
    stack.sweep(sync)
    assert not _private(bookings(stack.server)[old]).get("wcbMovedTo"), "one sweep unmarks it"
    assert_guarantees(stack.server, ledger, swept=True)
    ledger.booked(late.book(at(OTHER(), 14), "ria@visitor.test"), "the time the dead move had claimed")
    ledger.moved(old, late.move(old, token, at(DAY(), 16)), "the visitor's next move")
    assert_guarantees(stack.server, ledger)


# 4. Move: killed after the new booking was written, before the commit ------------------------------------------
@pytest.mark.parametrize("then", ["retry", "sweep"])
def test_a_move_killed_after_its_new_booking_never_leaves_both_once_retried_or_swept(stack: Stack, then: str) -> None:
    a, b, sync = stack.start("booking", "booking", "sync")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(OTHER(), 14)),
                     done=batches_done(MOVE_MARK), held=BATCH, fate="land")
    assert len(confirmed(stack.server)) == 2  # both, until the first look or the next sweep (the docstring)
    assert_guarantees(stack.server, ledger)
    stack.visible()
    ledger.refusal(b.book(at(DAY(), 10, 15), "rob@visitor.test"), "rob@visitor.test", at(DAY(), 10, 15), "rival")
    if then == "retry":
        ledger.moved(old, b.move(old, token, at(OTHER(), 14)), "the move's retry on B")
    else:
        stack.sweep(sync)
        seen = b.get(old, token).json()["booking"]
        assert seen["status"] == "cancelled" and seen.get("movedTo"), seen
        ledger.cancelled(old)
        ledger.standing[seen["movedTo"]] = "the move the sweep finished"
    assert list(confirmed(stack.server)) == list(ledger.standing)
    stack.visible()
    ledger.booked(b.book(at(DAY(), 10), "cat@visitor.test"), "the old time, freed by the move")
    assert_guarantees(stack.server, ledger)


# 5. Move: killed during its commit (the conditional write cancelling the old booking) ----------------------------
@pytest.mark.parametrize("fate", ["drop", "land"])
def test_a_move_killed_during_its_commit_answers_the_same_moved_booking_to_the_retry(stack: Stack, fate: str) -> None:
    a, b = stack.start("booking", "booking")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(DAY(), 14)),
                     done=batches_done(MOVE_CLAIMS + 1), held=PATCH, fate=fate)
    seen = b.get(old, token).json()["booking"]  # a look at the old booking settles the move
    assert seen["status"] == "cancelled" and seen.get("movedTo"), seen
    retry = b.move(old, token, at(DAY(), 14))
    assert retry.status_code == 200 and _id(retry) == seen["movedTo"], retry.text
    ledger.moved(old, retry, "the move's retry on B")
    assert list(confirmed(stack.server)) == [seen["movedTo"]]
    stack.visible()
    ledger.booked(b.book(at(DAY(), 10), "cat@visitor.test"), "the old time, freed by the move")
    assert_guarantees(stack.server, ledger)


# 6. Cancel: killed during its conditional write --------------------------------------------------------------
@pytest.mark.parametrize("fate", ["drop", "land"])
def test_a_cancel_killed_during_its_write_is_finished_by_the_retry_and_frees_the_slot(stack: Stack, fate: str) -> None:
    a, b = stack.start("booking", "booking")
    ledger = Ledger()
    made, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    kill_at_boundary(stack.server, a, lambda: a.cancel(made, token), done=gets_done(1), held=PATCH, fate=fate)
    assert (made in confirmed(stack.server)) == (fate == "drop")
    again = b.cancel(made, token)
    assert again.status_code == 200 and again.json()["booking"]["status"] == "cancelled", again.text
    ledger.cancelled(made)
    assert confirmed(stack.server) == {}
    stack.visible()
    ledger.booked(b.book(at(DAY(), 10, 15), "cat@visitor.test"), "the freed slot")
    assert_guarantees(stack.server, ledger)


# 7. A half-done move of a killed instance, and the visitor acting on another ------------------------------------
def test_a_cancel_while_a_killed_moves_new_booking_is_in_flight_leaves_nothing_confirmed(stack: Stack) -> None:
    a, b, sync = stack.start("booking", "booking", "sync@late")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    answers: dict[str, requests.Response] = {}

    def cancel() -> None:
        answers["cancel"] = b.cancel(old, token)

    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(OTHER(), 14)),
                     done=batches_done(MOVE_MARK), held=BATCH, fate="land", meanwhile=cancel,
                     hold_ms=MEANWHILE_HOLD_MS)
    assert answers["cancel"].status_code == 200 and answers["cancel"].json()["booking"]["status"] == "cancelled"
    ledger.cancelled(old)
    ledger.refusal(b.move(old, token, at(OTHER(), 14)), "vic@visitor.test", at(OTHER(), 14), "the move's retry on B")
    stack.past_the_ttl()
    stack.sweep(sync)
    assert_guarantees(stack.server, ledger, swept=True)


def test_a_second_move_while_a_killed_moves_new_booking_is_in_flight_leaves_one_booking(stack: Stack) -> None:
    a, b, sync = stack.start("booking", "booking", "sync@late")
    ledger = Ledger()
    old, token = ledger.booked(b.book(at(DAY(), 10), "vic@visitor.test"), "the booking")
    answers: dict[str, requests.Response] = {}

    def move_elsewhere() -> None:
        answers["move"] = b.move(old, token, at(THIRD(), 16))

    kill_at_boundary(stack.server, a, lambda: a.move(old, token, at(OTHER(), 14)),
                     done=batches_done(MOVE_MARK), held=BATCH, fate="land", meanwhile=move_elsewhere,
                     hold_ms=MEANWHILE_HOLD_MS)
    ledger.moved(old, answers["move"], "the second move, on B")
    ledger.refusal(b.move(old, token, at(OTHER(), 14)), "vic@visitor.test", at(OTHER(), 14), "the first move's retry")
    stack.past_the_ttl()
    stack.sweep(sync)
    assert_guarantees(stack.server, ledger, swept=True)
    mine = [i for i, e in confirmed(stack.server).items() if _private(e).get("wcbEmail") == "vic@visitor.test"]
    assert mine == [_id(answers["move"])], f"the visitor holds {mine}"
