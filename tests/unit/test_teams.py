"""Teams: the `[[teams]]` config (every problem at once, with its place), and the pure team slot math of
shared/teams.py (union, intersection, who a round-robin booking goes to, and fairness counts)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.config import ConfigError, TeamConfig, load_config, parse_config
from shared.events import MARKER, P_CALENDAR, P_OUTCOME, P_TEAM
from shared.slots import Interval, SlotProblem, SlotRules, days_window, free_slots
from shared.teams import (
    booking_counts,
    candidates,
    fairness_window,
    intersection_slots,
    team_problem,
    union_slots,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"
BERLIN, LONDON = ZoneInfo("Europe/Berlin"), ZoneInfo("Europe/London")

CALENDARS = """
[booking]
durations = [30, 60]

[[calendars]]
slug = "alice"
name = "Alice"
calendar_id = "alice@example.com"
act_as = "alice@example.com"
timezone = "Europe/Berlin"
[calendars.hours]
mon = ["09:00-17:00"]

[[calendars]]
slug = "bob"
name = "Bob"
calendar_id = "bob@example.com"
act_as = "bob@example.com"
timezone = "America/New_York"
durations = [15, 30, 60]
[calendars.hours]
mon = ["09:00-17:00"]

[[calendars]]
slug = "carol"
name = "Carol"
calendar_id = "carol@example.com"
act_as = "carol@example.com"
timezone = "Europe/London"
durations = [45]
[calendars.hours]
mon = ["09:00-17:00"]

