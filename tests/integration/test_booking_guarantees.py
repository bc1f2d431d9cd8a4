"""The seven ways issue 12 found to break "no two confirmed bookings overlap; a 201 stands; a 503 leaves nothing
confirmed", one test (or a few) each, on the faithful emulator: failures by injected faults, pauses at a chosen
step of the project's own client (never Google's library), the employee's edits and restores through the real
Calendar API as the user, and instances in separate processes. Plus the minimal shapes of deleted items, same-second
`created` in both id orders, and the sweep finishing half-done moves. Every test runs on the pinned clock."""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.booking import NewBooking, event_ids, live_problem
from shared.calendar_client import RetryPolicy
from shared.clock import PinnedClock
from shared.errors import SlotUnavailable
from shared.slots import Interval, SlotProblem
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import (
    ALICE,
    BERLIN,
    add_busy,
    at,
    booking_body,
    clear_events,
    confirmed_bookings,
    span,
    workday,
    workdays,
)
from tests.helpers.clients import calendar_service, control, delegated_credentials
from tests.helpers.instances import start_instances
from tests.helpers.interleave import PausedBatch, is_move_commit, outcome, private, writes_booking
from tests.helpers.pinned_time import current_clock, overridden_dates
from tests.helpers.support import config_text, make_config, make_runtime, set_faults

EVENTS_SCOPE = ["https://www.googleapis.com/auth/calendar.events"]
SWEEPING: dict[str, str] = {}  # the example config sweeps (sync.sweep_claims)
FAST_RETRY = RetryPolicy(deadline=3.0, attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)


@pytest.fixture(autouse=True)
def _read_lag(emulator: Any) -> Iterator[None]:
    """Google's harsher reading (CALENDAR.md): lists and free/busy lag the writes."""
    clear_events(emulator)
    control(emulator, "PUT", "settings", {"read_lag_ms": 150})
    yield
    set_faults(emulator, [])


def _as_alice(server: Any) -> Any:
    """The employee, through the real Calendar API as the user."""
    return calendar_service(server, delegated_credentials(server, ALICE, EVENTS_SCOPE)).events()


def _no_overlap(events: list[dict[str, Any]]) -> bool:
    spans = sorted(span(e) for e in events)
    return all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def _past_the_lag(server: Any) -> None:
    """Let lists show the writes so far: Google's clock moves past the read lag (no wait on the machine)."""
    _google_time_passes(server, timedelta(seconds=1))


def _google_time_passes(server: Any, delta: timedelta) -> None:
    """Move the emulator's clock on: what it lags (lists, free/busy) catches up, deterministically."""
    control(server, "POST", "clock", {"advance": f"PT{delta.total_seconds():g}S"})


@contextlib.contextmanager
def _move_commits_fail(server: Any, runtime: Any) -> Iterator[None]:
    """Within: a move's commit write (the old booking cancelled as moved) is answered Google's 503."""
    real = runtime.calendar.patch_event

    def failing_commit(identity: Any, calendar_id: str, event_id: str, body: dict[str, Any], **kw: Any) -> Any:
        if is_move_commit(body):
            set_faults(server, [{"method": "calendar.events.patch", "kind": "503"}])
        try:
            return real(identity, calendar_id, event_id, body, **kw)
        finally:
            set_faults(server, [])

    runtime.calendar.patch_event = failing_commit
    try:
        yield
    finally:
        runtime.calendar.patch_event = real


def _raw(server: Any, event_id: str) -> dict[str, Any]:
    state = server.emulator.state
    with state.lock:
        return dict(state.calendars[ALICE].events[event_id])


