"""More adversarial cases of the booking guarantee (issue 12 review): faults and races around the pending-move
pre-emption (`moves.withdraw_unwritten`), the booking insert answered 5xx though it landed, the per-day cap under
concurrent bookings, and repeats after a cancel.

In-process interleavings: two runtimes (two instances) on one emulator with read lag on; their Calendar clients
(the project's own, never Google's library) are wrapped to stop or fail one request at a chosen step."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.booking import NewBooking
from shared.calendar_client import RetryPolicy
from shared.errors import UpstreamUnavailable
from tests.helpers.booking_support import ALICE, at, clear_events, confirmed_bookings, span, workday
from tests.helpers.clients import control
from tests.helpers.interleave import PausedBatch, outcome, writes_booking
from tests.helpers.support import make_config, make_runtime, set_faults
from tests.integration.test_booking_adversarial import (
    BATCH,
    BOOKING_CLAIMS,
    DAY,
    Ledger,
    Stack,
    assert_guarantees,
    batches_done,
    confirmed,
    kill_at_boundary,
    stack,  # noqa: F401 (the fixture)
)

FAST_RETRY = RetryPolicy(deadline=3.0, attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
BUFFER = timedelta(minutes=10)


@pytest.fixture(autouse=True)
def _read_lag(emulator: Any) -> Iterator[None]:
    clear_events(emulator)
    control(emulator, "PUT", "settings", {"read_lag_ms": 150})
    yield
    set_faults(emulator, [])


def _events(server: Any) -> list[dict[str, Any]]:
    with server.emulator.state.lock:
        return [dict(e) for e in server.emulator.state.calendars[ALICE].events.values()]


def _raw(server: Any, event_id: str) -> dict[str, Any]:
    with server.emulator.state.lock:
        return dict(server.emulator.state.calendars[ALICE].events[event_id])


def _private(event: dict[str, Any]) -> dict[str, str]:
    return dict((event.get("extendedProperties") or {}).get("private") or {})


def _move(runtime: Any, made: Any, start: Any) -> Any:
    return runtime.booking.reschedule(made.booking.id, made.token, start, None)


def _no_overlap(events: list[dict[str, Any]]) -> None:
    spans = sorted((span(e), e["id"]) for e in events)
    for ((_, a_end), a), ((b_start, _), b) in itertools.pairwise(spans):
        assert a_end + BUFFER <= b_start, f"confirmed bookings {a} and {b} overlap (within the buffer)"


# --- a cancel's pre-emption of a pending move, under faults -------------------------------------------------------
def test_a_cancel_whose_pre_emption_insert_fails_answers_503_and_leaves_the_booking(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: A books 10:00; A's move to 14:00 is held just before its new booking's insert (mark written,
    new id free). B cancels the booking while Google answers every events.insert 503: the cancel must first take
    the pending id with a placeholder (`withdraw_unwritten`), cannot, and must answer 503 with the booking as it
    was (confirmed, still marked). Then A's move goes on and stands (200): one booking, at 14:00."""
    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    canceller = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(mover, writes_booking, lambda: _move(mover, made, at(day, 14)))
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503"}])
    status, error = outcome(lambda: canceller.booking.cancel(made.booking.id, made.token))
    set_faults(emulator, [])
    old = _raw(emulator, made.booking.id)
    assert old.get("status") == "confirmed" and _private(old).get("wcbMovedTo"), old
    assert status == 503, (status, error)
    moved_status, moved = paused.finish()
    assert moved_status == 200, moved
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id and span(booking)[0] == at(day, 14)


