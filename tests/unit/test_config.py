"""The TOML config: the example loads, and each kind of mistake is reported with its place and what is expected."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic
import pytest

from shared.config import ConfigError, load_config, parse_config
from shared.slots import SlotRules, days_window, free_slots

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"

CALENDAR = """
[[calendars]]
slug = "alice"
name = "Alice"
calendar_id = "alice@example.com"
act_as = "alice@example.com"
timezone = "Europe/Berlin"
[calendars.hours]
mon = ["09:00-12:00", "13:00-17:00"]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.toml")
    assert str(caught.value).startswith("invalid config test.toml (")
    return [str(problem) for problem in caught.value.problems]


def only_problem(text: str) -> str:
    found = problems_of(text)
    assert len(found) == 1, found
    return found[0]


# --- the example and the object it gives --------------------------------------------------------------------


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert [c.slug for c in config.calendars] == ["alice", "bob", "carol"]
    assert {c.timezone for c in config.calendars} == {"Europe/Berlin", "America/New_York", "Europe/London"}
    for calendar in config.calendars:
        assert calendar.mode == "delegated"
        assert calendar.act_as == calendar.calendar_id == f"{calendar.slug}@example.com"
    assert config.google is not None
    assert config.google.emulator_url == "http://127.0.0.1:8090"
    assert config.credentials.secret == "projects/demo-project/secrets/calendar-credentials/versions/latest"
    assert config.sharing.admins == ("admin@example.com",)
    assert config.sync.scheduler_identity == "scheduler@demo-project.iam.gserviceaccount.com"
    assert config.identity.issuer == "http://127.0.0.1:8090"
    assert config.identity.certs_url == "http://127.0.0.1:8090/oauth2/v1/certs"
    assert config.snapshot is not None
    assert (config.snapshot.scheme, config.snapshot.path) == ("file", ".local/snapshot")


