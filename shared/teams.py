"""Team slot math: a team's slots from its members' free slots, and whom a round-robin booking goes to.

Pure functions over immutable values; no I/O, no clock reads (callers pass ``now``). A team (config ``[[teams]]``,
:class:`~shared.config.TeamConfig`) has no hours of its own: each member's free slots come from
:func:`shared.slots.free_slots` with that member's own calendar rules (hours, buffers, notice, horizon, per-day
cap) and busy time, as lists of :class:`~shared.slots.Interval` in UTC. Then

* a ``round_robin`` team offers the **union**: every slot some member is free for, with the members free then
  (:func:`union_slots`); the booking goes to the first of :func:`candidates` among them, the next one if that
  member loses the slot in a race;
* a ``collective`` team offers the **intersection**: the slots every member is free for (:func:`intersection_slots`).

Slots are matched by their exact span, so members on different grids (hours starting at :15 and at :00, or in
other time zones) each contribute their own starts to a union and share only common starts in an intersection.

Fairness: :func:`booking_counts` counts, per member, the standing bookings made through the team (private
property ``wcbTeam`` = the team's slug) whose ``created`` time falls in :func:`fairness_window`, the
``fairness_window_days`` before now. Counting by creation rather than by start makes a booking count the moment it
is made, whenever the meeting is, so sequential bookings spread over the members at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from .clock import parse_rfc3339
from .config import TeamConfig
from .events import P_CALENDAR, P_TEAM, is_booking, is_decided, private_properties
from .slots import Interval, SlotProblem

__all__ = [
    "booking_counts",
    "candidates",
    "fairness_window",
    "intersection_slots",
    "team_problem",
    "union_slots",
]

_REPORT_ORDER: Final = {problem: n for n, problem in enumerate(SlotProblem)}  # the order check_slot reports in


def union_slots(per_member: Mapping[str, Sequence[Interval]]) -> list[tuple[Interval, list[str]]]:
    """Every slot at least one member is free for, in time order, each with the members free for it in the
    order of ``per_member`` (pass it in the team's order)."""
    free: dict[Interval, list[str]] = {}
    for member, slots in per_member.items():
        for slot in slots:
            names = free.setdefault(slot, [])
            if not names or names[-1] != member:  # a member listing one slot twice is still one member
                names.append(member)
    return sorted(free.items(), key=_by_slot)


def _by_slot(item: tuple[Interval, list[str]]) -> Interval:
    return item[0]


def intersection_slots(per_member: Mapping[str, Sequence[Interval]]) -> list[Interval]:
    """The slots every member is free for, in time order; none without members."""
    lists = iter(per_member.values())
    first = next(lists, None)
    if first is None:
        return []
    common = set(first)
    for slots in lists:
        common.intersection_update(slots)
    return sorted(common)


def fairness_window(now: datetime, team: TeamConfig) -> Interval:
    """The span whose bookings count for fairness: the ``fairness_window_days`` up to ``now`` (aware)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return Interval(now - timedelta(days=team.fairness_window_days), now)


def booking_counts(events: Iterable[dict[str, Any]], team: TeamConfig, window: Interval) -> dict[str, int]:
    """How many standing bookings each member got through ``team`` that were created in ``window``.

    ``events`` are Calendar event resources of the members' calendars (in any order; an event seen twice, by id,
    counts once). Counted: bookings (``wcbBooking``) not decided (not cancelled, lost, aborted or moved away),
    with ``wcbTeam`` = the team's slug and ``wcbCalendar`` = a member, ``created`` in ``[start, end)``. Not counted:
    other teams' and personal bookings, withdrawn or cancelled ones, events without a readable ``created``. Every
    member is in the answer, 0 for none."""
    counts = dict.fromkeys(team.members, 0)
    seen: set[tuple[str, str]] = set()
    for event in events:
        if not is_booking(event) or is_decided(event):
            continue
        props = private_properties(event)
        member = props.get(P_CALENDAR, "")
        if props.get(P_TEAM) != team.slug or member not in counts:
            continue
        try:
            created = parse_rfc3339(str(event["created"]))
        except (KeyError, ValueError):
            continue
        if created.utcoffset() is None or not window.start <= created < window.end:
            continue
        key = (member, str(event.get("id", "")))
        if key[1] and key in seen:
            continue
        seen.add(key)
        counts[member] += 1
    return counts


def candidates(team: TeamConfig, free_members: Iterable[str], counts: Mapping[str, int]) -> list[str]:
    """The free members in the order a round-robin booking tries them: fewest ``counts`` first, then the higher
    ``priority``, then the order of the team's ``members`` (so the order is total and stable). Repeats are dropped;
    a name that is not a member is a ``ValueError`` (a caller's mistake, not a visitor's)."""
    position = {member: n for n, member in enumerate(team.members)}
    free = list(dict.fromkeys(free_members))
    strangers = [member for member in free if member not in position]
    if strangers:
        raise ValueError(f"not members of team {team.slug!r}: {', '.join(strangers)}")
    return sorted(free, key=lambda member: (counts.get(member, 0), -team.priority_of(member), position[member]))


def team_problem(team: TeamConfig, per_member: Mapping[str, SlotProblem | None]) -> SlotProblem | None:
    """The team's answer to one requested slot from each member's :func:`shared.slots.check_slot` answer.

    Round-robin: ``None`` when some member can take it; else a conflict (409: busy, day full) when the slot is
    valid for some member, else the request's first problem (400). Collective: ``None`` when every member can; else
    the first request problem of any member (400), else the first conflict (409). Problems are ranked in the order
    ``check_slot`` reports them. No members answered (all of them failed, say) is ``BUSY``: fail closed."""
    problems = list(per_member.values())
    if not problems:
        return SlotProblem.BUSY
    refusals = sorted((p for p in problems if p is not None), key=_REPORT_ORDER.__getitem__)
    if team.mode == "round_robin":
        if len(refusals) < len(problems):
            return None
        conflicts = [p for p in refusals if p.is_conflict]
        return (conflicts or refusals)[0]
    wrong = [p for p in refusals if not p.is_conflict]
    return (wrong or refusals)[0] if refusals else None
