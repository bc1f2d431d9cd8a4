"""The sync function against the emulator: real client libraries, no mocks.

Calls go through the functions-framework app (`function_app("sync")`) with a scheduler ID token the emulator
signs, or through the use case (`AvailabilitySync`) where a test needs a range the config would refuse.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.availability import Snapshot
from shared.clock import PinnedClock
from shared.config import parse_config
from shared.runtime import Runtime, set_runtime
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import add_busy, at, booking_body, workday
from tests.helpers.clients import id_token
from tests.helpers.function_app import function_app
from tests.helpers.many_calendars import add_calendars, calendars_toml
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import clear_log, config_text, counts, make_runtime, set_faults, set_latency

# Date-sensitive throughout: each test runs on every pinned day (tests/helpers/pinned_time.py).
pytestmark = pytest.mark.every_day

# The sync's own calls, without the sweep of booking claims and moves (one or two events.list per calendar more).
NO_SWEEP = {"sweep_claims = true": "sweep_claims = false"}


SCHEDULER = "scheduler@demo-project.iam.gserviceaccount.com"
AUDIENCE = "http://localhost/"
SLOTS = "/slots?calendar={slug}&from={first}&to={last}&duration=30"


@pytest.fixture
def sync_client(installed_runtime: Runtime) -> Any:
    return function_app("sync").test_client()


@pytest.fixture
def token(emulator: Any) -> str:
    return id_token(emulator, SCHEDULER, AUDIENCE)


def post(client: Any, token: str | None, schedule_time: str | None = None) -> Any:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if schedule_time is not None:
        headers["X-CloudScheduler-ScheduleTime"] = schedule_time
    return client.post("/", headers=headers)


def stamp(runtime: Runtime, minutes: int = 0, offset_hours: int = 0) -> str:
    """A schedule time near the runtime's now (the function refuses one far from it), on a whole minute."""
    from datetime import timezone

    moment = runtime.now().replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    text = moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()
    return text.replace("+00:00", "Z")


def snapshot_bytes(runtime: Runtime) -> bytes | None:
    assert runtime.store is not None
    return runtime.store.read()


def snapshot_json(runtime: Runtime) -> dict[str, Any]:
    raw = snapshot_bytes(runtime)
    assert raw is not None
    return dict(json.loads(raw))


def google_calls(server: Any) -> dict[str, int]:
    """Calendar, token and secret calls since the log was cleared (the ID-token certs are not Google calls here)."""
    return {k: v for k, v in counts(server).items() if k.startswith(("calendar.", "oauth2.token", "secretmanager."))}


def install(runtime: Runtime) -> Runtime:
    set_runtime(runtime)
    return runtime


def slots_range(days_ahead: int = 1) -> tuple[date, date]:
    first = current_clock().now().date() + timedelta(days=days_ahead)
    return first, first + timedelta(days=6)


# --- the snapshot ---------------------------------------------------------------------------------------------------
def test_sync_writes_the_inputs_of_the_slot_math(sync_client: Any, token: str, installed_runtime: Runtime,
                                                  emulator: Any) -> None:
    clear_log(emulator)
    answer = post(sync_client, token)

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["calendars"] == 3 and body["freebusyCalls"] == 1 and body["unavailable"] == []
    assert body["duplicate"] is False
    assert body["snapshot"] == installed_runtime.store.location  # type: ignore[union-attr]
    assert isinstance(body["durationMs"], int)
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    as_of = datetime.fromisoformat(body["asOf"])
    assert abs(as_of - current_clock().now()) < timedelta(minutes=1)
    assert end - as_of == timedelta(days=28)  # sync.horizon_days in the example config
    assert as_of - start == timedelta(days=1)  # the day before: /slots pads its window back by a day
    assert counts(emulator)["calendar.freebusy.query"] == 1
    assert counts(emulator)["calendar.batch"] == 1  # booking.max_per_day is set: the counts in one batch

    data = snapshot_json(installed_runtime)
    assert data["version"] == 1 and data["from"] == body["from"] and data["to"] == body["to"]
    assert set(data["calendars"]) == {"alice", "bob", "carol"}
    alice = data["calendars"]["alice"]
    assert alice["status"] == "ok" and alice["bookingsPerDay"] == {}
    for first, last in alice["busy"]:
        assert first.endswith("Z") and last.endswith("Z") and first < last
    # alice's daily stand-up (09:00-09:30 Berlin) on the first seeded Monday is busy; Wednesday focus time is not.
    monday = workday(1, weekdays=(0,))
    standup = [at(monday, 9).astimezone(UTC), at(monday, 9, 30).astimezone(UTC)]
    assert [t.isoformat().replace("+00:00", "Z") for t in standup] in alice["busy"]
    wednesday = workday(1, weekdays=(2,))
    focus = at(wednesday, 11).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert not any(first <= focus < last for first, last in alice["busy"])

    parsed = Snapshot.parse(snapshot_bytes(installed_runtime) or b"")
    view = parsed.view("alice")
    assert view is not None and view.source == "snapshot" and len(view.busy) == len(alice["busy"])