def _faulty_during(server: Any, runtime: Any, when: Callable[[dict[str, Any]], bool], faults: list[Any]) -> None:
    """Google fails `faults` for exactly the batches of `runtime` whose parts match `when`."""
    real = runtime.calendar.batch

    def batch(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if when(parts):
            set_faults(server, faults)
        try:
            return real(identity, parts, *args, **kw)
        finally:
            set_faults(server, [])

    runtime.calendar.batch = batch


# --- 2: the live read and the release both failing -------------------------------------------------------------
def test_reads_and_releases_failing_under_heavy_faults_never_leave_overlap_or_an_unanswered_booking(
    emulator: Any, tmp_path: Path
) -> None:
    """85% of events.list and events.patch fail (the live read, the reads of claims' holders, releases and
    take-overs). Two instances race for one time, five rounds: no two confirmed bookings overlap, every 201 is
    confirmed, and nothing is confirmed that was not answered 201."""
    first = make_runtime(emulator, tmp_path / "i1", retry=FAST_RETRY)
    second = make_runtime(emulator, tmp_path / "i2", retry=FAST_RETRY)
    day = workday()
    answered: list[str] = []
    set_faults(emulator, [{"method": "calendar.events.list", "kind": "503", "rate": 0.85},
                          {"method": "calendar.events.patch", "kind": "503", "rate": 0.85}], seed=12)
    for hour in (9, 10, 11, 13, 14):
        barrier = threading.Barrier(2)

        def one(runtime: Any, minutes: int, who: str, hour: int = hour, barrier: Any = barrier) -> tuple[int, Any]:
            barrier.wait()
            return outcome(lambda: runtime.booking.book(
                NewBooking("alice", at(day, hour), minutes, who, f"{who}@visitor.test"), None))

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda args: one(*args), [(first, 30, "a"), (second, 60, "b")]))
        assert {status for status, _ in results} <= {200, 409, 503}, results
        answered += [result.booking.id for status, result in results if status == 200]
    set_faults(emulator, [])
    confirmed = confirmed_bookings(emulator)
    assert _no_overlap(confirmed)
    assert sorted(e["id"] for e in confirmed) == sorted(answered)


# --- 3: an attempt that outlives the client's timeout ----------------------------------------------------------
def test_an_attempt_outliving_the_clients_timeout_never_undoes_the_retrys_200(emulator: Any, tmp_path: Path) -> None:
    """The first attempt stalls right before writing its booking; the client gives up and retries the same request
    (same key) on another instance, which books it (200). The first attempt then resumes and Google fails its
    insert: it must not withdraw the booking the retry answered."""
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    request = NewBooking("alice", at(workday(), 10), 30, "Ann", "a@visitor.test")
    paused = PausedBatch(first, writes_booking, lambda: first.booking.book(request, "timeout-key"))
    retry = outcome(lambda: second.booking.book(request, "timeout-key"))
    assert retry[0] == 200 and retry[1].created
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503"}])
    late = paused.finish()
    set_faults(emulator, [])
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == retry[1].booking.id
    assert late[0] == 200 and late[1].booking.id == booking["id"]  # the stalled attempt answers the same booking
    again = outcome(lambda: second.booking.book(request, "timeout-key"))
    assert again[0] == 200 and again[1].booking.id == booking["id"] and again[1].booking.status == "confirmed"


def test_a_move_attempt_outliving_the_clients_timeout_never_undoes_the_retrys_200(
    emulator: Any, tmp_path: Path
) -> None:
    first, second = make_runtime(emulator, tmp_path / "i1"), make_runtime(emulator, tmp_path / "i2")
    day = workday()
    made = first.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    paused = PausedBatch(first, writes_booking,
                         lambda: first.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    retry = outcome(lambda: second.booking.reschedule(made.booking.id, made.token, at(day, 14), None))
    assert retry[0] == 200
    moved = retry[1].booking
    set_faults(emulator, [{"method": "calendar.events.insert", "kind": "503"}])
    late = paused.finish()
    set_faults(emulator, [])
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.id and span(booking)[0] == at(day, 14)
    assert late[0] == 200 and late[1].booking.id == moved.id
    old = _raw(emulator, made.booking.id)
    assert old["status"] == "cancelled" and private(old)["wcbOutcome"] == "moved"


# --- 4: a move whose commit write fails ------------------------------------------------------------------------
def test_a_move_whose_commit_fails_never_leaves_both_and_can_be_moved_and_cancelled_after(
    emulator: Any, tmp_path: Path
) -> None:
    """The new booking is written, then Google fails the write that cancels the old one. The move stands (200):
    the old booking names the new one, which makes it moved by the rule everyone applies, so the first look at
    it (here: the visitor's link to the old booking) cancels it; the booking can be moved and cancelled after."""
    runtime = make_runtime(emulator, tmp_path / "i1")
    day = workday()
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    with _move_commits_fail(emulator, runtime):
        status, result = outcome(
            lambda: runtime.booking.reschedule(made.booking.id, made.token, at(day, 10, 15), None)  # overlaps old
        )
    assert status == 200
    moved = result
    other = make_runtime(emulator, tmp_path / "i2")  # another instance, knowing nothing of it
    view = other.booking.get(made.booking.id, made.token)
    assert view.status == "cancelled" and view.moved_to == moved.booking.id
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id
    again = other.booking.reschedule(moved.booking.id, moved.token, at(day, 14), None)
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == again.booking.id and span(booking)[0] == at(day, 14)
    cancelled = other.booking.cancel(again.booking.id, again.token)
    assert cancelled.status == "cancelled" and confirmed_bookings(emulator) == []
    # The time is free for someone else (once the lagging list no longer shows the cancelled booking).
    _past_the_lag(emulator)
    assert other.booking.book(NewBooking("alice", at(day, 10), 30, "N", "n@visitor.test"), None).created


def test_cancelling_the_new_booking_of_a_move_whose_commit_failed_cancels_both(emulator: Any, tmp_path: Path) -> None:
    runtime = make_runtime(emulator, tmp_path / "i1")
    day = workday()
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    with _move_commits_fail(emulator, runtime):
        moved = runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None)
    assert len(confirmed_bookings(emulator)) == 2  # the commit write failed: nobody has looked yet
    runtime.booking.cancel(moved.booking.id, moved.token)
    assert confirmed_bookings(emulator) == []
    assert private(_raw(emulator, made.booking.id))["wcbOutcome"] == "moved"


