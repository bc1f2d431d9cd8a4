"""Moves racing repeats, cancels and failures: one booking in the end, and every answer true.

Two instances are two runtimes; their Calendar clients are wrapped (the project's own client, not Google's
library) to stop one request at a chosen step while another runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.availability import identity_for
from shared.booking import NewBooking
from shared.booking.ids import move_ids
from shared.booking.moves import withdraw_unwritten
from tests.helpers.booking_support import ALICE, add_busy, at, clear_events, confirmed_bookings, span, workday
from tests.helpers.interleave import Paused, is_move_commit, outcome
from tests.helpers.support import make_config, make_runtime, set_faults

# Date-sensitive throughout: each test runs on every pinned day (tests/helpers/pinned_time.py).
pytestmark = pytest.mark.every_day


def _events(server: Any) -> list[dict[str, Any]]:
    with server.emulator.state.lock:
        return [dict(e) for e in server.emulator.state.calendars[ALICE].events.values()]


def _private(event: dict[str, Any]) -> dict[str, str]:
    return dict((event.get("extendedProperties") or {}).get("private") or {})


def _move(runtime: Any, made: Any, start: Any) -> Any:
    return runtime.booking.reschedule(made.booking.id, made.token, start, None)


def test_a_double_submitted_move_ends_as_one_moved_booking(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = Paused(first, is_move_commit, lambda: _move(first, made, at(day, 14)))
    answers = [outcome(lambda: _move(second, made, at(day, 14)))]
    answers.append(paused.finish())
    [booking] = confirmed_bookings(emulator)
    for status, result in answers:
        assert status == 200, result
        assert result.booking.id == booking["id"] and result.booking.status == "confirmed"


def test_a_repeated_move_agrees_with_the_first_when_a_meeting_lands_meanwhile(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = Paused(first, is_move_commit, lambda: _move(first, made, at(day, 14)))
    add_busy(emulator, at(day, 14), at(day, 15))  # a meeting lands at the new time after the move was checked
    again = outcome(lambda: _move(second, made, at(day, 14)))
    status, result = paused.finish()
    [booking] = confirmed_bookings(emulator)
    assert (status, again[0]) == (200, 200)
    assert result.booking.id == again[1].booking.id == booking["id"]


def test_a_cancel_racing_a_move_wins_or_loses_cleanly(emulator: Any, tmp_path: Path) -> None:
    """A cancel that lands before the moved booking is written wins (the move gives its new time up, 409); one
    that lands after it finds the booking moved (the new booking stands, the old one is cancelled as moved)."""
    clear_events(emulator)
    day = workday()
    mover, canceller = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = mover.calendar.batch
    seen: dict[str, Any] = {}

    def cancel_first(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if "booking" in parts and "cancel" not in seen:  # the moved booking's insert is next
            seen["cancel"] = canceller.booking.cancel(made.booking.id, made.token)
        return real(identity, parts, *args, **kw)

    mover.calendar.batch = cancel_first  # type: ignore[method-assign, assignment]
    status, _ = outcome(lambda: mover.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    assert seen["cancel"].status == "cancelled" and seen["cancel"].moved_to is None
    assert status == 409  # the cancel came first: the move gives its new time up
    assert confirmed_bookings(emulator) == []


def test_a_cancel_after_the_moved_booking_exists_finds_it_moved(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    mover, canceller = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = mover.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = mover.calendar.patch_event
    seen: dict[str, Any] = {}

    def cancel_first(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if is_move_commit(body) and "cancel" not in seen:
            seen["cancel"] = canceller.booking.cancel(made.booking.id, made.token)
        return real(identity, calendar_id, event_id, body, **kw)

    mover.calendar.patch_event = cancel_first  # type: ignore[method-assign]
    status, result = outcome(lambda: mover.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    assert status == 200
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == result.booking.id == seen["cancel"].moved_to  # the cancel was answered "moved"
    assert seen["cancel"].status == "cancelled"


def test_a_move_whose_invitation_fails_still_stands_and_repeats_give_its_token(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "i1")
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = runtime.calendar.patch_event

    def failing_invitation(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if kw.get("send_updates") == "all" and not body:
            set_faults(emulator, [{"method": "calendar.events.patch", "kind": "503"}])
        try:
            return real(identity, calendar_id, event_id, body, **kw)
        finally:
            set_faults(emulator, [])

    runtime.calendar.patch_event = failing_invitation  # type: ignore[method-assign]
    first = outcome(lambda: runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    again = outcome(lambda: runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    [booking] = confirmed_bookings(emulator)
    assert first[0] == again[0] == 200
    assert first[1].booking.id == again[1].booking.id == booking["id"]


def test_a_move_retried_after_a_failure_succeeds(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "i1")
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    set_faults(emulator, [{"method": "calendar.events.list", "kind": "503"}])
    first = outcome(lambda: runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    set_faults(emulator, [])
    second = outcome(lambda: runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    assert (first[0], second[0]) == (503, 200)
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == second[1].booking.id


def test_a_failed_invitation_is_sent_on_the_repeat_and_only_once(emulator: Any, tmp_path: Path) -> None:
    """The invitation rides on the booking's insert, written only once the booking won its claims: if Google fails
    that insert, the visitor hears nothing and nothing stays confirmed (503); the repeat books and invites once,
    and a further repeat sends nothing more."""
    clear_events(emulator)
    later = {"invite_visitor = true": "invite_visitor = true\nconfirm_before_inviting = true"}
    runtime = make_runtime(emulator, config=make_config(emulator, tmp_path, replace=later))
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    real = runtime.calendar.batch

    def failing_insert(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if "booking" in parts:
            set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503"}])
        try:
            return real(identity, parts, *args, **kw)
        finally:
            set_faults(emulator, [])

    runtime.calendar.batch = failing_insert  # type: ignore[method-assign, assignment]
    first = outcome(lambda: runtime.booking.book(request, "ka"))
    runtime.calendar.batch = real  # type: ignore[method-assign]
    assert first[0] == 503 and emulator.emulator.state.mailbox == [] and confirmed_bookings(emulator) == []
    again = outcome(lambda: runtime.booking.book(request, "ka"))
    assert again[0] == 200 and again[1].created
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == again[1].booking.id
    assert [m["to"] for m in emulator.emulator.state.mailbox] == ["a@visitor.test"]
    third = outcome(lambda: runtime.booking.book(request, "ka"))
    assert third[0] == 200 and third[1].booking.id == booking["id"] and not third[1].created
    assert [m["to"] for m in emulator.emulator.state.mailbox] == ["a@visitor.test"]


def test_a_cancelled_booking_frees_its_time_on_this_instance(emulator: Any, tmp_path: Path) -> None:
    from shared.sync import AvailabilitySync

    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "snapshot")
    AvailabilitySync.from_runtime(runtime).run()
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "Ann", "a@visitor.test"), None)
    offered = runtime.booking.slots("alice", day, day, 30, None)
    assert at(day, 10).isoformat() not in [s["start"] for s in offered["slots"]]
    runtime.booking.cancel(made.booking.id, made.token)
    assert runtime.snapshots is not None
    runtime.snapshots.forget()
    view = runtime.availability.fresh_snapshot("alice", at(day, 0), at(day, 23))
    assert view is not None and view.bookings_per_day.get(day, 0) == 0


def test_a_second_move_racing_a_pending_move_withdraws_the_pending_ones_booking(emulator: Any, tmp_path: Path) -> None:
    """The first move is held just before its new booking's insert (as if its instance stalled with the insert in
    flight); a second move of the same booking takes the first one's id first (an aborted placeholder), so the
    first one's insert finds it taken: one booking in the end, the first move 409, the second 200."""
    clear_events(emulator)
    day = workday()
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = first.calendar.batch
    seen: dict[str, Any] = {}

    def move_elsewhere_first(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if "booking" in parts and "second" not in seen:  # the first move's new booking is next
            seen["second"] = outcome(lambda: _move(second, made, at(day, 16)))
        return real(identity, parts, *args, **kw)

    first.calendar.batch = move_elsewhere_first  # type: ignore[method-assign,assignment]
    status, _ = outcome(lambda: _move(first, made, at(day, 14)))
    second_status, moved = seen["second"]
    assert (status, second_status) == (409, 200)
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id and span(booking)[0] == at(day, 16)
    withdrawn = [e for e in _events(emulator) if _private(e).get("wcbOutcome") == "aborted"]
    assert len(withdrawn) == 1 and withdrawn[0]["status"] == "cancelled"
    assert _private(withdrawn[0]).get("wcbMovedFrom") == made.booking.id
    assert not _private(withdrawn[0]).get("wcbBooking")  # a placeholder, never a booking


def test_a_move_whose_first_id_was_withdrawn_moves_under_the_next(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "i1")
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    calendar = runtime.config.calendar_by_slug("alice")
    assert calendar is not None
    first_id, next_id = move_ids(made.booking.id, at(day, 14), 30)[:2]
    old = runtime.calendar.get_event(identity_for(calendar), calendar.calendar_id, made.booking.id)
    marked = {**old, "extendedProperties": {"private": {"wcbMovedTo": first_id}}}
    withdraw_unwritten(runtime.calendar, calendar, identity_for(calendar), marked)  # an earlier attempt, withdrawn
    status, result = outcome(lambda: _move(runtime, made, at(day, 14)))
    assert status == 200 and result.booking.id == next_id
    assert [b["id"] for b in confirmed_bookings(emulator)] == [next_id]
