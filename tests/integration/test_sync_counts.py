"""Per-day booking counts in the snapshot: listed only where free/busy changed, within a per-run budget
(shared/count_plan.py), and the calendars the budget leaves over answered live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.booking import NewBooking
from shared.config import parse_config
from shared.count_plan import REFRESH_AFTER, Counted, plan
from shared.runtime import Runtime
from shared.slots import Interval
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import add_busy, at, clear_events, workday
from tests.helpers.support import clear_log, config_text, counts, make_runtime

CALENDARS = ("alice@example.com", "bob@example.com", "carol@example.com")
NO_SWEEP = {"sweep_claims = true": "sweep_claims = false"}


def _runtime(emulator: Any, tmp_path: Path, budget: int | None = None) -> Runtime:
    replace = dict(NO_SWEEP)
    if budget is not None:
        replace["max_booking_lists_per_run = 300"] = f"max_booking_lists_per_run = {budget}"
    return make_runtime(emulator, config=parse_config(config_text(emulator, tmp_path / "snap", replace=replace)))


def _sync(runtime: Runtime) -> dict[str, Any]:
    return AvailabilitySync.from_runtime(runtime).run().to_json()


def _entries(runtime: Runtime) -> dict[str, dict[str, Any]]:
    import json

    assert runtime.store is not None
    return dict(json.loads(runtime.store.read() or b"{}")["calendars"])


def _lists(emulator: Any) -> int:
    return counts(emulator).get("calendar.events.list", 0) + counts(emulator).get("calendar.batch", 0)


def test_a_run_after_nothing_changed_lists_no_bookings_and_keeps_the_counts(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    for calendar_id in CALENDARS:
        add_busy(emulator, at(workday(), 16), at(workday(), 17), calendar_id)
    runtime = _runtime(emulator, tmp_path)
    runtime.booking.book(NewBooking("alice", at(workday(), 10), 30, "V", "v@visitor.test"), None)
    first = _sync(runtime)
    counted = _entries(runtime)
    assert first["countsListed"] == 3 and first["countsPending"] == 0  # each calendar has busy time
    assert counted["alice"]["bookingsPerDay"] == {workday().isoformat(): 1}
    clear_log(emulator)
    second = _sync(runtime)
    assert second["countsListed"] == 0 and _lists(emulator) == 0  # free/busy only: 1 query for 3 calendars
    again = _entries(runtime)
    for slug in ("alice", "bob", "carol"):
        assert again[slug]["bookingsPerDay"] == counted[slug]["bookingsPerDay"]
        assert again[slug]["bookings"] == counted[slug]["bookings"]
        assert again[slug]["countedAt"] == counted[slug]["countedAt"]  # carried, not listed again


@pytest.mark.parametrize("change", ["book", "cancel"])
def test_a_booking_or_cancel_between_runs_relists_only_that_calendar(
    emulator: Any, tmp_path: Path, change: str
) -> None:
    clear_events(emulator)
    add_busy(emulator, at(workday(), 16), at(workday(), 17))  # a meeting: alice has busy time either way
    runtime = _runtime(emulator, tmp_path)
    made = runtime.booking.book(NewBooking("alice", at(workday(), 10), 30, "V", "v@visitor.test"), None)
    _sync(runtime)
    if change == "book":
        runtime.booking.book(NewBooking("alice", at(workday(), 14), 30, "W", "w@visitor.test"), None)
    else:
        runtime.booking.cancel(made.booking.id, made.token)
    report = _sync(runtime)
    assert report["countsListed"] == 1
    expected = {workday().isoformat(): 2} if change == "book" else {}
    assert _entries(runtime)["alice"]["bookingsPerDay"] == expected


def test_the_budget_defers_the_rest_which_slots_answer_live_until_a_later_run(emulator: Any, tmp_path: Path) -> None:
    clear_events(emulator)
    for calendar_id in CALENDARS:
        add_busy(emulator, at(workday(), 16), at(workday(), 17), calendar_id)
    runtime = _runtime(emulator, tmp_path, budget=1)
    first = _sync(runtime)
    assert (first["countsListed"], first["countsPending"], first["unavailable"]) == (1, 2, [])
    entries = _entries(runtime)
    pending = sorted(slug for slug, entry in entries.items() if entry.get("countsPending"))
    assert len(pending) == 2 and all("bookings" not in entries[slug] for slug in pending)
    day = workday()
    served = runtime.booking.slots(pending[0], day, day, 30, None)
    assert served["source"] == "live"  # no counts to vouch for its cap: asked of Google
    listed = next(slug for slug in entries if slug not in pending)
    assert runtime.booking.slots(listed, day, day, 30, None)["source"] == "snapshot"
    second, third = _sync(runtime), _sync(runtime)
    assert (second["countsPending"], third["countsPending"], third["countsListed"]) == (1, 0, 1)


# --- the plan, as pure decisions --------------------------------------------------------------------------------
NOW = datetime(2031, 3, 3, 12, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=1), NOW + timedelta(days=28))
RANGE = (datetime(2031, 3, 2, tzinfo=UTC), datetime(2031, 4, 1, tzinfo=UTC))
MEETING = Interval(NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1))


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _previous(busy: list[Interval], counted_at: datetime = NOW - timedelta(minutes=5)) -> dict[str, Any]:
    return {"status": "ok", "busy": [[_text(s.start), _text(s.end)] for s in busy],
            "bookingsPerDay": {"2031-03-05": 1}, "bookings": [[_text(MEETING.start), _text(MEETING.end)]],
            "countedFrom": _text(RANGE[0]), "countedTo": _text(RANGE[1]), "countedAt": _text(counted_at)}


def _plan(busy: list[Interval], previous: dict[str, Any] | None, budget: int = 10) -> Any:
    earlier = (WINDOW[0] - timedelta(minutes=5), WINDOW[1] - timedelta(minutes=5))
    return plan({"a": busy}, {"a": RANGE}, WINDOW, {"a": previous} if previous else {}, earlier, now=NOW,
                budget=budget)


def test_unchanged_busy_time_carries_the_counts_and_changed_or_new_busy_time_lists() -> None:
    carried = _plan([MEETING], _previous([MEETING]))
    assert carried.listed == [] and isinstance(carried.carried["a"], Counted)
    assert carried.carried["a"].per_day == {"2031-03-05": 1}
    moved = Interval(MEETING.start + timedelta(hours=2), MEETING.end + timedelta(hours=2))
    assert _plan([moved], _previous([MEETING])).listed == ["a"]
    assert _plan([MEETING, moved], _previous([MEETING])).listed == ["a"]
    assert _plan([MEETING], None).listed == ["a"]  # never counted


def test_busy_time_where_the_last_run_did_not_look_lists() -> None:
    newly_in_view = Interval(WINDOW[1] - timedelta(minutes=3), WINDOW[1] - timedelta(minutes=1))
    assert _plan([MEETING, newly_in_view], _previous([MEETING])).listed == ["a"]


def test_no_busy_time_means_no_bookings_without_a_list() -> None:
    result = _plan([], None)
    assert result.listed == [] and result.carried["a"].per_day == {} and result.carried["a"].spans == []


def test_over_the_budget_changed_calendars_go_first_and_day_old_counts_refresh_only_with_budget_left() -> None:
    moved = Interval(MEETING.start + timedelta(hours=2), MEETING.end + timedelta(hours=2))
    old = NOW - REFRESH_AFTER - timedelta(minutes=1)
    earlier = (WINDOW[0] - timedelta(minutes=5), WINDOW[1] - timedelta(minutes=5))
    busy = {"stale": [MEETING], "changed": [moved], "fresh": [MEETING]}
    previous = {"stale": _previous([MEETING], old), "changed": _previous([MEETING]), "fresh": _previous([MEETING])}
    ranges = dict.fromkeys(busy, RANGE)
    tight = plan(busy, ranges, WINDOW, previous, earlier, now=NOW, budget=1)
    assert tight.listed == ["changed"] and "stale" in tight.carried and tight.pending == []
    roomy = plan(busy, ranges, WINDOW, previous, earlier, now=NOW, budget=5)
    assert roomy.listed == ["changed", "stale"] and set(roomy.carried) == {"fresh"}
    none = plan(busy, ranges, WINDOW, previous, earlier, now=NOW, budget=0)
    assert none.pending == ["changed"] and none.listed == []