# --- 5: the employee edits a meeting while a booking is in flight ----------------------------------------------
@pytest.mark.parametrize(
    "edit",
    [
        {"attendees": [{"email": "bob@example.com"}]},
        {"description": "Agenda: everything"},
        "shift",
    ],
    ids=["a-guest", "the-description", "a-5-minute-shift"],
)
def test_the_employee_editing_a_meeting_while_a_booking_is_in_flight_keeps_the_meeting(
    emulator: Any, tmp_path: Path, edit: Any
) -> None:
    """A meeting at 10:00-11:00; a booking for 10:30 holds its claims and is paused right before its live read
    answers; alice edits the meeting through the Calendar API (its `updated` is now later than the booking's
    claims). The booking is refused, and a repeat too: the meeting's `created`/`updated` play no part."""
    day = workday()
    meeting = add_busy(emulator, at(day, 10), at(day, 11))
    # The meeting is older than the read lag (a meeting written within it is the next test's case).
    control(emulator, "POST", "clock", {"advance": "PT1S"})
    runtime = make_runtime(emulator, tmp_path / "i1")
    request = NewBooking("alice", at(day, 10, 30), 30, "Ann", "a@visitor.test")
    paused = PausedBatch(runtime, lambda parts: "live" in parts, lambda: runtime.booking.book(request, "edit-key"))
    body = edit if isinstance(edit, dict) else {
        "start": {"dateTime": at(day, 10, 5).isoformat()}, "end": {"dateTime": at(day, 11, 5).isoformat()}}
    edited = _as_alice(emulator).patch(calendarId=ALICE, eventId=meeting, body=body).execute()
    assert edited["updated"] > edited["created"]
    status, _ = paused.finish()
    assert status == 409
    assert confirmed_bookings(emulator) == []
    assert outcome(lambda: runtime.booking.book(request, "edit-key"))[0] == 409


def test_the_employee_editing_a_meeting_just_before_a_booking_is_seen_through_the_lag(
    emulator: Any, tmp_path: Path
) -> None:
    """The edit moves the meeting onto the slot right before the booking's live read, which (lagging) may still
    see the old version: either way some version of the meeting keeps the slot, or the booking stands and the
    edit is the employee's own overlap; the booking never silently ignores a version it saw."""
    day = workday()
    meeting = add_busy(emulator, at(day, 10), at(day, 11))
    control(emulator, "POST", "clock", {"advance": "PT1S"})  # the meeting is older than the lag; its edit is not
    runtime = make_runtime(emulator, tmp_path / "i1")
    _as_alice(emulator).patch(calendarId=ALICE, eventId=meeting, body={"description": "now with an agenda"}).execute()
    assert outcome(lambda: runtime.booking.book(NewBooking("alice", at(day, 10), 30, "A", "a@visitor.test"), None))[
        0] == 409
    assert confirmed_bookings(emulator) == []


# --- 6: buffers across midnight --------------------------------------------------------------------------------
def _late_and_early_day() -> tuple[date, date]:
    for day in workdays(10, weekdays=(0, 1, 2)):
        if day + timedelta(days=1) not in overridden_dates():
            return day, day + timedelta(days=1)
    raise AssertionError("no two regular days in a row")


