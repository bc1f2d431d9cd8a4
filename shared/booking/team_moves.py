"""Moving a collective booking: the personal move (`Moves.move`: mark the old booking, hold the new time, write the
new event, cancel the old one as moved), with the new time held on every member's calendar, not only the
organizer's.

`Moves.move` holds the new booking's claims through its `Claims`; here those of `member_claims`, which hold the same
claims on each other member first (sharing the cells the old booking holds there, `carry_from`, as the organizer's
hold does) and only then the organizer's, whose batch carries the move's mark. If any hold fails, every claim
taken for the attempt is given back. So a moved collective booking, like a new one, is written only once every
member's time is held, and a member's claims name the new booking's id, which in their calendar is Google's copy
of the moved event (team_service.py says why that keeps the claims live exactly as long as the booking stands).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..availability import identity_for
from ..config import CalendarConfig, Config, TeamConfig
from ..errors import InvalidRequest
from ..events import event_interval
from ..slots import Interval, check_slot
from .model import BookingResult
from .moves import Moves
from .parts import BookingParts
from .protocol import Claims


def hold_order(config: Config, team: TeamConfig) -> list[CalendarConfig]:
    """The members a collective booking or move holds, in order: the others in the team's order, the organizer
    last (its hold carries the booking's own checks). Racing collective bookings meet first on the same member."""
    slugs = [slug for slug in team.members if slug != team.organizer] + [str(team.organizer)]
    return [calendar for slug in slugs if (calendar := config.calendar_by_slug(slug)) is not None]


def member_claims(parts: BookingParts, team: TeamConfig) -> Claims:
    """Claims that, for the organizer's hold, first hold the same cells on the team's other members."""
    config = parts.config
    return Claims(config, parts.client, parts.now,
                  companions=lambda calendar: [m for m in hold_order(config, team) if m.slug != calendar.slug])


def move_collective(
    parts: BookingParts, team: TeamConfig, old: dict[str, Any], start: datetime, duration: int | None, mover: str
) -> BookingResult:
    """Move the (settled) collective booking `old` of `team` to `start`: every member's rules, then the move."""
    config, availability = parts.config, parts.availability
    organizer = config.calendar_by_slug(str(team.organizer))
    assert organizer is not None  # validated with the config
    span = event_interval(old, organizer.zone)
    minutes = duration if duration is not None else int((span.end - span.start).total_seconds() // 60)
    if minutes not in team.durations:
        raise InvalidRequest(f"Team {team.slug!r} offers durations {list(team.durations)} (minutes).",
                             fields={"duration": f"one of {list(team.durations)}"})
    moment = parts.now()
    for member in hold_order(config, team):
        problem = check_slot(config.slot_rules(member.slug), start=start, duration=timedelta(minutes=minutes),
                             busy=(), now=moment)
        if problem is not None and start != span.start:
            raise InvalidRequest(problem.message, fields={"start": problem.message}, details={"reason": problem.value})
    moves = Moves(replace(parts, claims=member_claims(parts, team)))
    result = moves.move(organizer, identity_for(organizer), old, start, duration, mover)
    if result.booking.id != old["id"]:
        for member in hold_order(config, team):
            if member.slug != organizer.slug:
                availability.forget_booking(member.slug, old["id"])
                availability.note_booking(member.slug, Interval(result.booking.start, result.booking.end),
                                          result.booking.id)
    return result
