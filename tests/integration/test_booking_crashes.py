"""An instance killed (SIGKILL) between holding its claims and writing its booking: no overlap, and one sync
settles what it left. Plus what the protocol takes from Google's own semantics (minimal deleted items)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.demo_calendars import claims_calendar_id
from shared.booking import NewBooking
from shared.clock import PinnedClock
from shared.errors import SlotUnavailable
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import ALICE, at, booking_body, clear_events, confirmed_bookings, workday
from tests.helpers.clients import control
from tests.helpers.instances import start_instances
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import config_text, make_config, make_runtime, set_latency


def _claims(server: Any) -> list[dict[str, Any]]:
    state = server.emulator.state
    with state.lock:  # the example config keeps alice's claims in her own "Booking claims" calendar
        events = [dict(e) for e in state.calendars[claims_calendar_id(ALICE)].events.values()]
    return [e for e in events if (e.get("extendedProperties") or {}).get("private", {}).get("wcbClaim") == "1"]


def _held(claim: dict[str, Any]) -> bool:
    return bool(claim["extendedProperties"]["private"].get("wcbHolder")) and claim.get("status") != "cancelled"


def test_an_instance_killed_after_claiming_leaves_no_overlap_and_one_sync_settles_it(
    emulator: Any, tmp_path: Path
) -> None:
    clear_events(emulator)
    control(emulator, "PUT", "settings", {"read_lag_ms": 150})
    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot"))
    [(process, url)] = start_instances(1, config_path)
    start = at(workday(), 10)
    try:
        # Every write of a booking rides in a batch (the emulator delays the batch, not its parts): each is held
        # 2.5 s, so the window between the claims landing and the booking's insert is that long.
        set_latency(emulator, [{"method": "calendar.batch", "ms": 2500}])
        def book_and_die() -> None:
            with contextlib.suppress(requests.ConnectionError):  # the instance is killed before it answers
                requests.post(f"{url}/bookings", json=booking_body(start), timeout=30)

        thread = threading.Thread(target=book_and_die, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not any(_held(c) for c in _claims(emulator)):
            assert time.monotonic() < deadline, "the instance never claimed"
            time.sleep(0.02)
        assert confirmed_bookings(emulator) == []  # claimed, booking not written yet: the window
        os.killpg(process.pid, signal.SIGKILL)  # the master and its worker: nothing of it answers after this
        process.wait(10)
    finally:
        set_latency(emulator, [])
        if process.poll() is None:
            process.kill()
    time.sleep(3)  # anything the dead instance had in flight has landed (or never will)
    landed = confirmed_bookings(emulator)  # its booking write may have been on the wire when it died

    later = PinnedClock(current_clock().now())  # another instance, on the same (pinned) time
    sweeping = make_config(emulator, tmp_path / "later")  # the example config sweeps
    runtime = make_runtime(emulator, tmp_path / "later", config=sweeping, clock=later)
    request = NewBooking("alice", start, 30, "Next", "next@visitor.test")
    with pytest.raises(SlotUnavailable):  # a hold younger than the TTL (or a booking) keeps its cells
        runtime.booking.book(request, None)
    later.advance(timedelta(seconds=runtime.config.booking.claim_ttl_seconds + 1))
    AvailabilitySync.from_runtime(runtime).run()
    live = {e["id"] for e in confirmed_bookings(emulator)}
    # No orphan after one sync: every claim still held names a confirmed booking.
    assert all(c["extendedProperties"]["private"]["wcbHolder"] in live for c in _claims(emulator) if _held(c))
    if landed:
        with pytest.raises(SlotUnavailable):  # the dead instance's booking stands
            runtime.booking.book(request, None)
    else:
        made = runtime.booking.book(request, None)
        assert made.created
    assert len(confirmed_bookings(emulator)) == 1


def test_a_deleted_item_in_the_minimal_shape_counts_as_nothing_and_never_500s(
    emulator: Any, tmp_path: Path
) -> None:
    clear_events(emulator)
    runtime = make_runtime(emulator, tmp_path / "s")
    start = at(workday(), 11)
    first = runtime.booking.book(NewBooking("alice", start, 30, "A", "a@visitor.test"), None)
    runtime.booking.cancel(first.booking.id, first.token)
    again = runtime.booking.book(NewBooking("alice", start, 30, "B", "b@visitor.test"), None)
    assert again.created and [e["id"] for e in confirmed_bookings(emulator)] == [again.booking.id]