def _midnight_config(emulator: Any, tmp_path: Path, before: int, after: int) -> Any:
    replace = {
        "slot_step_minutes = 15\ndurations = [30, 60]\nbuffer_before_minutes = 0\nbuffer_after_minutes = 10":
            f"slot_step_minutes = 5\ndurations = [15, 30, 60]\nbuffer_before_minutes = {before}\n"
            f"buffer_after_minutes = {after}",
    }
    text = config_text(emulator, tmp_path / "snapshot", replace=replace)
    for weekday, hours in (("mon", '["09:00-12:00", "13:00-17:00"]'), ("tue", '["09:00-12:00", "13:00-17:00"]'),
                           ("wed", '["09:00-12:00", "13:00-17:00"]'), ("thu", '["09:00-12:00", "13:00-17:00"]')):
        text = text.replace(f"{weekday} = {hours}", f'{weekday} = ["00:00-24:00"]', 1)
    from shared.config import parse_config

    return parse_config(text, "midnight config")


@pytest.mark.parametrize(("before", "after"), [(0, 10), (10, 0), (10, 10)])
@pytest.mark.parametrize("late_first", [True, False], ids=["23:40-first", "00:00-first"])
def test_buffers_hold_across_midnight(
    emulator: Any, tmp_path: Path, before: int, after: int, late_first: bool
) -> None:
    """23:40-23:55 and 00:00-00:15 next day are 5 minutes apart; with a 10-minute buffer (before, after or both)
    only one of them may stand, whichever comes first, and on separate instances."""
    late_day, early_day = _late_and_early_day()
    config = _midnight_config(emulator, tmp_path, before, after)
    one = make_runtime(emulator, tmp_path / "i1", config=config)
    two = make_runtime(emulator, tmp_path / "i2", config=config)
    late = NewBooking("alice", at(late_day, 23, 40), 15, "Late", "late@visitor.test")
    early = NewBooking("alice", at(early_day, 0, 0), 15, "Early", "early@visitor.test")
    first, second = (late, early) if late_first else (early, late)
    assert one.booking.book(first, None).created
    with pytest.raises(SlotUnavailable):
        two.booking.book(second, None)
    [booking] = confirmed_bookings(emulator)
    assert span(booking)[0] == first.start
    # 15 minutes apart is enough: 23:40-23:55 and 00:05-00:20.
    if late_first:
        assert two.booking.book(NewBooking("alice", at(early_day, 0, 5), 15, "E", "e@visitor.test"), None).created
        assert _no_overlap(confirmed_bookings(emulator))