def test_a_move_whose_pre_emption_insert_fails_answers_503_and_leaves_the_booking(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: as above, but B moves the booking to 16:00 (another move of a booking whose move is
    pending) while every events.insert is answered 503: 503, the booking as it was; A's move then stands."""
    day = workday()
    first = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    second = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(first, writes_booking, lambda: _move(first, made, at(day, 14)))
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503"}])
    status, error = outcome(lambda: _move(second, made, at(day, 16)))
    set_faults(emulator, [])
    old = _raw(emulator, made.booking.id)
    assert old.get("status") == "confirmed" and _private(old).get("wcbMovedTo"), old
    assert status == 503, (status, error)
    moved_status, moved = paused.finish()
    assert moved_status == 200, moved
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id and span(booking)[0] == at(day, 14)


# --- a canceller that dies between the placeholder's insert and its cancel ------------------------------------
class Died(BaseException):
    """The instance stops here (a SIGKILL): nothing after this step runs, and nothing catches it."""


def test_a_cancel_that_dies_after_its_placeholder_landed_leaves_one_answer_true(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: A's move to 14:00 is held before its new booking's insert; B's cancel inserts the aborted
    placeholder under the pending id and dies before cancelling it (and before cancelling the booking). The
    placeholder stays confirmed (transparent, marked aborted). A's insert then finds its id taken; the booking is
    still marked for it (the cancel never got that far, nor answered), so A moves under the next id: 200, and
    that booking stands. The visitor's cancel, retried on C, finds the booking moved; one booking stands (the
    moved one), the placeholder holds nothing, and the old time books again."""
    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    dying = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    third = make_runtime(emulator, tmp_path / "i3", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(mover, writes_booking, lambda: _move(mover, made, at(day, 14)))
    real = dying.calendar.patch_event

    def die_on_placeholder_cancel(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any],
                                  **kw: Any) -> Any:
        if body == {"status": "cancelled"}:
            raise Died
        return real(identity, calendar_id, event_id, body, **kw)

    dying.calendar.patch_event = die_on_placeholder_cancel  # type: ignore[method-assign]
    with pytest.raises(Died):
        dying.booking.cancel(made.booking.id, made.token)
    [placeholder] = [e for e in _events(emulator) if _private(e).get("wcbOutcome") == "aborted"]
    assert placeholder["status"] == "confirmed" and placeholder["transparency"] == "transparent"
    moved_status, moved = paused.finish()
    assert moved_status == 200, moved
    assert moved.booking.id != placeholder["id"] and span(_raw(emulator, moved.booking.id))[0] == at(day, 14)
    again = third.booking.cancel(made.booking.id, made.token)
    assert again.status == "cancelled" and again.moved_to == moved.booking.id, again
    assert [b["id"] for b in confirmed_bookings(emulator)] == [moved.booking.id]
    control(emulator, "POST", "clock", {"advance": "PT1S"})
    assert third.booking.book(NewBooking("alice", at(day, 10), 30, "W", "w@visitor.test"), None).created
    status, _ = outcome(lambda: third.booking.book(NewBooking("alice", at(day, 14), 30, "X", "x@visitor.test"), None))
    assert status == 409  # the moved booking keeps its time


# --- two cancels racing a pending move ---------------------------------------------------------------------------
def test_two_cancels_racing_a_pending_move_both_answer_cancelled_and_nothing_stands(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: A's move to 14:00 is held before its insert; B and C cancel the booking at once (threads).
    Both answer 200 "cancelled" (one wrote it, the other found it so), A's move answers 409, nothing confirmed,
    and at most one placeholder was written."""
    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    b = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    c = make_runtime(emulator, tmp_path / "i3", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(mover, writes_booking, lambda: _move(mover, made, at(day, 14)))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda rt: outcome(lambda: rt.booking.cancel(made.booking.id, made.token)),
                                [b, c]))
    for status, view in answers:
        assert status == 200 and view.status == "cancelled", view
    moved_status, _ = paused.finish()
    assert moved_status == 409
    assert confirmed_bookings(emulator) == []
    assert len([e for e in _events(emulator) if _private(e).get("wcbOutcome") == "aborted"]) == 1


