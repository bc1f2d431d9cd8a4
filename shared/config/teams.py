"""The rules of ``[[teams]]`` that relate a team to the calendars and to other teams (part of the config's second pass,
:mod:`shared.config.relations`).

A team is a public slug that books one of its members (``round_robin``) or all of them at once (``collective``).
Its members are calendars of the same file, so most of a team's rules are relations: its slug is unique among
calendars and teams, its members are known calendars (each once), its durations are offered by every member's
calendar (unset: the durations they all offer, a problem when there is none), ``priority`` and
``fairness_window_days`` belong to round-robin teams and name members, ``organizer`` belongs to collective teams,
is a member, and its calendar can invite the others.

Like the calendars' relation rules these read the raw TOML data, so that they are reported together with every
value problem pydantic finds; a value that is itself wrong (not a string, not an array) is pydantic's to report and
is skipped here. The problems are ``(path, message)`` pairs; shared/config/relations.py makes them
``ConfigProblem``\\ s. This module imports nothing else of the config package (which imports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

__all__ = ["MODES", "TeamMode", "shared_durations", "team_problems"]

TeamMode = Literal["round_robin", "collective"]
MODES: Final[tuple[TeamMode, ...]] = ("round_robin", "collective")
_ROUND_ROBIN_ONLY: Final = ("priority", "fairness_window_days")
_COLLECTIVE_ONLY: Final = ("organizer",)

Problem = tuple[str, str]


def shared_durations(members: Iterable[str], offered: Mapping[str, Sequence[int]]) -> tuple[int, ...]:
    """The durations (minutes, ascending) every member's calendar offers; members missing from `offered` offer
    nothing."""
    common: set[int] | None = None
    for member in members:
        own = set(offered.get(member, ()))
        common = own if common is None else common & own
    return tuple(sorted(common or ()))


def team_problems(teams: object, calendars: object, default_durations: Sequence[int]) -> Iterator[Problem]:
    """Every relation problem of the raw ``teams`` array, given the raw ``calendars`` array and the durations a
    calendar without its own offers (``booking.durations``)."""
    if not isinstance(teams, list):
        return
    calendar_tables = [c for c in calendars if isinstance(c, dict)] if isinstance(calendars, list) else []
    calendar_index = _first_index(calendars if isinstance(calendars, list) else [])
    offered = {
        c["slug"]: _durations_of(c, default_durations) for c in calendar_tables if isinstance(c.get("slug"), str)
    }
    modes = {c["slug"]: c.get("mode", "delegated") for c in calendar_tables if isinstance(c.get("slug"), str)}
    team_index = _first_index(teams)
    for index, team in enumerate(teams):
        if isinstance(team, dict):
            yield from _one_team(f"teams[{index}]", index, team, calendar_index, team_index, offered, modes)


def _first_index(tables: Sequence[object]) -> dict[str, int]:
    """Each slug of an array of tables with the index of the first table that has it."""
    first: dict[str, int] = {}
    for index, table in enumerate(tables):
        slug = table.get("slug") if isinstance(table, dict) else None
        if isinstance(slug, str):
            first.setdefault(slug, index)
    return first


def _durations_of(calendar: Mapping[str, Any], default: Sequence[int]) -> tuple[int, ...]:
    durations = calendar.get("durations", default)
    if not isinstance(durations, list | tuple):
        return ()
    return tuple(d for d in durations if type(d) is int)


def _one_team(
    where: str,
    index: int,
    team: Mapping[str, Any],
    calendar_index: Mapping[str, int],
    team_index: Mapping[str, int],
    offered: Mapping[str, tuple[int, ...]],
    modes: Mapping[str, object],
) -> Iterator[Problem]:
    slug = team.get("slug")
    if isinstance(slug, str):
        if slug in calendar_index:
            yield (
                f"{where}.slug",
                f'"{slug}" is already the slug of calendars[{calendar_index[slug]}]; expected slugs unique across '
                "calendars and teams (both are booked by slug)",
            )
        elif team_index.get(slug, index) != index:
            yield (
                f"{where}.slug",
                f'"{slug}" is already the slug of teams[{team_index[slug]}]; expected slugs unique across calendars '
                "and teams",
            )
    mode = team.get("mode")
    if mode in MODES:
        allowed, other = (
            (_ROUND_ROBIN_ONLY, "collective") if mode == "round_robin" else (_COLLECTIVE_ONLY, "round_robin")
        )
        for key in _ROUND_ROBIN_ONLY + _COLLECTIVE_ONLY:
            if key in team and key not in allowed:
                yield (f"{where}.{key}", f'only allowed when mode = "{other}" (mode is "{mode}"); remove it')

    raw_members = team.get("members")
    if not isinstance(raw_members, list):
        return
    members: list[str] = []
    for n, member in enumerate(raw_members):
        if not isinstance(member, str):
            continue
        if member in members:
            yield (
                f"{where}.members[{n}]",
                f'"{member}" is already members[{raw_members.index(member)}]; expected each member once',
            )
        elif member not in calendar_index:
            yield (f"{where}.members[{n}]", _unknown_member(member, calendar_index, team_index))
        else:
            members.append(member)
    if len(members) != len(raw_members):
        return  # the checks below are about known members; the problems above say what to fix first

    yield from _duration_problems(where, team, members, offered)
    priority = team.get("priority")
    if mode == "round_robin" and isinstance(priority, dict):
        for name in priority:
            if name not in members:
                yield (
                    f"{where}.priority.{name}",
                    f'"{name}" is not a member of this team; expected one of: {", ".join(members)}',
                )
    if mode == "collective":
        organizer = team.get("organizer", members[0] if members else None)
        if "organizer" in team and isinstance(organizer, str) and organizer not in members:
            yield (
                f"{where}.organizer",
                f'"{organizer}" is not a member of this team; expected one of: {", ".join(members)}',
            )
        elif isinstance(organizer, str) and modes.get(organizer) == "direct":
            default = "" if "organizer" in team else " (unset: the first member)"
            yield (
                f"{where}.organizer",
                f'{organizer}{default} has a calendar in mode "direct", which cannot invite the other members '
                "(Google refuses attendees from a service account acting as itself); expected a member whose "
                'calendar is "delegated" or "authorized_user"',
            )


def _unknown_member(member: str, calendar_index: Mapping[str, int], team_index: Mapping[str, int]) -> str:
    if member in team_index:
        return f'"{member}" is a team; expected the slug of a calendar (teams do not contain teams)'
    known = ", ".join(calendar_index) or "none configured"
    return f'"{member}" is not the slug of a calendar; expected one of: {known}'


def _duration_problems(
    where: str, team: Mapping[str, Any], members: Sequence[str], offered: Mapping[str, tuple[int, ...]]
) -> Iterator[Problem]:
    durations = team.get("durations")
    if durations is None:
        if members and not shared_durations(members, offered):
            each = "; ".join(f"{m}: {', '.join(map(str, offered.get(m, ()))) or 'none'}" for m in members)
            yield (
                f"{where}.durations",
                f"missing, and no duration is offered by every member's calendar ({each}); expected the members' "
                "calendars to share a duration (a team offers only durations all its members offer)",
            )
        return
    if not isinstance(durations, list):
        return
    for n, duration in enumerate(durations):
        if type(duration) is not int:
            continue
        lacking = [m for m in members if duration not in offered.get(m, ())]
        if lacking:
            each = "; ".join(f"{m}: {', '.join(map(str, offered.get(m, ()))) or 'none'}" for m in lacking)
            yield (
                f"{where}.durations[{n}]",
                f"{duration} is not offered by every member's calendar ({each}); expected durations all members offer",
            )