# --- 7: the employee restores a cancelled booking from the trash -----------------------------------------------
def test_restoring_a_cancelled_booking_from_the_trash_never_flips_a_later_bookings_answer(
    emulator: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(emulator, tmp_path / "i1")
    start = at(workday(), 10)
    first = runtime.booking.book(NewBooking("alice", start, 30, "A", "a@visitor.test"), "key-a")
    runtime.booking.cancel(first.booking.id, first.token)
    later_request = NewBooking("alice", start, 30, "B", "b@visitor.test")
    later = runtime.booking.book(later_request, "key-b")
    assert later.created
    # alice restores the cancelled booking from the trash through the Calendar API.
    restored = _as_alice(emulator).patch(calendarId=ALICE, eventId=first.booking.id,
                                         body={"status": "confirmed"}).execute()
    assert restored["status"] == "confirmed"
    for runtime_ in (runtime, make_runtime(emulator, tmp_path / "i2")):  # the repeat, on this or another instance
        again = outcome(functools.partial(runtime_.booking.book, later_request, "key-b"))
        assert again[0] == 200 and again[1].booking.id == later.booking.id
        assert again[1].booking.status == "confirmed"
    assert _raw(emulator, later.booking.id)["status"] == "confirmed"
    # Nobody else gets the time, and the restored booking's own repeat does not take it over either.
    with pytest.raises(SlotUnavailable):
        runtime.booking.book(NewBooking("alice", start, 30, "C", "c@visitor.test"), None)
    sweeping = make_runtime(emulator, tmp_path / "sweep", config=make_config(emulator, tmp_path / "sweep",
                                                                            replace=SWEEPING))
    AvailabilitySync.from_runtime(sweeping).run()
    assert _raw(emulator, later.booking.id)["status"] == "confirmed"


# --- deleted items in Google's minimal shapes ------------------------------------------------------------------
@pytest.mark.parametrize(
    "item",
    [
        {"id": "gone0001"},
        {"kind": "calendar#event", "etag": '"1"', "id": "gone0002"},
        {"id": "gone0003_20301104T100000Z", "recurringEventId": "gone0003",
         "originalStartTime": {"dateTime": "2030-11-04T10:00:00Z"}},
    ],
    ids=["only-id", "id-kind-etag", "cancelled-occurrence"],
)
def test_an_item_in_a_minimal_deleted_shape_without_status_counts_as_busy(item: dict[str, Any]) -> None:
    """Google: "Deleted events are only guaranteed to have the id field populated". An item that cannot be read
    (no times, no status) counts as busy; one marked cancelled is gone."""
    from shared.slots import SlotRules

    start = at(date(2030, 11, 4), 10)
    rules = SlotRules(timezone=BERLIN, weekly_hours={}, overrides={}, step=timedelta(minutes=15))
    window = Interval(start, start + timedelta(minutes=30))
    assert live_problem([item], window, rules, BERLIN, set()) == SlotProblem.BUSY
    assert live_problem([{**item, "status": "cancelled"}], window, rules, BERLIN, set()) is None


def test_deleted_bookings_and_claims_in_the_minimal_shape_never_500(emulator: Any, tmp_path: Path) -> None:
    """Bookings and claims the employee deletes are listed (showDeleted, the sweep) in the minimal shape and read by
    id with their details: booking over them, the sweep and a repeat all work, nothing answers 500."""
    runtime = make_runtime(emulator, tmp_path / "i1", config=make_config(emulator, tmp_path / "i1",
                                                                         replace=SWEEPING))
    start = at(workday(), 11)
    made = runtime.booking.book(NewBooking("alice", start, 30, "A", "a@visitor.test"), "key-a")
    alice = _as_alice(emulator)
    _past_the_lag(emulator)
    for event in alice.list(calendarId=ALICE, timeMin=at(workday(), 0).isoformat(),
                            timeMax=at(workday(), 23).isoformat()).execute()["items"]:
        alice.delete(calendarId=ALICE, eventId=event["id"]).execute()  # the booking and its claims, by hand
    _past_the_lag(emulator)
    listed = alice.list(calendarId=ALICE, showDeleted=True, timeMin=at(workday(), 0).isoformat(),
                        timeMax=at(workday(), 23).isoformat()).execute()["items"]
    assert listed == [] or all(set(item) <= {"kind", "etag", "id", "status"} for item in listed)
    AvailabilitySync.from_runtime(runtime).run()
    again = outcome(lambda: runtime.booking.book(NewBooking("alice", start, 30, "A", "a@visitor.test"), "key-a"))
    assert again[0] in (200, 409)
    fresh = runtime.booking.book(NewBooking("alice", start, 30, "B", "b@visitor.test"), None)
    assert fresh.created and [e["id"] for e in confirmed_bookings(emulator)] == [fresh.booking.id]
    assert made.booking.id != fresh.booking.id


# --- same-second `created`, both id orders, two processes ------------------------------------------------------
def _key_for(order_first: bool, other: str, request: NewBooking, config: Any) -> str:
    """An Idempotency-Key whose booking id sorts before (or after) `other`."""
    calendar = config.calendar_by_slug("alice")
    for n in range(1000):
        candidate = f"order-{n}"
        mine = event_ids(calendar, request, candidate)[0]
        if (mine < other) == order_first:
            return candidate
    raise AssertionError("no key found")


def test_same_second_created_in_both_id_orders_across_two_processes(emulator: Any, tmp_path: Path) -> None:
    """Google's clock stands still (every write in one second: the same `created`); two functions-framework
    processes race overlapping bookings, the lower booking id first and then the higher: never both stand."""
    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot"))
    config = make_config(emulator, tmp_path / "snapshot")
    control(emulator, "PUT", "settings", {"read_lag_ms": 0})  # a frozen clock would hold lagged writes forever
    instances = start_instances(2, config_path)
    try:
        control(emulator, "POST", "clock", {"now": current_clock().now().isoformat(), "frozen": True})
        for round_, (hour, lower_first) in enumerate([(10, True), (14, False)]):
            a = NewBooking("alice", at(workday(), hour), 30, "A", "a@visitor.test")
            b = NewBooking("alice", at(workday(), hour, 15), 30, "B", "b@visitor.test")
            key_a = f"round{round_}-a"
            alice = config.calendar_by_slug("alice")
            assert alice is not None
            id_a = event_ids(alice, a, key_a)[0]
            key_b = _key_for(not lower_first, id_a, b, config)
            barrier = threading.Barrier(2)

            def post(url: str, request: NewBooking, key: str, barrier: Any = barrier) -> int:
                body = booking_body(request.start, duration=request.duration, email=request.email)
                barrier.wait()
                return requests.post(f"{url}/bookings", json=body, headers={"Idempotency-Key": key},
                                     timeout=60).status_code

            with ThreadPoolExecutor(max_workers=2) as pool:
                statuses = sorted(pool.map(lambda args: post(*args),
                                           [(instances[0][1], a, key_a), (instances[1][1], b, key_b)]))
            assert statuses in ([201, 409], [409, 409])  # never both; both losing is a (rare) split of the cells
            written = [e for e in emulator.emulator.state.calendars[ALICE].events.values()
                       if e["start"]["dateTime"] >= at(workday(), hour).isoformat()[:10]]
            assert len({e["created"] for e in written}) == 1  # all in one second
        booked = confirmed_bookings(emulator)
        assert len(booked) <= 2 and _no_overlap(booked)
    finally:
        control(emulator, "POST", "clock", {"now": current_clock().now().isoformat(), "frozen": False})
        for process, _ in instances:
            process.terminate()
        for process, _ in instances:
            process.wait(timeout=10)


# --- the sweep finishes half-done moves --------------------------------------------------------------------------
def test_the_sweep_finishes_a_move_whose_commit_failed_within_one_run(emulator: Any, tmp_path: Path) -> None:
    runtime = make_runtime(emulator, tmp_path / "i1")
    day = workday()
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    with _move_commits_fail(emulator, runtime):
        moved = runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None)
    assert len(confirmed_bookings(emulator)) == 2
    sweeping = make_runtime(emulator, tmp_path / "sweep", config=make_config(emulator, tmp_path / "sweep",
                                                                            replace=SWEEPING))
    _past_the_lag(emulator)  # the next sync lists the marked booking
    AvailabilitySync.from_runtime(sweeping).run()
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id
    old = _raw(emulator, made.booking.id)
    assert old["status"] == "cancelled" and private(old)["wcbOutcome"] == "moved"
    assert private(old)["wcbMovedTo"] == moved.booking.id


