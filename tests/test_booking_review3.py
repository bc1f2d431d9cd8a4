"""Interleavings from the third review: repeats and moves after a meeting lands; invitations never rewrite
a decision."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from shared.booking import NewBooking
from shared.errors import AppError
from shared.events import P_INVITED, P_OUTCOME
from tests.booking_support import add_busy, at, clear_events, confirmed_bookings, workday
from tests.support import make_config, make_runtime


def _outcome(call: Any) -> tuple[int, Any]:
    try:
        return 200, call()
    except AppError as error:
        return error.status, error


def _event(emulator: Any, event_id: str) -> dict[str, Any]:
    state = emulator.emulator.state
    with state.lock:
        return dict(state.calendars["alice@example.com"].events[event_id])


def test_1_repeat_of_a_confirmed_booking_cancels_it_when_a_meeting_was_added(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    runtime = make_runtime(emulator, tmp_path / "i1")
    request = NewBooking("alice", at(day, 10), 30, "Ann", "a@visitor.test")
    first = _outcome(lambda: runtime.booking.book(request, "k1"))
    assert first[0] == 200 and first[1].booking.status == "confirmed"  # told 201
    add_busy(emulator, at(day, 10), at(day, 11))  # the employee adds a meeting a minute later
    again = _outcome(lambda: runtime.booking.book(request, "k1"))  # client retries (lost answer)
    assert [e["id"] for e in confirmed_bookings(emulator)] == [first[1].booking.id]
    assert again[0] == 200


def test_2_concurrent_repeat_of_a_move_leaves_no_booking_after_a_200(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    at_commit, go_on = threading.Event(), threading.Event()
    real = first.calendar.patch_event

    def stop_before_commit(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        moved = (body.get("extendedProperties") or {}).get("private", {}).get(P_OUTCOME) == "moved"
        if moved and not at_commit.is_set():
            at_commit.set()
            go_on.wait(10)
        return real(identity, calendar_id, event_id, body, **kw)

    first.calendar.patch_event = stop_before_commit  # type: ignore[method-assign]
    answers: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answers.setdefault(
        "first", _outcome(lambda: first.booking.reschedule(made.booking.id, made.token, at(day, 14), None))))
    thread.start()
    assert at_commit.wait(10)
    add_busy(emulator, at(day, 14), at(day, 15))  # a meeting lands at the new time meanwhile
    answers["second"] = _outcome(lambda: second.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    go_on.set()
    thread.join(10)
    if answers["first"][0] == 200:
        assert answers["first"][1][0].booking.id in [e["id"] for e in confirmed_bookings(emulator)]
    assert confirmed_bookings(emulator), "the visitor lost both the old and the new booking"


def test_3_invitation_rewrites_a_decided_event(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    later = {"invite_visitor = true": "invite_visitor = true\nconfirm_before_inviting = true"}
    r1 = make_runtime(emulator, config=make_config(emulator, tmp_path / "a", replace=later))
    r2 = make_runtime(emulator, config=make_config(emulator, tmp_path / "b", replace=later))
    request = NewBooking("alice", at(day, 10), 30, "Ann", "a@visitor.test")
    at_invite, go_on = threading.Event(), threading.Event()
    real = r1.calendar.patch_event

    def stop_before_invite(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if (body.get("extendedProperties") or {}).get("private", {}).get(P_INVITED) and not at_invite.is_set():
            at_invite.set()
            go_on.wait(10)
        return real(identity, calendar_id, event_id, body, **kw)

    r1.calendar.patch_event = stop_before_invite  # type: ignore[method-assign]
    answers: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answers.setdefault("r1", _outcome(lambda: r1.booking.book(request, "k"))))
    thread.start()
    assert at_invite.wait(10)
    add_busy(emulator, at(day, 10), at(day, 11))
    answers["r2"] = _outcome(lambda: r2.booking.book(request, "k"))  # the same request, repeated elsewhere
    booking_id = next(e for e in emulator.emulator.state.calendars["alice@example.com"].events.values()
                  if e.get("summary", "").startswith("Meeting with"))["id"]
    decided = _event(emulator, booking_id)
    go_on.set()
    thread.join(10)
    after = _event(emulator, booking_id)
    assert after["updated"] == decided["updated"], "the invitation was written twice"
    # a meeting put on top after the booking was made does not undo it; the visitor is invited once
    assert answers["r1"][1].booking.status == answers["r2"][1].booking.status == "confirmed"
    assert [m["to"] for m in emulator.emulator.state.mailbox] == ["a@visitor.test"]


def test_3b_invitation_rewrites_a_cancelled_booking(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    day = workday()
    later = {"invite_visitor = true": "invite_visitor = true\nconfirm_before_inviting = true"}
    r1 = make_runtime(emulator, config=make_config(emulator, tmp_path / "a", replace=later))
    r2 = make_runtime(emulator, config=make_config(emulator, tmp_path / "b", replace=later))
    request = NewBooking("alice", at(day, 10), 30, "Ann", "a@visitor.test")
    at_invite, go_on = threading.Event(), threading.Event()
    real = r1.calendar.patch_event

    def stop_before_invite(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if (body.get("extendedProperties") or {}).get("private", {}).get(P_INVITED) and not at_invite.is_set():
            at_invite.set()
            go_on.wait(10)
        return real(identity, calendar_id, event_id, body, **kw)

    r1.calendar.patch_event = stop_before_invite  # type: ignore[method-assign]
    answers: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answers.setdefault("r1", _outcome(lambda: r1.booking.book(request, "k"))))
    thread.start()
    assert at_invite.wait(10)
    answers["r2"] = _outcome(lambda: r2.booking.book(request, "k"))  # the same request, repeated elsewhere
    r2.booking.cancel(answers["r2"][1].booking.id, answers["r2"][1].token)  # the visitor then cancels
    booking_id = next(e for e in emulator.emulator.state.calendars["alice@example.com"].events.values()
                  if e.get("summary", "").startswith("Meeting with"))["id"]
    decided = _event(emulator, booking_id)
    go_on.set()
    thread.join(10)
    after = _event(emulator, booking_id)
    assert after["updated"] == decided["updated"], "a decided event was written again"
    # the original request answers with the booking as it now stands (cancelled by its visitor), invites nobody
    assert answers["r1"][1].booking.status == "cancelled"
    assert [m["kind"] for m in emulator.emulator.state.mailbox].count("invitation") <= 1