def test_calendar_lookup_durations_and_slot_rules() -> None:
    config = load_config(str(EXAMPLE))
    alice = config.calendar_by_slug("alice")
    assert alice is not None
    assert config.calendar_by_slug("mallory") is None
    assert config.durations_for(alice) == (30, 60)  # the booking default
    bob = config.calendar_by_slug("bob")
    assert bob is not None
    assert config.durations_for(bob) == (15, 30, 60)

    rules = config.slot_rules("alice")
    assert isinstance(rules, SlotRules)
    assert config.slot_rules("alice") is rules  # built once, at load
    assert rules.timezone == ZoneInfo("Europe/Berlin")
    assert rules.weekly_hours[0] == ((time(9), time(12)), (time(13), time(17)))
    assert rules.overrides[date(2026, 12, 24)] == ()
    assert rules.step == timedelta(minutes=15)
    assert rules.durations == (timedelta(minutes=30), timedelta(minutes=60))
    assert rules.buffer_after == timedelta(minutes=10)
    assert rules.minimum_notice == timedelta(minutes=120)
    assert rules.horizon == timedelta(days=60)
    assert rules.max_per_day == 8
    with pytest.raises(KeyError):
        config.slot_rules("mallory")

    monday = date(2026, 11, 23)
    window = days_window(rules.timezone, monday, monday)
    slots = free_slots(
        rules,
        window_start=window.start,
        window_end=window.end,
        duration=timedelta(minutes=30),
        busy=[],
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert slots[0].start.astimezone(rules.timezone).time() == time(9)


def test_config_is_frozen() -> None:
    config = load_config(EXAMPLE)
    with pytest.raises(pydantic.ValidationError):
        config.booking.horizon_days = 5
    with pytest.raises(TypeError):
        config.calendars[0].overrides[date(2027, 1, 1)] = ()  # type: ignore[index]
    assert isinstance(config.calendars, tuple)
    assert load_config(EXAMPLE) == config


def test_minimal_config_gets_documented_defaults() -> None:
    config = parse_config(CALENDAR)
    assert config.google is None
    assert config.credentials.secret is None
    assert config.snapshot is None
    assert config.booking.slot_step_minutes == 15
    assert config.booking.durations == (30,)
    assert config.booking.minimum_notice_minutes == 120
    assert config.booking.horizon_days == 60
    assert config.booking.max_per_day is None
    assert config.booking.token_ttl_days == 90
    assert config.sharing.allowed_roles == ("none", "freeBusyReader", "reader", "writer")
    assert not config.sharing.iam_protected
    assert config.sync_horizon_days == 60
    assert config.identity.issuer == "https://accounts.google.com"
    assert config.calendars[0].mode == "delegated"


def test_values_are_normalized() -> None:
    config = parse_config(
        CALENDAR.replace('act_as = "alice@example.com"', 'act_as = "Alice@Example.COM"\ndurations = [60, 30]')
        + '[calendars.overrides]\n"2026-12-31" = ["14:00-16:00", "10:00-12:00"]\n'
        + '[google]\nemulator_url = "http://127.0.0.1:8090/"\n'
        + '[booking]\ncors_origins = ["HTTPS://WWW.Example.com/"]\ncompany_domains = ["Example.COM"]\n'
        + "[sync]\nhorizon_days = 14\n"
    )
    calendar = config.calendars[0]
    assert calendar.act_as == "alice@example.com"
    assert calendar.durations == (30, 60)
    assert calendar.overrides[date(2026, 12, 31)] == ((time(10), time(12)), (time(14), time(16)))
    assert config.google is not None
    assert config.google.emulator_url == "http://127.0.0.1:8090"
    assert config.booking.cors_origins == ("https://www.example.com",)
    assert config.booking.company_domains == ("example.com",)
    assert config.sync_horizon_days == 14


def test_end_of_day_is_24_00() -> None:
    config = parse_config(CALENDAR.replace('mon = ["09:00-12:00", "13:00-17:00"]', 'mon = ["20:00-24:00"]'))
    assert config.calendars[0].hours.mon == ((time(20), time(0)),)


def test_gs_snapshot_location() -> None:
    config = parse_config(CALENDAR + '[snapshot]\nlocation = "gs://my-bucket/path/availability.json"\n')
    assert config.snapshot is not None
    assert (config.snapshot.scheme, config.snapshot.bucket, config.snapshot.object_name) == (
        "gs",
        "my-bucket",
        "path/availability.json",
    )


# --- one test per kind of mistake ------------------------------------------------------------------------------


def test_bad_type() -> None:
    problem = only_problem(CALENDAR + '[booking]\nslot_step_minutes = "15"\n')
    assert problem == 'booking.slot_step_minutes: expected an integer, got "15"'


def test_bool_is_not_an_integer_and_integer_is_not_a_bool() -> None:
    found = problems_of(CALENDAR + "[booking]\nmax_per_day = true\ninvite_visitor = 1\n")
    assert found == [
        "booking.max_per_day: expected an integer, got true",
        "booking.invite_visitor: expected true or false, got 1",
    ]


def test_table_expected() -> None:
    assert only_problem("sharing = 5\n" + CALENDAR) == "sharing: expected a table, got 5"


def test_unknown_key_is_named_with_a_suggestion() -> None:
    problem = only_problem(CALENDAR + "[booking]\nslot_step = 15\n")
    assert problem.startswith('booking.slot_step: unknown key; did you mean "slot_step_minutes"? expected one of:')
    assert "buffer_before_minutes" in problem


def test_unknown_key_deep_inside_a_calendar() -> None:
    problem = only_problem(CALENDAR.replace("mon = ", "monday = "))
    assert problem.startswith('calendars[0].hours.monday: unknown key; did you mean "mon"?')
    assert "mon, tue, wed, thu, fri, sat, sun" in problem


def test_unknown_top_level_table() -> None:
    problem = only_problem(CALENDAR + "[bookings]\nhorizon_days = 3\n")
    assert problem.startswith('bookings: unknown key; did you mean "booking"?')


def test_bad_timezone() -> None:
    problem = only_problem(CALENDAR.replace("Europe/Berlin", "Europe/Bärlin"))
    assert problem == (
        'calendars[0].timezone: expected an IANA time zone name like "Europe/Berlin", got "Europe/Bärlin"'
    )


def test_overlapping_hours() -> None:
    problem = only_problem(CALENDAR.replace('"13:00-17:00"', '"11:00-17:00"'))
    assert problem.startswith("calendars[0].hours.mon: ")
    assert 'ranges "09:00-12:00" and "11:00-17:00" overlap; expected ranges that do not overlap' in problem


def test_bad_range_syntax() -> None:
    problem = only_problem(CALENDAR.replace('"09:00-12:00"', '"9am-12"'))
    assert problem == 'calendars[0].hours.mon[0]: expected a range "HH:MM-HH:MM" like "09:00-17:00", got "9am-12"'


def test_range_ending_before_it_starts() -> None:
    problem = only_problem(CALENDAR.replace('"13:00-17:00"', '"17:00-13:00"'))
    assert problem.startswith("calendars[0].hours.mon[1]: expected the start before the end")
    assert problem.endswith('got "17:00-13:00"')


def test_impossible_time_of_day() -> None:
    problem = only_problem(CALENDAR.replace('"13:00-17:00"', '"13:00-17:60"'))
    assert problem == 'calendars[0].hours.mon[1]: 17:60 is not a time of day, got "13:00-17:60"'


def test_bad_override_date_and_value() -> None:
    found = problems_of(CALENDAR + '[calendars.overrides]\n"2026-02-30" = []\n"2026-12-24" = "closed"\n')
    assert found == [
        'calendars[0].overrides.2026-02-30: expected a date "YYYY-MM-DD", got "2026-02-30"',
        'calendars[0].overrides.2026-12-24: expected an array, got "closed"',
    ]


def test_duplicate_slug() -> None:
    problem = only_problem(CALENDAR + CALENDAR)
    assert problem == 'calendars[1].slug: "alice" is already the slug of calendars[0]; expected unique slugs'


def test_bad_slug() -> None:
    problem = only_problem(CALENDAR.replace('slug = "alice"', 'slug = "Alice Example"'))
    assert problem.startswith("calendars[0].slug: expected a slug: lowercase letters, digits and")


def test_missing_act_as_for_delegated() -> None:
    problem = only_problem(CALENDAR.replace('act_as = "alice@example.com"\n', ""))
    assert problem == (
        'calendars[0].act_as: missing; required when mode = "delegated": the email of the user to act as'
    )


def test_act_as_refused_for_direct_mode() -> None:
    problem = only_problem(CALENDAR.replace("timezone =", 'mode = "direct"\ntimezone ='))
    assert problem == 'calendars[0].act_as: only allowed when mode = "delegated" (mode is "direct"); remove it'


def test_direct_mode_without_act_as_is_fine() -> None:
    text = CALENDAR.replace('act_as = "alice@example.com"\n', 'mode = "direct"\n')
    assert parse_config(text).calendars[0].act_as is None


def test_bad_mode() -> None:
    problem = only_problem(CALENDAR.replace("timezone =", 'mode = "impersonate"\ntimezone ='))
    assert problem == (
        'calendars[0].mode: expected one of "delegated", "direct" or "authorized_user", got "impersonate"'
    )


def test_missing_required_key() -> None:
    problem = only_problem(CALENDAR.replace('calendar_id = "alice@example.com"\n', ""))
    assert problem == "calendars[0].calendar_id: missing; this key is required"


def test_owner_role_without_allow_owner() -> None:
    text = CALENDAR + '[sharing]\nallowed_roles = ["reader", "owner"]\n'
    problem = only_problem(text)
    assert problem.startswith('sharing.allowed_roles[1]: "owner" is allowed only with sharing.allow_owner = true')
    assert parse_config(text + "allow_owner = true\n").sharing.allowed_roles == ("reader", "owner")


def test_unknown_role() -> None:
    problem = only_problem(CALENDAR + '[sharing]\nallowed_roles = ["reader", "editor"]\n')
    assert problem == (
        'sharing.allowed_roles[1]: expected one of "none", "freeBusyReader", "reader", "writer" or "owner", '
        'got "editor"'
    )


def test_bad_email() -> None:
    found = problems_of(
        CALENDAR.replace('act_as = "alice@example.com"', 'act_as = "alice"')
        + '[sharing]\nadmins = ["admin@example.com", "admin at example.com"]\n'
        + '[sync]\nscheduler_identity = "scheduler@"\n'
    )
    expected = 'expected an email address like "alice@example.com"'
    assert found == [
        f'calendars[0].act_as: {expected}, got "alice"',
        f'sharing.admins[1]: {expected}, got "admin at example.com"',
        f'sync.scheduler_identity: {expected}, got "scheduler@"',
    ]


def test_bad_snapshot_scheme() -> None:
    problem = only_problem(CALENDAR + '[snapshot]\nlocation = "s3://bucket/availability.json"\n')
    assert (
        problem
        == 'snapshot.location: expected "file://PATH" or "gs://BUCKET/OBJECT", got "s3://bucket/availability.json"'
    )


def test_gs_location_needs_an_object() -> None:
    problem = only_problem(CALENDAR + '[snapshot]\nlocation = "gs://bucket"\n')
    assert problem.startswith('snapshot.location: expected "file://PATH" or "gs://BUCKET/OBJECT"')


def test_negative_minutes() -> None:
    problem = only_problem(CALENDAR + "[booking]\nbuffer_before_minutes = -5\n")
    assert problem == "booking.buffer_before_minutes: expected a number >= 0, got -5"


def test_out_of_range_step_and_durations() -> None:
    found = problems_of(CALENDAR + "[booking]\nslot_step_minutes = 1\ndurations = [30, 600]\n")
    assert found == [
        "booking.slot_step_minutes: expected a number >= 5, got 1",
        "booking.durations[1]: expected a number <= 480, got 600",
    ]


def test_empty_and_repeated_durations() -> None:
    assert only_problem(CALENDAR + "[booking]\ndurations = []\n") == (
        "booking.durations: expected at least 1 item, got []"
    )
    assert only_problem(CALENDAR + "[booking]\ndurations = [30, 60, 30]\n") == (
        "booking.durations: expected each duration once; repeated: 30, got [30, 60, 30]"
    )


def test_notice_must_be_shorter_than_horizon() -> None:
    problem = only_problem(CALENDAR + "[booking]\nminimum_notice_minutes = 14400\nhorizon_days = 10\n")
    assert problem.startswith(
        "booking.minimum_notice_minutes: expected less than the horizon (10 days = 14400 minutes)"
    )


def test_bad_urls_and_origins() -> None:
    found = problems_of(
        CALENDAR
        + '[google]\nemulator_url = "127.0.0.1:8090"\n'
        + '[booking]\ncors_origins = ["https://example.com/booking", "example.com"]\n'
        + '[identity]\ncerts_url = "file:///etc/certs"\n'
    )
    assert [p.split(":", 1)[0] for p in found] == [
        "google.emulator_url",
        "booking.cors_origins[0]",
        "booking.cors_origins[1]",
        "identity.certs_url",
    ]
    assert "expected an http:// or https:// URL" in found[0]
    assert 'expected an origin like "https://www.example.com"' in found[1]


def test_bad_secret_name() -> None:
    problem = only_problem(CALENDAR + '[credentials]\nsecret = "calendar-credentials"\n')
    assert problem.startswith('credentials.secret: expected a Secret Manager version name "projects/PROJECT/')


def test_sync_horizon_within_freebusy_limit() -> None:
    problem = only_problem(CALENDAR + "[sync]\nhorizon_days = 120\n")
    assert problem == "sync.horizon_days: expected a number <= 90, got 120"


def test_several_errors_at_once_are_all_reported() -> None:
    text = (
        CALENDAR.replace("Europe/Berlin", "Mars/Olympus_Mons")
        + CALENDAR.replace('act_as = "alice@example.com"\n', "").replace('"09:00-12:00"', '"9-12"')
        + "[booking]\nbuffer_after_minutes = -1\nhorizon = 3\n"
        + '[sharing]\nallowed_roles = ["owner"]\n'
        + '[snapshot]\nlocation = "/tmp/snapshot"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "several.toml")
    paths = [problem.path for problem in caught.value.problems]
    assert paths == [
        "booking.buffer_after_minutes",
        "booking.horizon",
        "calendars[0].timezone",
        "calendars[1].hours.mon[0]",
        "calendars[1].slug",
        "calendars[1].act_as",
        "sharing.allowed_roles[0]",
        "snapshot.location",
    ]
    message = str(caught.value)
    assert message.startswith("invalid config several.toml (8 problems):\n  - booking.buffer_after_minutes: ")
    assert all(f"\n  - {path}: " in message for path in paths)


# --- the file itself ----------------------------------------------------------------------------------------


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[booking\nslot_step_minutes = 15\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert len(caught.value.problems) == 1
    assert "not valid TOML" in str(caught.value)
    assert "line 1" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.toml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[calendars]]\nname = "Jürgen"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)


def test_config_error_is_an_exception_with_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[booking]\nhorizon_days = 0\n")
    assert isinstance(caught.value, Exception)
    assert caught.value.problems[0].path == "booking.horizon_days"
    assert caught.value.problems[0].message == "expected a number >= 1, got 0"