# --- the employee deleting the old booking while its move is pending ------------------------------------------
def test_the_employee_deleting_the_booking_while_its_move_is_pending_leaves_nothing_confirmed(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: A's move to 14:00 is held before its insert; the employee deletes the old booking (through
    the API as the calendar's owner). A's move then writes its new booking, finds the old one gone at the commit,
    gives its time up: 409 and nothing confirmed (the move never answered 200)."""
    from shared.availability import identity_for

    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(mover, writes_booking, lambda: _move(mover, made, at(day, 14)))
    calendar = mover.config.calendar_by_slug("alice")
    assert calendar is not None
    other = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    other.calendar.delete_event(identity_for(calendar), calendar.calendar_id, made.booking.id)
    status, _ = paused.finish()
    assert status == 409
    assert confirmed_bookings(emulator) == []


def test_the_employee_deleting_the_booking_of_a_move_that_died_after_writing_lets_the_sweep_tell_the_visitor(
    emulator: Any, tmp_path: Path
) -> None:
    """A's move to 14:00 writes its new booking (silent: the visitor hears of a move at its commit) and the
    instance dies before the commit; the employee then deletes the old booking. No settle of the old booking will
    ever run (it is decided), so the new one would hold 14:00 with its visitor never told. Written, it stands (A
    may have answered 200 after a failed commit: a 200 is never undone); the first sweep past the TTL invites the
    visitor to it, once: one confirmed booking, holding its claims, and one invitation."""
    from shared.availability import identity_for
    from shared.clock import PinnedClock
    from shared.sync import AvailabilitySync
    from tests.helpers.interleave import is_move_commit
    from tests.helpers.pinned_time import current_clock

    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = mover.calendar.patch_event

    def dies_at_commit(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if is_move_commit(body):
            raise KeyboardInterrupt  # the instance dies with the new booking written, before the commit
        return real(identity, calendar_id, event_id, body, **kw)

    mover.calendar.patch_event = dies_at_commit  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        _move(mover, made, at(day, 14))
    [new] = [e for e in confirmed_bookings(emulator) if e["id"] != made.booking.id]
    calendar = mover.config.calendar_by_slug("alice")
    assert calendar is not None
    other = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    other.calendar.delete_event(identity_for(calendar), calendar.calendar_id, made.booking.id)
    emulator.emulator.state.mailbox.clear()
    clock = PinnedClock(current_clock().now())
    sweeping = make_runtime(emulator, tmp_path / "sweep", clock=clock)
    control(emulator, "POST", "clock", {"advance": "PT1S"})
    AvailabilitySync.from_runtime(sweeping).run(schedule_time=clock.now())
    assert emulator.emulator.state.mailbox == []  # younger than the TTL: its mover may still decide
    past_the_ttl = timedelta(seconds=sweeping.config.booking.claim_ttl_seconds + 60)
    clock.advance(past_the_ttl)
    control(emulator, "POST", "clock", {"advance": f"PT{past_the_ttl.total_seconds():g}S"})
    for _ in range(2):
        AvailabilitySync.from_runtime(sweeping).run(schedule_time=clock.now())
    assert [b["id"] for b in confirmed_bookings(emulator)] == [new["id"]]
    assert _private(_raw(emulator, new["id"])).get("wcbInvited") == "1"
    mails = [(m["to"], m["eventId"]) for m in emulator.emulator.state.mailbox]
    assert mails == [("v@visitor.test", new["id"])], mails
    status, _ = outcome(lambda: other.booking.book(NewBooking("alice", at(day, 14), 30, "W", "w@visitor.test"), None))
    assert status == 409  # its claims still hold 14:00


# --- the booking insert answered 5xx though it landed ---------------------------------------------------------
def _insert_lands_then_fails(server: Any, runtime: Any, *, reads_fail: bool) -> None:
    """The batch with the booking's insert runs at Google, but its answer for the insert is a 503 (lost on the
    way back); with `reads_fail`, every events.get after it is answered 503 too."""
    real = runtime.calendar.batch

    def batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        answers = real(identity, parts, *args, **kw)
        if writes_booking(parts):
            answers = {**answers, "booking": UpstreamUnavailable("Google did not answer.")}
            if reads_fail:
                set_faults(server, [{"method": "calendar.events.get", "kind": "503"}])
        return answers

    runtime.calendar.batch = batch


def test_a_booking_insert_answered_503_that_landed_is_answered_201(emulator: Any, tmp_path: Path) -> None:
    """Reproduction: the booking's insert lands, its answer is a 503; the id is read: the booking is there, and
    it is the answer (201), the only confirmed booking."""
    runtime = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    _insert_lands_then_fails(emulator, runtime, reads_fail=False)
    status, result = outcome(lambda: runtime.booking.book(
        NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test"), "k1"))
    assert status == 200 and result.created
    assert [b["id"] for b in confirmed_bookings(emulator)] == [result.booking.id]


def test_a_booking_insert_answered_503_that_landed_with_its_read_failing_never_answers_503(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: the booking's insert lands (invitation sent), its answer is a 503, and the read of its id is
    answered 503 too: the request answers 503 while the booking stands confirmed: "a 503 leaves nothing
    confirmed" is broken (a client without an Idempotency-Key books again and holds two bookings)."""
    runtime = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    _insert_lands_then_fails(emulator, runtime, reads_fail=True)
    status, _ = outcome(lambda: runtime.booking.book(
        NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test"), None))
    set_faults(emulator, [])
    found = confirmed_bookings(emulator)
    assert status in (200, 201) or found == [], (status, [b["id"] for b in found])


def _insert_lost_then_reads_fail(server: Any, runtime: Any) -> list[Any]:
    """The booking's insert never reaches Google (answered 503) and every events.get after it is answered 503;
    the insert request is kept, to be sent late (as one still in flight at Google when the attempt gave up)."""
    real = runtime.calendar.batch
    lost: list[Any] = []

    def batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if not writes_booking(parts) or lost:
            return real(identity, parts, *args, **kw)
        lost.append((identity, parts["booking"]))
        rest = {name: part for name, part in parts.items() if name != "booking"}
        answers = real(identity, rest, *args, **kw) if rest else {}
        set_faults(server, [{"method": "calendar.events.get", "kind": "503"}])
        return {**answers, "booking": UpstreamUnavailable("Google did not answer.")}

    runtime.calendar.batch = batch
    return lost


def test_a_keyed_booking_whose_insert_and_read_both_fail_answers_unknown_and_its_retry_gets_it(
    emulator: Any, tmp_path: Path
) -> None:
    """The insert lands unanswered and its id cannot be read; the id is held (the placeholder is `409
    duplicate`), but by what is unknown: with an Idempotency-Key a retry elsewhere could hold it. The answer is
    503 with `details.outcome` = `unknown`, and the same request with the same key, once Google answers, gets
    the booking (200, not created): one confirmed booking, nothing withdrawn."""
    runtime = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    _insert_lands_then_fails(emulator, runtime, reads_fail=True)
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    status, error = outcome(lambda: runtime.booking.book(request, "k-unknown"))
    set_faults(emulator, [])
    assert status == 503 and error.details == {"outcome": "unknown"}, (status, error)
    assert "Idempotency-Key" in error.message
    found = confirmed_bookings(emulator)
    assert len(found) == 1
    retry = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    again = retry.booking.book(request, "k-unknown")
    assert not again.created and again.booking.id == found[0]["id"] and again.booking.status == "confirmed"
    assert [b["id"] for b in confirmed_bookings(emulator)] == [found[0]["id"]]


@pytest.mark.parametrize("key", [None, "k-lost"])
def test_a_booking_insert_lost_with_its_read_failing_answers_503_and_can_never_land_late(
    emulator: Any, tmp_path: Path, key: str | None
) -> None:
    """The insert never reached Google and the id cannot be read: the id is taken by an aborted placeholder, so
    the 503 leaves nothing confirmed even when the lost insert reaches Google afterwards (`409 duplicate`); the
    claims are given back, so the slot is booked at once by the next request, and with a key the request's
    retry books it under its next id (201)."""
    from shared.errors import GoogleConflict

    runtime = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    lost = _insert_lost_then_reads_fail(emulator, runtime)
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    status, error = outcome(lambda: runtime.booking.book(request, key))
    set_faults(emulator, [])
    assert status == 503 and error.details == {}, (status, error)
    identity, insert = lost[0]
    late = make_runtime(emulator, tmp_path / "late", retry=FAST_RETRY)
    answer = late.calendar.batch(identity, {"booking": insert})["booking"]
    assert isinstance(answer, GoogleConflict) and answer.reason == "duplicate", answer
    assert confirmed_bookings(emulator) == []
    withdrawn = [e for e in _events(emulator) if _private(e).get("wcbOutcome") == "aborted"]
    assert len(withdrawn) == 1 and withdrawn[0]["status"] == "cancelled"
    again = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    if key is None:
        other = again.booking.book(NewBooking("alice", request.start, 30, "Bo", "b@visitor.test"), None)
    else:
        other = again.booking.book(request, key)
    assert other.created and other.booking.id != withdrawn[0]["id"]
    assert [b["id"] for b in confirmed_bookings(emulator)] == [other.booking.id]


def test_a_booking_whose_insert_read_and_placeholder_all_fail_answers_unknown(emulator: Any, tmp_path: Path) -> None:
    """Google answers neither the insert, nor the read, nor the placeholder's insert: nothing tells whether the
    booking was written, and the answer says so (503, `details.outcome` = `unknown`), never a plain 503."""
    runtime = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    real = runtime.calendar.batch

    def batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        answers = real(identity, parts, *args, **kw)
        if writes_booking(parts):
            set_faults(emulator, [{"method": "calendar.events.get", "kind": "503"},
                                  {"method": "calendar.events.insert", "kind": "503"}])
            return {**answers, "booking": UpstreamUnavailable("Google did not answer.")}
        return answers

    runtime.calendar.batch = batch  # type: ignore[method-assign, assignment]
    status, error = outcome(lambda: runtime.booking.book(
        NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test"), None))
    set_faults(emulator, [])
    assert status == 503 and error.details == {"outcome": "unknown"}, (status, error)


# --- a repeat after the booking was cancelled ------------------------------------------------------------------
def test_a_repeat_after_the_booking_was_cancelled_answers_it_cancelled_and_books_nothing(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: a booking with key k (201), cancelled, then the same request with k again (on another
    instance, after lists caught up): the same booking, cancelled (200, not created), and nothing confirmed."""
    a = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    b = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    made = a.booking.book(request, "k-ann")
    a.booking.cancel(made.booking.id, made.token)
    control(emulator, "POST", "clock", {"advance": "PT1S"})
    status, again = outcome(lambda: b.booking.book(request, "k-ann"))
    assert status == 200 and not again.created, again
    assert again.booking.id == made.booking.id and again.booking.status == "cancelled"
    assert confirmed_bookings(emulator) == []


# --- the per-day cap, concurrent bookings across instances -------------------------------------------------------
def test_concurrent_bookings_on_one_day_never_confirm_more_than_the_cap(emulator: Any, tmp_path: Path) -> None:
    """Reproduction: max_per_day = 2; six bookings of distinct, far-apart slots of one day, three at a time on
    each of two instances: at most two confirmed, each holding one of the day's tokens, no two the same, and
    every 201 among the confirmed."""
    cap = {"max_per_day = 8": "max_per_day = 2"}
    runtimes = [make_runtime(emulator, config=make_config(emulator, tmp_path / f"i{n}", replace=cap),
                             retry=FAST_RETRY) for n in range(2)]
    day = workday()
    hours = [9, 10, 11, 13, 14, 15]

    def book(n: int) -> tuple[int, Any]:
        request = NewBooking("alice", at(day, hours[n]), 30, f"V{n}", f"v{n}@visitor.test")
        return outcome(lambda: runtimes[n % 2].booking.book(request, f"k{n}"))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(book, range(len(hours))))
    found = confirmed_bookings(emulator)
    assert len(found) <= 2, [span(b) for b in found]
    booked = {result.booking.id for status, result in answers if status == 200}
    assert booked <= {b["id"] for b in found}
    assert all(status in (200, 409, 503) for status, _ in answers), answers
    tokens = [_private(b).get("wcbDayToken") for b in found]
    assert all(tokens) and len(set(tokens)) == len(tokens), tokens
    _no_overlap(found)


# --- a cancel whose conditional write is retried over a move's mark ----------------------------------------------
def test_a_cancel_retried_over_a_new_moves_mark_never_leaves_that_moves_booking_standing(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: B's cancel reads the booking (not marked: nothing to pre-empt) and sends its conditional
    cancel; just before, A's move marks the booking, holds 14:00, inserts its new booking (it lands) and dies
    before its commit. B's write is answered 412, and `cancel_once` re-reads and cancels the marked booking as
    "cancelled", skipping the pre-emption. The cancel answers 200 "cancelled"; the old booking is decided, so
    neither a look nor the sweep ever judges the move again: A's unanswered new booking stands confirmed at 14:00
    for good, past one sweep beyond the TTL (capacity held forever; a visitor who cancelled keeps a meeting)."""
    from shared.clock import PinnedClock
    from shared.sync import AvailabilitySync
    from tests.helpers.pinned_time import current_clock

    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    canceller = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real_batch, real_patch = mover.calendar.batch, canceller.calendar.patch_event
    seen: dict[str, bool] = {}

    def dying_batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        answers = real_batch(identity, parts, *args, **kw)
        if writes_booking(parts):
            raise Died  # the new booking landed; the mover is gone before its answer
        return answers

    def move_first(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if event_id == made.booking.id and body.get("status") == "cancelled" and not seen:
            seen["move"] = True
            with pytest.raises(Died):
                _move(mover, made, at(day, 14))
        return real_patch(identity, calendar_id, event_id, body, **kw)

    mover.calendar.batch = dying_batch  # type: ignore[method-assign,assignment]
    canceller.calendar.patch_event = move_first  # type: ignore[method-assign]
    view = canceller.booking.cancel(made.booking.id, made.token)
    assert seen and view.status == "cancelled"
    clock = PinnedClock(current_clock().now())
    sweeping = make_runtime(emulator, tmp_path / "sweep", clock=clock)
    past_the_ttl = timedelta(seconds=sweeping.config.booking.claim_ttl_seconds + 60)
    clock.advance(past_the_ttl)
    control(emulator, "POST", "clock", {"advance": f"PT{past_the_ttl.total_seconds():g}S"})
    AvailabilitySync.from_runtime(sweeping).run(schedule_time=clock.now())
    left = confirmed_bookings(emulator)
    assert left == [] or view.moved_to == left[0]["id"], (
        f"the cancel answered {view.status} (moved to {view.moved_to}), yet {[span(b)[0] for b in left]} stands")
    assert len(left) <= 1 and _raw(emulator, made.booking.id)["status"] == "cancelled"


# --- the sweep past the TTL pre-empting a move whose insert is still to come ---------------------------------------
def test_the_sweep_past_the_ttl_withdraws_a_pending_move_whose_insert_then_gives_way(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: A's move to 14:00 is held just before its new booking's insert; Google's clock and a sweeping
    sync move on past the claim TTL; the sweep unmarks the booking, first taking the pending id with a placeholder.
    A's insert then finds the id taken and the booking unmarked: 409. The booking stands at 10:00, alone."""
    from shared.clock import PinnedClock
    from shared.sync import AvailabilitySync
    from tests.helpers.pinned_time import current_clock

    day = workday()
    mover = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(mover, writes_booking, lambda: _move(mover, made, at(day, 14)))
    clock = PinnedClock(current_clock().now())
    sweeping = make_runtime(emulator, tmp_path / "sweep", clock=clock)
    past_the_ttl = timedelta(seconds=sweeping.config.booking.claim_ttl_seconds + 60)
    clock.advance(past_the_ttl)
    control(emulator, "POST", "clock", {"advance": f"PT{past_the_ttl.total_seconds():g}S"})
    AvailabilitySync.from_runtime(sweeping).run(schedule_time=clock.now())
    old = _raw(emulator, made.booking.id)
    assert old["status"] == "confirmed" and not _private(old).get("wcbMovedTo"), "the sweep unmarked it"
    status, _ = paused.finish()
    assert status == 409
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == made.booking.id and span(booking)[0] == at(day, 10)


# --- faults on the take-over writes -------------------------------------------------------------------------------
def test_a_failed_take_over_of_a_day_token_answers_503_with_nothing_confirmed_and_the_retry_books(
    emulator: Any, tmp_path: Path
) -> None:
    """Reproduction: max_per_day = 1; a booking at 10:00 is cancelled (its day token is free to take over). A new
    booking at 14:00 must take the token over by a conditional patch, which Google answers 503: 503, nothing
    confirmed; the same request again books (201), the one booking of the day holding the token."""
    cap = {"max_per_day = 8": "max_per_day = 1"}
    runtime = make_runtime(emulator, config=make_config(emulator, tmp_path / "i1", replace=cap), retry=FAST_RETRY)
    day = workday()
    first = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "A", "a@visitor.test"), None)
    runtime.booking.cancel(first.booking.id, first.token)
    real = runtime.calendar.batch

    def batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if any(name.startswith("take") for name in parts):
            set_faults(emulator, [{"method": "calendar.events.patch", "kind": "503"}])
        try:
            return real(identity, parts, *args, **kw)
        finally:
            set_faults(emulator, [])

    runtime.calendar.batch = batch  # type: ignore[method-assign,assignment]
    request = NewBooking("alice", at(day, 14), 30, "B", "b@visitor.test")
    status, _ = outcome(lambda: runtime.booking.book(request, "kb"))
    assert status == 503 and confirmed_bookings(emulator) == []
    runtime.calendar.batch = real  # type: ignore[method-assign]
    again = runtime.booking.book(request, "kb")
    [booking] = confirmed_bookings(emulator)
    assert again.created and booking["id"] == again.booking.id and _private(booking).get("wcbDayToken")


def _span_start(event: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00"))


# --- the per-day cap across processes ---------------------------------------------------------------------------
def test_the_day_cap_holds_across_processes_with_a_kill_after_the_claims(stack: Stack) -> None:  # noqa: F811
    """Reproduction: max_per_day = 2; three booking processes. A books 09:00 and is SIGKILLed after its claims
    batch (holding every day token it inserted, its booking never written); meanwhile eight bookings of distinct
    far-apart slots of that day go to B and C at once. Never more than two confirmed; every 201 stands; past the
    TTL one sweep leaves no token held for a booking that does not stand, and the day books up to its cap again."""
    stack.config_path.write_text(stack.config_path.read_text().replace("max_per_day = 8", "max_per_day = 2"))
    a, b, c, late, sync = stack.start("booking", "booking", "booking", "booking@late", "sync@late")
    ledger, day = Ledger(), DAY()
    kill_at_boundary(stack.server, a, lambda: a.book(at(day, 9), "ann@visitor.test", key="k-ann"),
                     done=batches_done(BOOKING_CLAIMS), held=BATCH, fate="drop")
    hours = [10, 11, 13, 14, 15, 16]
    with ThreadPoolExecutor(len(hours)) as pool:
        answers = list(pool.map(lambda n: (b, c)[n % 2].book(at(day, hours[n]), f"v{n}@visitor.test",
                                                              key=f"k{n}"), range(len(hours))))
    for n, answer in enumerate(answers):
        if answer.status_code in (200, 201):
            ledger.booked(answer, f"booking {n}")
        else:
            ledger.refusal(answer, f"v{n}@visitor.test", at(day, hours[n]), f"booking {n}")
    assert len(confirmed(stack.server)) <= 2
    assert_guarantees(stack.server, ledger)
    stack.past_the_ttl()
    stack.sweep(sync)
    assert_guarantees(stack.server, ledger, swept=True)
    standing = {_span_start(e) for e in confirmed(stack.server).values()}
    free = [at(day, 9)] + [at(day, h) for h in hours if at(day, h) not in standing]
    for n in range(2 - len(standing)):
        ledger.booked(late.book(free[n], f"w{n}@visitor.test"), "the day's capacity, freed")
    assert len(confirmed(stack.server)) == 2
    assert late.book(free[-1], "x@visitor.test").status_code == 409  # the cap, full again
    assert_guarantees(stack.server, ledger)