def test_the_sweep_unmarks_a_booking_whose_move_died_before_writing_once_past_the_ttl(
    emulator: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(emulator, tmp_path / "i1")
    day = workday()
    made = runtime.booking.book(NewBooking("alice", at(day, 10), 30, "V", "v@visitor.test"), None)
    real = runtime.calendar.batch

    def dies(identity: Any, parts: dict[str, Any], *args: Any, **kw: Any) -> Any:
        if writes_booking(parts):
            raise KeyboardInterrupt  # the instance dies between marking the old booking and writing the new
        return real(identity, parts, *args, **kw)

    runtime.calendar.batch = dies  # type: ignore[method-assign, assignment]
    with pytest.raises(KeyboardInterrupt):
        runtime.booking.reschedule(made.booking.id, made.token, at(day, 14), None)
    assert private(_raw(emulator, made.booking.id)).get("wcbMovedTo")
    clock = PinnedClock(current_clock().now())
    sweeping = make_runtime(emulator, tmp_path / "sweep", clock=clock,
                            config=make_config(emulator, tmp_path / "sweep", replace=SWEEPING))
    _past_the_lag(emulator)  # the sync lists the mark
    AvailabilitySync.from_runtime(sweeping).run()
    assert private(_raw(emulator, made.booking.id)).get("wcbMovedTo")  # younger than the TTL: it may still write
    past_the_ttl = timedelta(seconds=sweeping.config.booking.claim_ttl_seconds + 60)
    clock.advance(past_the_ttl)
    _google_time_passes(emulator, past_the_ttl)
    AvailabilitySync.from_runtime(sweeping).run(schedule_time=clock.now())
    old = _raw(emulator, made.booking.id)
    assert old["status"] == "confirmed" and not private(old).get("wcbMovedTo")
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == made.booking.id
    moved = sweeping.booking.reschedule(made.booking.id, made.token, at(day, 15), None)  # it moves again
    [booking] = confirmed_bookings(emulator)
    assert booking["id"] == moved.booking.id and span(booking)[0] == at(day, 15)