def test_bookings_are_kept_with_their_day_counts_and_slots_match_live(
    sync_client: Any, booking_client: Any, token: str, installed_runtime: Runtime
) -> None:
    day = workday(3)
    url = SLOTS.format(slug="alice", first=day - timedelta(days=1), last=day + timedelta(days=1))
    free = booking_client.get(url).get_json()["slots"]
    start = datetime.fromisoformat(free[len(free) // 2]["start"])
    booked = booking_client.post("/bookings", json=booking_body(start))
    assert booked.status_code == 201, booked.get_json()
    live = booking_client.get(url).get_json()
    assert live["source"] == "live"

    assert post(sync_client, token).status_code == 200

    alice = snapshot_json(installed_runtime)["calendars"]["alice"]
    assert alice["bookingsPerDay"] == {day.isoformat(): 1}
    end = start + timedelta(minutes=30)
    assert alice["bookings"] == [[t.astimezone(UTC).isoformat().replace("+00:00", "Z") for t in (start, end)]]
    served = booking_client.get(url).get_json()
    assert served["source"] == "snapshot"
    assert served["slots"] == live["slots"]  # the snapshot gives the answer Google gives live


def test_bookings_are_not_listed_when_they_cannot_change_the_slots(emulator: Any, tmp_path: Path,
                                                                   token: str) -> None:
    config = parse_config(config_text(emulator, tmp_path, replace={
        "max_per_day = 8\n": "", "buffer_after_minutes = 10": "buffer_after_minutes = 0", **NO_SWEEP}))
    runtime = install(make_runtime(emulator, config=config))
    clear_log(emulator)
    try:
        assert post(function_app("sync").test_client(), token).status_code == 200
    finally:
        set_runtime(None)
    assert "calendar.batch" not in counts(emulator) and "calendar.events.list" not in counts(emulator)
    alice = snapshot_json(runtime)["calendars"]["alice"]
    assert "bookings" not in alice and alice["bookingsPerDay"] == {}


@pytest.mark.parametrize(("extra", "queries"), [(47, 1), (48, 2), (120, 3)])
def test_n_calendars_need_ceil_n_over_50_freebusy_queries(emulator: Any, tmp_path: Path, token: str, extra: int,
                                                          queries: int) -> None:
    emails = add_calendars(emulator.emulator.state, extra)
    config = parse_config(config_text(emulator, tmp_path, replace=NO_SWEEP) + calendars_toml(emails))
    runtime = install(make_runtime(emulator, config=config))
    clear_log(emulator)
    try:
        answer = post(function_app("sync").test_client(), token)
    finally:
        set_runtime(None)

    assert answer.status_code == 200, answer.get_json()
    total = extra + 3
    assert queries == math.ceil(total / 50)
    assert answer.get_json()["freebusyCalls"] == queries
    assert counts(emulator)["calendar.freebusy.query"] == queries
    assert counts(emulator)["calendar.batch"] == queries  # booking counts: <= 50 lists per batch request
    assert counts(emulator)["calendar.events.list"] == total
    calendars = snapshot_json(runtime)["calendars"]
    assert len(calendars) == total and all(entry["status"] == "ok" for entry in calendars.values())
    assert len(calendars["m0000"]["busy"]) == 3


def test_without_sync_act_as_each_calendar_is_asked_as_itself(emulator: Any, tmp_path: Path, token: str) -> None:
    config = parse_config(config_text(emulator, tmp_path, replace={'act_as = "admin@example.com"\n': ""}))
    assert config.sync.act_as is None
    runtime = install(make_runtime(emulator, config=config))
    clear_log(emulator)
    try:
        answer = post(function_app("sync").test_client(), token)
    finally:
        set_runtime(None)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["freebusyCalls"] == 3 == counts(emulator)["calendar.freebusy.query"]
    assert all(entry["status"] == "ok" for entry in snapshot_json(runtime)["calendars"].values())


def test_a_horizon_longer_than_90_days_is_split_into_windows(emulator: Any, tmp_path: Path) -> None:
    moment = current_clock().now().replace(microsecond=0)
    runtime = make_runtime(emulator, tmp_path, clock=PinnedClock(moment, frozen=True))
    edge = moment - timedelta(days=1) + timedelta(days=90)  # where the first 90-day window ends
    add_busy(emulator, edge - timedelta(hours=1), edge + timedelta(hours=1))
    clear_log(emulator)

    report = AvailabilitySync.from_runtime(runtime).run(horizon=timedelta(days=120))

    assert report.freebusy_calls == 2 == counts(emulator)["calendar.freebusy.query"]
    data = snapshot_json(runtime)
    assert datetime.fromisoformat(data["to"]) - datetime.fromisoformat(data["asOf"]) == timedelta(days=120)
    across = [(edge - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
              (edge + timedelta(hours=1)).isoformat().replace("+00:00", "Z")]
    assert across in data["calendars"]["alice"]["busy"]  # the two windows' halves are joined again


# --- failures -------------------------------------------------------------------------------------------------------
def test_a_calendar_google_cannot_answer_is_unavailable_and_the_others_proceed(
    emulator: Any, tmp_path: Path, token: str
) -> None:
    ghost = """
[[calendars]]
slug = "ghost"
name = "Nobody"
calendar_id = "ghost@example.com"
act_as = "ghost@example.com"
timezone = "UTC"

[calendars.hours]
mon = ["09:00-17:00"]
"""
    state = emulator.emulator.state
    with state.lock:  # carol stops sharing her free/busy with the domain
        del state.calendars["carol@example.com"].acl["domain:example.com"]
    runtime = install(make_runtime(emulator, config=parse_config(config_text(emulator, tmp_path) + ghost)))
    try:
        answer = post(function_app("sync").test_client(), token)
        first, last = slots_range()
        carol_slots = function_app("booking").test_client().get(
            SLOTS.format(slug="carol", first=first, last=last).replace("duration=30", "duration=45")
        )
        alice_slots = function_app("booking").test_client().get(SLOTS.format(slug="alice", first=first, last=last))
    finally:
        set_runtime(None)

    assert answer.status_code == 200, answer.get_json()
    assert sorted(answer.get_json()["unavailable"], key=lambda u: u["calendar"]) == [
        {"calendar": "carol", "error": "notFound"},
        {"calendar": "ghost", "error": "notFound"},
    ]
    calendars = snapshot_json(runtime)["calendars"]
    assert calendars["carol"] == {"status": "unavailable", "error": "notFound"}
    assert calendars["ghost"] == {"status": "unavailable", "error": "notFound"}
    assert calendars["alice"]["status"] == calendars["bob"]["status"] == "ok"
    # Fail closed: the snapshot does not vouch for carol, so /slots asks Google live, as carol herself.
    assert carol_slots.get_json()["source"] == "live" and carol_slots.get_json()["slots"]
    assert alice_slots.get_json()["source"] == "snapshot"


def test_a_failed_sync_keeps_the_last_good_snapshot(sync_client: Any, token: str, installed_runtime: Runtime,
                                                    emulator: Any) -> None:
    assert post(sync_client, token).status_code == 200
    before = snapshot_bytes(installed_runtime)
    set_faults(emulator, [{"method": "calendar.freebusy.query", "kind": "503", "rate": 1.0}])

    answer = post(sync_client, token, stamp(installed_runtime, 5))

    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "upstream_unavailable"
    assert answer.headers["Retry-After"]
    assert counts(emulator)["calendar.freebusy.query"] > 1  # retried before giving up
    assert snapshot_bytes(installed_runtime) == before
    set_faults(emulator, [])
    assert post(sync_client, token, stamp(installed_runtime, 5)).get_json()["duplicate"] is False  # not recorded


def test_without_a_snapshot_location_the_sync_says_so(emulator: Any, token: str) -> None:
    text = config_text(emulator).replace('[snapshot]\nlocation = "file://.local/snapshot"\nmax_age_seconds = 900\n', "")
    install(make_runtime(emulator, config=parse_config(text)))
    try:
        answer = post(function_app("sync").test_client(), token)
    finally:
        set_runtime(None)
    assert answer.status_code == 500
    assert answer.get_json()["error"]["code"] == "not_configured"


# --- serving slots from it ----------------------------------------------------------------------------------------
def test_slots_come_from_a_fresh_snapshot_and_live_when_it_is_stale_or_missing(
    sync_client: Any, booking_client: Any, token: str, installed_runtime: Runtime, emulator: Any, tmp_path: Path
) -> None:
    first, last = slots_range()
    url = SLOTS.format(slug="alice", first=first, last=last)
    missing = booking_client.get(url).get_json()
    assert missing["source"] == "live"

    synced = post(sync_client, token).get_json()
    clear_log(emulator)
    fresh = booking_client.get(url).get_json()
    assert fresh["source"] == "snapshot"
    assert fresh["asOf"] == synced["asOf"]
    assert google_calls(emulator) == {}  # served without asking Google
    assert fresh["slots"] == missing["slots"]  # the same answer as live

    for slug, duration in (("alice", 60), ("bob", 15), ("carol", 45)):  # from today in each calendar's zone
        today = installed_runtime.now().astimezone(installed_runtime.config.calendar_by_slug(slug).zone).date()  # type: ignore[union-attr]
        asked = SLOTS.format(slug=slug, first=today, last=today + timedelta(days=6))
        answer = booking_client.get(asked.replace("duration=30", f"duration={duration}")).get_json()
        assert answer["source"] == "snapshot", answer
    assert google_calls(emulator) == {}

    max_age = installed_runtime.config.snapshot.max_age_seconds  # type: ignore[union-attr]
    later = make_runtime(emulator, tmp_path / "snapshot",
                         clock=PinnedClock(current_clock().now() + timedelta(seconds=max_age + 60)))
    install(later)
    stale = booking_client.get(url).get_json()
    assert stale["source"] == "live"
    assert counts(emulator).get("calendar.freebusy.query", 0) + counts(emulator).get("calendar.batch", 0) >= 1


# --- at-least-once delivery ---------------------------------------------------------------------------------------
def test_a_duplicate_delivery_does_no_second_sync(sync_client: Any, token: str, installed_runtime: Runtime,
                                                   emulator: Any) -> None:
    when = stamp(installed_runtime)
    first = post(sync_client, token, when)
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    assert snapshot_json(installed_runtime)["scheduleTime"] == when
    written = snapshot_bytes(installed_runtime)
    clear_log(emulator)

    again = post(sync_client, token, stamp(installed_runtime, offset_hours=-7))  # the same time, another offset

    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicate"] is True and body["freebusyCalls"] == 0
    assert body["asOf"] == first.get_json()["asOf"] and body["calendars"] == 3
    assert google_calls(emulator) == {}
    assert snapshot_bytes(installed_runtime) == written

    assert post(sync_client, token, stamp(installed_runtime, -5)).get_json()["duplicate"] is True  # an older run
    newer = post(sync_client, token, stamp(installed_runtime, 5)).get_json()
    assert newer["duplicate"] is False and counts(emulator)["calendar.freebusy.query"] == 1


def test_a_run_without_schedule_time_always_syncs_and_keeps_the_recorded_time(
    sync_client: Any, token: str, installed_runtime: Runtime, emulator: Any
) -> None:
    when = stamp(installed_runtime)
    assert post(sync_client, token, when).get_json()["duplicate"] is False
    clear_log(emulator)
    manual = post(sync_client, token).get_json()
    assert manual["duplicate"] is False and counts(emulator)["calendar.freebusy.query"] == 1
    assert snapshot_json(installed_runtime)["scheduleTime"] == when
    assert post(sync_client, token, when).get_json()["duplicate"] is True


def test_concurrent_deliveries_of_one_run_sync_once(installed_runtime: Runtime, token: str, emulator: Any) -> None:
    set_latency(emulator, [{"method": "calendar.*", "ms": 300}])  # widen the window the two deliveries race in
    clear_log(emulator)
    app = function_app("sync")
    barrier = threading.Barrier(2)
    answers: list[Any] = []
    when = stamp(installed_runtime)

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(post(client, token, when))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.get_json()["duplicate"] for a in answers) == [False, True]
    assert counts(emulator)["calendar.freebusy.query"] == 1


# --- who may call -------------------------------------------------------------------------------------------------
@pytest.fixture
def no_snapshot_yet(installed_runtime: Runtime, emulator: Any) -> Iterator[None]:
    clear_log(emulator)
    yield
    assert google_calls(emulator) == {}
    assert snapshot_bytes(installed_runtime) is None


@pytest.mark.usefixtures("no_snapshot_yet")
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic c2NoZWR1bGVyOnB3"],
    ids=["none", "empty", "garbage", "basic"],
)
def test_without_a_valid_id_token_the_answer_is_401(sync_client: Any, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = sync_client.post("/", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthenticated"


@pytest.mark.usefixtures("no_snapshot_yet")
def test_a_token_for_another_audience_is_401(sync_client: Any, emulator: Any) -> None:
    other = id_token(emulator, SCHEDULER, "https://elsewhere.example.com/sync")
    assert post(sync_client, other).status_code == 401


@pytest.mark.usefixtures("no_snapshot_yet")
@pytest.mark.parametrize(
    "email", ["admin@example.com", "alice@example.com", "intruder@demo-project.iam.gserviceaccount.com"]
)
def test_anyone_but_the_scheduler_is_403(sync_client: Any, emulator: Any, email: str) -> None:
    answer = post(sync_client, id_token(emulator, email, AUDIENCE))
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"


@pytest.mark.usefixtures("no_snapshot_yet")
def test_only_post_slash(sync_client: Any, token: str) -> None:
    answer = sync_client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"
    assert sync_client.post("/other", headers={"Authorization": f"Bearer {token}"}).status_code == 404


@pytest.mark.usefixtures("no_snapshot_yet")
def test_a_malformed_schedule_time_is_400(sync_client: Any, token: str) -> None:
    answer = post(sync_client, token, "yesterday at noon")
    assert answer.status_code == 400
    assert "X-CloudScheduler-ScheduleTime" in answer.get_json()["error"]["details"]["fields"]


def test_the_audience_is_configured_not_taken_from_x_forwarded_proto(emulator: Any, installed_runtime: Any) -> None:
    """Cloud Run hands the request over as http with X-Forwarded-Proto: https; that header is the caller's to
    set, so the accepted audiences come from config (sync.audiences) only."""
    from tests.helpers.clients import id_token

    token = id_token(emulator, "scheduler@demo-project.iam.gserviceaccount.com", "https://localhost/")
    client = function_app("sync").test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/", headers=headers).status_code == 401
    assert client.post("/", headers={**headers, "X-Forwarded-Proto": "https"}).status_code == 401
    configured = id_token(emulator, "scheduler@demo-project.iam.gserviceaccount.com", "http://127.0.0.1:8080/sync")
    assert client.post("/", headers={"Authorization": f"Bearer {configured}"}).status_code == 200