[[calendars]]
slug = "dora"
name = "Dora"
calendar_id = "dora@example.com"
mode = "direct"
timezone = "Europe/London"
[calendars.hours]
mon = ["09:00-17:00"]
"""

SALES = """
[[teams]]
slug = "sales"
name = "Sales"
mode = "round_robin"
members = ["alice", "bob"]
"""


def team(text: str) -> str:
    """A `[[teams]]` table from `key = value` lines."""
    return "\n[[teams]]\n" + text.strip() + "\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(CALENDARS + text, "test.toml")
    return [str(problem) for problem in caught.value.problems]


def only_problem(text: str) -> str:
    found = problems_of(text)
    assert len(found) == 1, found
    return found[0]


def make_team(members: tuple[str, ...] = ("alice", "bob", "carol"), **kwargs: Any) -> TeamConfig:
    defaults: dict[str, Any] = {"slug": "sales", "name": "Sales", "mode": "round_robin", "durations": (30,)}
    return TeamConfig(members=members, **{**defaults, **kwargs})


# --- config -------------------------------------------------------------------------------------------------


def test_good_teams_parse_with_their_defaults() -> None:
    config = parse_config(
        CALENDARS
        + SALES
        + team('slug = "review"\nname = "Review"\nmode = "collective"\nmembers = ["bob", "alice"]\ndurations = [60]')
        + team(
            'slug = "tiny"\nname = "Tiny"\nmode = "round_robin"\nmembers = ["bob", "dora"]\n'
            "priority = { dora = 2 }\nfairness_window_days = 7"
        )
    )
    sales, review, tiny = config.teams
    assert sales == TeamConfig(
        slug="sales", name="Sales", mode="round_robin", members=("alice", "bob"), durations=(30, 60)
    )  # durations: those alice and bob share; no organizer for round robin
    assert sales.fairness_window_days == 30
    assert sales.priority_of("alice") == sales.priority_of("bob") == 0
    assert review.organizer == "bob"  # the first member
    assert review.durations == (60,)
    assert tiny.durations == (30, 60)  # dora offers booking.durations (30, 60), bob 15, 30, 60: shared 30, 60
    assert tiny.priority_of("dora") == 2
    assert tiny.fairness_window_days == 7
    assert config.team_by_slug("review") is review
    assert config.team_by_slug("alice") is None  # a calendar, not a team
    assert config.team_by_slug("nobody") is None
    assert [t.slug for t in config.teams_of("bob")] == ["sales", "review", "tiny"]
    assert [t.slug for t in config.teams_of("carol")] == []
    assert isinstance(config.teams, tuple)
    assert hash(sales) == hash(parse_config(CALENDARS + SALES).teams[0])


def test_shared_default_ignores_what_a_member_lacks() -> None:
    # dora (booking.durations 30, 60) and bob (15, 30, 60) share 30 and 60; alice with bob too.
    config = parse_config(CALENDARS + SALES.replace('["alice", "bob"]', '["alice", "bob", "dora"]'))
    assert config.teams[0].durations == (30, 60)


def test_shared_default_without_a_booking_table() -> None:
    config = parse_config(CALENDARS.replace("[booking]\ndurations = [30, 60]\n", "") + SALES)
    assert config.teams[0].durations == (30,)  # alice: booking.durations' default (30); bob: 15, 30, 60


def test_no_teams_is_fine() -> None:
    assert parse_config(CALENDARS).teams == ()


def test_slug_collides_with_a_calendar() -> None:
    assert only_problem(SALES.replace('"sales"', '"alice"')) == (
        'teams[0].slug: "alice" is already the slug of calendars[0]; expected slugs unique across calendars and '
        "teams (both are booked by slug)"
    )


def test_slug_collides_with_another_team() -> None:
    problem = only_problem(SALES + SALES)
    assert problem.startswith('teams[1].slug: "sales" is already the slug of teams[0]')


def test_unknown_member() -> None:
    problem = only_problem(SALES.replace('["alice", "bob"]', '["alice", "bob", "erin"]'))
    assert (
        problem == 'teams[0].members[2]: "erin" is not the slug of a calendar; expected one of: alice, bob, carol, dora'
    )


def test_a_team_is_no_member() -> None:
    text = SALES + team('slug = "big"\nname = "Big"\nmode = "round_robin"\nmembers = ["alice", "sales"]')
    assert only_problem(text) == (
        'teams[1].members[1]: "sales" is a team; expected the slug of a calendar (teams do not contain teams)'
    )


def test_repeated_member_and_too_few() -> None:
    assert only_problem(SALES.replace('["alice", "bob"]', '["alice", "bob", "alice"]')) == (
        'teams[0].members[2]: "alice" is already members[0]; expected each member once'
    )
    assert only_problem(SALES.replace('["alice", "bob"]', '["alice"]')) == (
        'teams[0].members: expected at least 2 members (a team of one is that calendar), got ["alice"]'
    )


def test_durations_not_offered_by_a_member() -> None:
    text = SALES.replace('["alice", "bob"]', '["alice", "bob"]\ndurations = [15, 30, 45]')
    assert problems_of(text) == [
        "teams[0].durations[0]: 15 is not offered by every member's calendar (alice: 30, 60); expected durations "
        "all members offer",
        "teams[0].durations[2]: 45 is not offered by every member's calendar (alice: 30, 60; bob: 15, 30, 60); "
        "expected durations all members offer",
    ]


def test_members_sharing_no_duration() -> None:
    problem = only_problem(SALES.replace('["alice", "bob"]', '["alice", "carol"]'))
    assert problem.startswith(
        "teams[0].durations: missing, and no duration is offered by every member's calendar (alice: 30, 60; carol: 45)"
    )


def test_mode_specific_keys() -> None:
    text = team(
        'slug = "review"\nname = "Review"\nmode = "collective"\nmembers = ["alice", "bob"]\n'
        "priority = { alice = 1 }\nfairness_window_days = 10"
    ) + SALES.replace('["alice", "bob"]', '["alice", "bob"]\norganizer = "alice"').replace('"sales"', '"sales2"')
    assert problems_of(text) == [
        'teams[0].priority: only allowed when mode = "round_robin" (mode is "collective"); remove it',
        'teams[0].fairness_window_days: only allowed when mode = "round_robin" (mode is "collective"); remove it',
        'teams[1].organizer: only allowed when mode = "collective" (mode is "round_robin"); remove it',
    ]


def test_priority_names_members() -> None:
    text = SALES.replace('["alice", "bob"]', '["alice", "bob"]\npriority = { alice = 1, carol = 2, bob = "high" }')
    assert problems_of(text) == [
        'teams[0].priority.bob: expected an integer, got "high"',
        'teams[0].priority.carol: "carol" is not a member of this team; expected one of: alice, bob',
    ]


def test_organizer_is_a_member_that_can_invite() -> None:
    review = 'slug = "review"\nname = "Review"\nmode = "collective"\nmembers = ["alice", "bob"]\n'
    assert only_problem(team(review + 'organizer = "carol"')) == (
        'teams[0].organizer: "carol" is not a member of this team; expected one of: alice, bob'
    )
    direct = only_problem(team(review.replace('["alice", "bob"]', '["dora", "bob"]')))
    assert direct.startswith('teams[0].organizer: dora (unset: the first member) has a calendar in mode "direct"')
    assert parse_config(CALENDARS + team(review.replace('["alice", "bob"]', '["bob", "dora"]'))).teams[0].organizer == (
        "bob"
    )


def test_value_problems_of_a_team() -> None:
    text = team('slug = "Sales Team"\nname = ""\nmode = "rotating"\nmembers = ["alice", 7]\nfairness_window_days = 0')
    text += team('slug = "x"\nname = "X"\nmode = "round_robin"\nmembers = ["alice", "bob"]\nmembrs = []')
    assert problems_of(text) == [
        'teams[0].slug: expected a slug: lowercase letters, digits and "-", starting with a letter or digit, at '
        'most 63 characters, got "Sales Team"',
        'teams[0].name: expected at least 1 character, got ""',
        'teams[0].mode: expected one of "round_robin" or "collective", got "rotating"',
        "teams[0].members[1]: expected a string, got 7",
        "teams[0].fairness_window_days: expected a number >= 1, got 0",
        'teams[1].membrs: unknown key; did you mean "members"? expected one of: slug, name, mode, members, '
        "durations, priority, fairness_window_days, organizer",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config('teams = ["sales"]\n' + CALENDARS)
    assert [str(problem) for problem in caught.value.problems] == ['teams[0]: expected a table, got "sales"']
    assert only_problem(team('name = "X"\nmode = "collective"\nmembers = ["alice", "bob"]')) == (
        "teams[0].slug: missing; this key is required"
    )


def test_every_team_problem_at_once_in_file_order() -> None:
    calendars = CALENDARS.replace("durations = [30, 60]", "durations = [30, 60]\nslot_step_minutes = 1", 1)
    text = (
        SALES.replace('"sales"', '"bob"').replace('["alice", "bob"]', '["alice", "erin", "alice"]')
        + team('slug = "review"\nname = "Review"\nmode = "collective"\nmembers = ["alice", "carol"]\norganizer = "bob"')
        + team('slug = "ok"\nname = "OK"\nmode = "round_robin"\nmembers = ["alice", "bob"]\ndurations = [45]')
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(calendars + text, "test.toml")
    paths = [problem.path for problem in caught.value.problems]
    assert paths == [
        "booking.slot_step_minutes",  # another section's problem, reported with the teams' and before them
        "teams[0].slug",
        "teams[0].members[1]",
        "teams[0].members[2]",
        "teams[1].durations",
        "teams[1].organizer",
        "teams[2].durations[0]",
    ]
    assert "(7 problems)" in str(caught.value)


def test_example_config_teams() -> None:
    config = load_config(EXAMPLE)
    sales, review = config.team_by_slug("sales"), config.team_by_slug("review")
    assert sales is not None and review is not None
    assert (sales.mode, sales.members, sales.durations) == ("round_robin", ("alice", "bob"), (30,))
    assert (sales.priority_of("alice"), sales.priority_of("bob"), sales.fairness_window_days) == (1, 0, 30)
    assert (review.mode, review.members, review.organizer, review.durations) == (
        "collective",
        ("alice", "bob"),
        "bob",
        (60,),
    )
    for t in config.teams:  # what the config promises: each duration is one every member offers
        for member in t.members:
            calendar = config.calendar_by_slug(member)
            assert calendar is not None
            assert set(t.durations) <= set(config.durations_for(calendar))
    assert [t.slug for t in config.teams_of("alice")] == ["sales", "review"]
    assert config.teams_of("carol") == []


# --- union and intersection ----------------------------------------------------------------------------------

T0 = datetime(2026, 12, 7, 9, tzinfo=UTC)


def at(minutes: int, length: int = 30) -> Interval:
    return Interval(T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=minutes + length))


def test_union_lists_each_start_with_the_members_free_then() -> None:
    per_member = {
        "alice": [at(0), at(30), at(60)],
        "bob": [at(30), at(90)],
        "carol": [at(15), at(30), at(60)],
    }
    assert union_slots(per_member) == [
        (at(0), ["alice"]),
        (at(15), ["carol"]),
        (at(30), ["alice", "bob", "carol"]),
        (at(60), ["alice", "carol"]),
        (at(90), ["bob"]),
    ]
    assert union_slots({}) == []
    assert union_slots({"alice": [], "bob": [at(0)]}) == [(at(0), ["bob"])]


def test_union_order_of_members_is_the_mappings() -> None:
    assert union_slots({"carol": [at(0)], "alice": [at(0)]}) == [(at(0), ["carol", "alice"])]


def test_intersection_is_what_every_member_is_free_for() -> None:
    per_member = {"alice": [at(0), at(30), at(60)], "bob": [at(60), at(30), at(90)], "carol": [at(30), at(60)]}
    assert intersection_slots(per_member) == [at(30), at(60)]
    assert intersection_slots({"alice": [at(0)], "bob": []}) == []
    assert intersection_slots({}) == []
    assert intersection_slots({"alice": [at(0), at(30)]}) == [at(0), at(30)]


def test_slots_match_by_instant_across_time_zones() -> None:
    berlin = Interval(at(0).start.astimezone(BERLIN), at(0).end.astimezone(BERLIN))
    assert intersection_slots({"alice": [berlin], "bob": [at(0)]}) == [at(0)]
    assert union_slots({"alice": [berlin], "bob": [at(0)]}) == [(berlin, ["alice", "bob"])]


def test_union_and_intersection_of_real_free_slots() -> None:
    # Alice in Berlin 09:00-12:00, Bob in London 09:00-11:00 (10:00-12:00 Berlin), on a 30-minute grid.
    monday = T0.date()
    rules = {
        "alice": SlotRules(BERLIN, {0: ((time(9), time(12)),)}, step=timedelta(minutes=30)),
        "bob": SlotRules(LONDON, {0: ((time(9), time(11)),)}, step=timedelta(minutes=30)),
    }
    busy = {"alice": [Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=30))], "bob": []}
    per_member = {}
    for name, rule in rules.items():
        window = days_window(rule.timezone, monday, monday)
        per_member[name] = free_slots(
            rule,
            window_start=window.start,
            window_end=window.end,
            duration=timedelta(minutes=30),
            busy=busy[name],
            now=T0 - timedelta(days=1),
        )
    # Berlin 09:00 = 08:00 UTC. Alice: 08:00..10:30 UTC minus 10:00 (busy 10:00-10:30); Bob: 09:00..10:30 UTC.
    utc = [slot.start.astimezone(UTC).strftime("%H:%M") for slot in intersection_slots(per_member)]
    assert utc == ["09:00", "09:30", "10:30"]
    union = [(slot.start.strftime("%H:%M"), names) for slot, names in union_slots(per_member)]
    assert union == [
        ("08:00", ["alice"]),
        ("08:30", ["alice"]),
        ("09:00", ["alice", "bob"]),
        ("09:30", ["alice", "bob"]),
        ("10:00", ["bob"]),
        ("10:30", ["alice", "bob"]),
    ]


# --- round-robin order -----------------------------------------------------------------------------------------


def test_candidates_fewest_bookings_first() -> None:
    sales = make_team()
    assert candidates(sales, ["alice", "bob", "carol"], {"alice": 3, "bob": 1, "carol": 2}) == ["bob", "carol", "alice"]


def test_candidates_ties_by_priority_then_configured_order() -> None:
    sales = make_team(priority={"carol": 2, "bob": 1})
    assert candidates(sales, ["alice", "bob", "carol"], {}) == ["carol", "bob", "alice"]
    assert candidates(sales, ["alice", "bob", "carol"], {"carol": 1}) == ["bob", "alice", "carol"]
    even = make_team(members=("carol", "alice", "bob"))
    assert candidates(even, ["alice", "bob", "carol"], {"alice": 1, "bob": 1, "carol": 1}) == ["carol", "alice", "bob"]
    assert candidates(make_team(priority={"alice": -1}), ["alice", "bob"], {}) == ["bob", "alice"]


def test_candidates_only_the_free_members_once() -> None:
    sales = make_team()
    assert candidates(sales, ["carol", "alice", "carol"], {"bob": 0, "alice": 5}) == ["carol", "alice"]
    assert candidates(sales, [], {}) == []
    with pytest.raises(ValueError, match="erin"):
        candidates(sales, ["alice", "erin"], {})


def test_team_problem_round_robin_and_collective() -> None:
    rr = make_team()
    both = make_team(mode="collective", organizer="alice")
    free_one = {"alice": SlotProblem.BUSY, "bob": None, "carol": SlotProblem.OUTSIDE_HOURS}
    assert team_problem(rr, free_one) is None
    assert team_problem(both, free_one) == SlotProblem.OUTSIDE_HOURS  # a request problem of one member
    taken = {"alice": SlotProblem.DAY_FULL, "bob": SlotProblem.OUTSIDE_HOURS, "carol": SlotProblem.BUSY}
    assert team_problem(rr, taken) == SlotProblem.DAY_FULL  # valid for some, taken: 409
    wrong = {"alice": SlotProblem.OUTSIDE_HOURS, "bob": SlotProblem.TOO_SOON}
    assert team_problem(rr, wrong) == SlotProblem.TOO_SOON  # first in check_slot's order
    assert team_problem(both, {"alice": SlotProblem.BUSY, "bob": None}) == SlotProblem.BUSY
    assert team_problem(both, {"alice": None, "bob": None}) is None
    assert team_problem(rr, {}) == team_problem(both, {}) == SlotProblem.BUSY  # nobody answered: fail closed


# --- fairness ------------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def booking(
    member: str, created: datetime, *, team_slug: str | None = "sales", event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    props = {MARKER: "1", P_CALENDAR: member}
    if team_slug is not None:
        props[P_TEAM] = team_slug
    props.update(extra.pop("props", {}))
    return {
        "id": event_id or f"{member}{created.timestamp():.0f}",
        "status": "confirmed",
        "created": created.isoformat().replace("+00:00", "Z"),
        "extendedProperties": {"private": props},
        **extra,
    }


def test_fairness_window_is_the_days_before_now() -> None:
    assert fairness_window(NOW, make_team()) == Interval(NOW - timedelta(days=30), NOW)
    assert fairness_window(NOW, make_team(fairness_window_days=7)).start == NOW - timedelta(days=7)
    with pytest.raises(ValueError, match="aware"):
        fairness_window(NOW.replace(tzinfo=None), make_team())


def test_booking_counts_only_this_teams_standing_bookings_in_the_window() -> None:
    sales = make_team()
    window = fairness_window(NOW, sales)
    hour = timedelta(hours=1)
    events = [
        booking("alice", NOW - hour),
        booking("alice", NOW - 2 * hour),
        booking("bob", NOW - hour),
        booking("bob", NOW - 3 * hour, status="cancelled"),  # cancelled
        booking("bob", NOW - 4 * hour, props={P_OUTCOME: "lost"}),  # lost its race: never stood
        booking("bob", NOW - 5 * hour, status="cancelled", props={P_OUTCOME: "moved"}),  # moved away
        booking("carol", NOW - hour, team_slug="support"),  # another team's
        booking("carol", NOW - 2 * hour, team_slug=None),  # her personal page's
        booking("carol", NOW - timedelta(days=31)),  # before the window
        booking("carol", NOW, event_id="at-now"),  # the window ends at now (exclusive)
        booking("dave", NOW - hour),  # not a member
        {**booking("carol", NOW - hour), "extendedProperties": {"private": {P_TEAM: "sales", P_CALENDAR: "carol"}}},
        {key: value for key, value in booking("carol", NOW - 2 * hour).items() if key != "created"},  # unreadable
        {"id": "meeting", "status": "confirmed", "created": "2026-12-04T10:00:00Z"},  # not a booking at all
    ]
    assert booking_counts(events, sales, window) == {"alice": 2, "bob": 1, "carol": 0}
    assert booking_counts([], sales, window) == {"alice": 0, "bob": 0, "carol": 0}


def test_booking_counts_one_event_seen_twice_counts_once() -> None:
    sales = make_team()
    event = booking("alice", NOW - timedelta(days=2))
    counts = booking_counts(
        [event, dict(event), booking("alice", NOW - timedelta(days=1))], sales, fairness_window(NOW, sales)
    )
    assert counts["alice"] == 2


def test_booking_counts_window_edges() -> None:
    sales = make_team(fairness_window_days=7)
    window = fairness_window(NOW, sales)
    events = [booking("alice", window.start), booking("bob", window.start - timedelta(seconds=1))]
    assert booking_counts(events, sales, window) == {"alice": 1, "bob": 0, "carol": 0}


@pytest.mark.parametrize("priority", [{}, {"alice": 1}, {"carol": 5, "bob": -2}])
def test_thirty_sequential_assignments_stay_within_one(priority: dict[str, int]) -> None:
    sales = make_team(priority=priority)
    events: list[dict[str, Any]] = []
    old = booking("bob", NOW - timedelta(days=40))  # outside the window: no head start for anyone
    events.append(old)
    for n in range(30):
        now = NOW + timedelta(minutes=n)
        counts = booking_counts(events, sales, fairness_window(now, sales))
        assert max(counts.values()) - min(counts.values()) <= 1, (n, counts)
        chosen = candidates(sales, sales.members, counts)[0]
        events.append(booking(chosen, now - timedelta(seconds=1), event_id=f"b{n}"))
    final = booking_counts(events, sales, fairness_window(NOW + timedelta(minutes=30), sales))
    assert final == {"alice": 10, "bob": 10, "carol": 10}


def test_sequential_assignments_with_busy_members_balance_over_the_free_ones() -> None:
    sales = make_team(priority={"alice": 1})
    events: list[dict[str, Any]] = []
    for n in range(30):
        now = NOW + timedelta(minutes=n)
        free = ["alice", "bob"] if n % 3 else ["alice", "bob", "carol"]  # carol free every third slot
        counts = booking_counts(events, sales, fairness_window(now, sales))
        chosen = candidates(sales, free, counts)[0]
        events.append(booking(chosen, now - timedelta(seconds=1), event_id=f"b{n}"))
    counts = booking_counts(events, sales, fairness_window(NOW + timedelta(minutes=30), sales))
    assert sum(counts.values()) == 30
    assert abs(counts["alice"] - counts["bob"]) <= 1
    assert counts["carol"] <= 10
