"""Team booking (config ``[[teams]]``, issue 17): a team's listing and slots, and booking one member (round robin)
or all of them at once (collective) with the same no-double-booking protocol as a personal booking.

Slots: each member's free slots come from the per-calendar slot path (`BookingService.free_intervals`: its own
rules, the snapshot when fresh, else live), then shared/teams.py makes the union (round robin) or the
intersection (collective). A round-robin slot names no member: who is free when is the members' business.

Round robin: the members free at the requested time (a member whose free/busy cannot be read counts as busy:
fail closed) are ordered by `teams.candidates` (fewest bookings made through this team in the fairness window,
then priority, then the team's order); the booking protocol (claims on that member's calendar, then the event) is
tried on the first, and on a lost race (409) on the next, while the request's time budget lasts.

Idempotency across members: the booking ids follow from the team, the client and the key, never from the member,
so a repeat names the same ids whichever member the first attempt booked; and which member a keyed request books
is decided once for all its attempts by its assignment (team_assign.py: one event per request whose id Google
keeps unique, naming the member tried now, moved on by conditional writes). A repeat, or a retry racing the first
attempt on another instance, follows it to that member, where the protocol answers the booking made under the id
(the very same request only, as for a personal booking), so one request never books two members. The booking
event records the team (`wcbTeam`), which fairness counts.

Collective: one event in the organizer's calendar with the other members as attendees (each gets Google's copy,
with the same id). Its claims are held on every member's calendar, in the team's member order (racing collective
bookings meet first on the same member), with the live check on each; the event is written only once all are
held. A member's claim names the booking id; in that member's calendar the id is Google's copy of the event,
which is not a booking of ours (its private properties are the organizer's copy's only), so the claim protocol
counts it live while it stands and free once the organizer's event is cancelled (the copies are cancelled with it).
So a member's personal booking and a collective booking including them can never overlap.
"""

from __future__ import annotations

import threading
import time as time_module
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ..availability import BusyView, identity_for
from ..calendar_client import Request, event_get_request, events_list_request
from ..claims import digest
from ..config import CalendarConfig, Config, TeamConfig
from ..errors import AppError, InvalidRequest, NotFound, SlotUnavailable
from ..events import P_REQUEST, P_TEAM, event_interval, private_properties
from ..logs import log
from ..slot_format import format_slots
from ..slots import Interval, SlotProblem, check_slot
from ..teams import booking_counts, candidates, fairness_window, intersection_slots, team_problem, union_slots
from . import rules
from .event import event_body, send_updates_for, with_links
from .ids import GENERATIONS, request_digest
from .model import BookingResult, NewBooking
from .parts import BookingParts, WithParts
from .protocol import ExistingBooking
from .repeats import replay
from .team_assign import Assignments, member_of
from .team_moves import hold_order
from .writes import as_error, release, write_booking

BUDGET_SECONDS = 15.0  # a round-robin booking tries no further member after this (the client retries after 20 s)
RECENT_SECONDS = 60.0  # how long this instance counts its own team bookings that lists may not show yet
_UTC = ZoneInfo("UTC")
_T = TypeVar("_T")
_R = TypeVar("_R")

FreeIntervals = Callable[[CalendarConfig, date, date, ZoneInfo, int, bool], tuple[list[Interval], BusyView | None]]


def team_zone(config: Config, team: TeamConfig) -> ZoneInfo:
    """The zone a team's answers are written in by default: its organizer's (collective) or first member's."""
    return member(config, team.organizer or team.members[0]).zone


def member(config: Config, slug: str) -> CalendarConfig:
    calendar = config.calendar_by_slug(slug)
    if calendar is None:  # validated with the config: a member is always a calendar
        raise NotFound(f"No bookable calendar {slug!r}.")
    return calendar


def team_event_ids(team: TeamConfig, key: str | None, scope: str) -> list[str]:
    """The ids a team booking may use, in order: from the team, the client and the key, the same whichever
    member is booked (without a key: random, as for a personal booking)."""
    if key is None:
        import secrets

        return ["b" + digest("team-auto", team.slug, secrets.token_hex(16))[:31]]
    return ["b" + digest("team-key", team.slug, scope, key, str(n))[:31] for n in range(GENERATIONS)]


def _fan_out(function: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """`function` over `items` at once (each is a Google round trip as another identity), results in order."""
    work = list(items)
    if len(work) <= 1:
        return [function(item) for item in work]
    with ThreadPoolExecutor(max_workers=min(8, len(work))) as pool:
        return list(pool.map(function, work))


class TeamBookings(WithParts):
    def __init__(self, parts: BookingParts, free_intervals: FreeIntervals) -> None:
        super().__init__(parts)
        self._free_intervals = free_intervals
        self._assignments = Assignments(parts.config, parts.client)
        self._lock = threading.Lock()
        self._recent: dict[str, list[tuple[float, dict[str, Any]]]] = {}  # team -> (monotonic, event) made here

    # --- reading ----------------------------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """The teams as GET /calendars lists them: public names only (members by their calendar's name)."""
        entries = []
        for team in self._config.teams:
            members = [member(self._config, slug) for slug in team.members]
            entry: dict[str, Any] = {
                "id": team.slug,
                "name": team.name,
                "kind": "team",
                "mode": team.mode,
                "timezone": str(team_zone(self._config, team).key),
                "durations": list(team.durations),
                "meetingTypes": [],
                "members": [{"id": m.slug, "name": m.name} for m in members],
                "horizonDays": max(self._config.slot_rules(m.slug).horizon.days for m in members),
            }
            if team.organizer:
                entry["organizer"] = team.organizer
            entries.append(entry)
        return entries

    def slots(
        self, team: TeamConfig, first_day: date, last_day: date, duration: int, zone_name: str | None, live: bool
    ) -> dict[str, Any]:
        self._check_duration(team, duration)
        zone = rules.zone_named(zone_name) if zone_name else team_zone(self._config, team)
        rules.check_days(first_day, last_day)
        now = self._now()
        members = [member(self._config, slug) for slug in team.members]

        def one(calendar: CalendarConfig) -> tuple[list[Interval], BusyView | None]:
            try:
                return self._free_intervals(calendar, first_day, last_day, zone, duration, live)
            except AppError as error:  # fail closed: a member that cannot be read offers nothing
                log("team member unreadable", severity="WARNING", team=team.slug, calendar=calendar.slug,
                    detail=error.message)
                return [], None

        if live or self._availability.state()[0] is None:
            answers = _fan_out(one, members)  # live reads: one round trip per member, at once
        else:
            answers = [one(calendar) for calendar in members]  # from the snapshot: no I/O, no threads
        per_member = {calendar.slug: answer[0] for calendar, answer in zip(members, answers, strict=True)}
        if team.mode == "round_robin":
            slots = [slot for slot, _ in union_slots(per_member)]
        else:
            slots = intersection_slots(per_member)
        views = [answer[1] for answer in answers if answer[1] is not None]
        source = "snapshot" if views and all(v.source == "snapshot" for v in views) else "live"
        as_of = min((v.as_of for v in views), default=now)
        return {
            "calendar": team.slug,
            "timezone": str(zone.key),
            "duration": duration,
            "slots": format_slots(slots, zone),
            "source": source,
            "asOf": as_of.astimezone(_UTC).isoformat().replace("+00:00", "Z"),
        }

    def _check_duration(self, team: TeamConfig, duration: int) -> None:
        if duration not in team.durations:
            raise InvalidRequest(
                f"Team {team.slug!r} offers durations {list(team.durations)} (minutes).",
                fields={"duration": f"one of {list(team.durations)}"},
            )

    # --- booking ----------------------------------------------------------------------------------------------
    def book(self, team: TeamConfig, request: NewBooking, key: str | None, scope: str) -> BookingResult:
        if request.type is not None:
            raise InvalidRequest(f"Team {team.slug!r} has no meeting types; leave `type` out.",
                                 fields={"type": "absent"})
        self._check_duration(team, request.duration)
        zone = rules.zone_named(request.timezone) if request.timezone else team_zone(self._config, team)
        span = Interval(request.start, request.start + timedelta(minutes=request.duration))
        if span.start < self._now():
            raise InvalidRequest("This start is in the past; pick a time from /slots.",
                                 fields={"start": "a time in the future"},
                                 details={"reason": SlotProblem.TOO_SOON.value})
        ids = team_event_ids(team, key, scope)
        members = [member(self._config, slug) for slug in team.members]
        if key is not None and team.mode == "collective":
            earlier = self._earlier(member(self._config, str(team.organizer)), ids, request, scope, zone)
            if earlier is not None:
                return earlier
        problems = dict(zip(team.members, _fan_out(lambda c: self._problem(c, span), members), strict=True))
        problem = team_problem(team, problems)
        if problem is not None and (not problem.is_conflict or key is None or team.mode == "collective"):
            if problem.is_conflict:
                raise SlotUnavailable(problem.message, details={"reason": problem.value})
            raise InvalidRequest(problem.message, fields={"start": problem.message}, details={"reason": problem.value})
        if team.mode == "collective":
            return self._book_collective(team, members, request, span, ids, key, scope, zone)
        free = [slug for slug, p in problems.items() if p is None]
        order = candidates(team, free, self._counts(team, members)) if free else []
        deadline = time_module.monotonic() + BUDGET_SECONDS

        def attempt(slug: str) -> BookingResult:
            return self._book_member(team, member(self._config, slug), request, span, ids, key, scope, zone)

        if key is None:
            for slug in order:
                if time_module.monotonic() > deadline:
                    break
                try:
                    return attempt(slug)
                except SlotUnavailable:
                    log("team member lost the slot", team=team.slug, calendar=slug)
        else:
            return self._book_assigned(team, scope, key, span, order, attempt, deadline, problem)
        raise SlotUnavailable(SlotProblem.BUSY.message, details={"reason": SlotProblem.BUSY.value})

    def _book_assigned(
        self, team: TeamConfig, scope: str, key: str, span: Interval, order: list[str],
        attempt: Callable[[str], BookingResult], deadline: float, problem: SlotProblem | None,
    ) -> BookingResult:
        """Book the member the request's assignment names, moving it on to the next free member when that one
        loses the slot (team_assign.py): every attempt of the request follows it, so one request books one member.
        A member named by an earlier attempt is tried even if it looks busy now: it may be busy with this very
        booking, which its hold then answers."""
        assignment = self._assignments.take(team, scope, key, order[0] if order else "", span)
        tried: set[str] = set()
        for _ in range(3 * len(team.members) + 1):
            if time_module.monotonic() > deadline:
                break
            named = member_of(assignment)
            if named in team.members and named not in tried:
                try:
                    return attempt(named)
                except SlotUnavailable:
                    log("team member lost the slot", team=team.slug, calendar=named)
                    tried.add(named)
            following = next((slug for slug in order if slug not in tried and slug != named), None)
            if following is None:
                break
            assignment = self._assignments.move_on(team, assignment, named, following)
        reason = problem or SlotProblem.BUSY  # nobody free to begin with: why (busy, or the day is full)
        raise SlotUnavailable(reason.message, details={"reason": reason.value})

    def _problem(self, calendar: CalendarConfig, span: Interval) -> SlotProblem | None:
        """Whether `calendar` can take `span` by its rules and what is known of its time: the fresh snapshot, else
        Google now. Unreadable counts as busy (fail closed)."""
        now = self._now()
        slot_rules = self._config.slot_rules(calendar.slug)
        duration = span.end - span.start
        problem = check_slot(slot_rules, start=span.start, duration=duration, busy=(), now=now)
        if problem is not None:
            return problem
        day = span.start.astimezone(calendar.zone).date()
        day_start = datetime.combine(day, time(0), calendar.zone)
        window = (min(day_start, span.start - slot_rules.buffer_before),
                  max(day_start + timedelta(days=1), span.end + slot_rules.buffer_after))

        def verdict(busy: BusyView) -> SlotProblem | None:
            if busy.error is not None:
                return SlotProblem.BUSY
            return check_slot(slot_rules, start=span.start, duration=duration, busy=busy.blocked(slot_rules),
                              now=now, bookings_that_day=busy.bookings_per_day.get(day, 0))

        try:
            snapshot = self._availability.fresh_snapshot(calendar.slug, *window)
            problem = verdict(snapshot) if snapshot is not None else None
            if snapshot is None or (problem is not None and problem.is_conflict and snapshot.local):
                problem = verdict(self._availability.live(calendar, *window))
        except AppError as error:
            log("team member unreadable", severity="WARNING", calendar=calendar.slug, detail=error.message)
            return SlotProblem.BUSY
        return problem

    def _counts(self, team: TeamConfig, members: list[CalendarConfig]) -> dict[str, int]:
        """Each member's bookings through `team` created in the fairness window: their calendars' lists, plus the
        bookings this instance made in the last minute (a list may not show them yet)."""
        now = self._now()
        since = fairness_window(now, team).start
        # Open-ended: Google stamps `created` by its own clock, which may run ahead of this instance's, so a
        # booking made a moment ago can look created after `now`; it counts all the same.
        window = Interval(since, now + timedelta(days=1))
        horizon = max(self._config.slot_rules(m.slug).horizon for m in members)

        def listed(calendar: CalendarConfig) -> list[dict[str, Any]]:
            request = events_list_request(calendar.calendar_id, window.start, now + horizon + timedelta(days=1),
                                          private_properties={P_TEAM: team.slug})
            try:
                answer = self._client.batch(identity_for(calendar), {"teamBookings": request}).get("teamBookings")
            except AppError:
                answer = None
            return list(answer.get("items", [])) if isinstance(answer, dict) else []

        events = [event for items in _fan_out(listed, members) for event in items]
        seen = {str(event.get("id")) for event in events}
        cutoff = time_module.monotonic() - RECENT_SECONDS
        with self._lock:
            recent = self._recent.setdefault(team.slug, [])
            recent[:] = [(at, event) for at, event in recent if at >= cutoff]
            events += [event for _, event in recent if str(event.get("id")) not in seen]
        return booking_counts(events, team, window)

    def _noted(self, team: TeamConfig, calendar: CalendarConfig, event: dict[str, Any]) -> None:
        with self._lock:
            self._recent.setdefault(team.slug, []).append((time_module.monotonic(), event))
        self._availability.note_booking(calendar.slug, event_interval(event, calendar.zone), event["id"])

    def _body(
        self, team: TeamConfig, calendar: CalendarConfig, request: NewBooking, span: Interval, key: str | None,
        scope: str,
    ) -> dict[str, Any]:
        body = event_body(self._config, calendar, request, None, span.start, span.end)
        body["extendedProperties"]["private"][P_TEAM] = team.slug
        if key is not None:
            body["extendedProperties"]["private"][P_REQUEST] = request_digest(request, scope)
        return body

    def _book_member(
        self, team: TeamConfig, calendar: CalendarConfig, request: NewBooking, span: Interval, ids: list[str],
        key: str | None, scope: str, zone: ZoneInfo,
    ) -> BookingResult:
        """The booking protocol on one member's calendar, as a personal booking runs it (claims, then the event)."""
        identity = identity_for(calendar)
        body = self._body(team, calendar, request, span, key, scope)
        send = send_updates_for(self._config, calendar, request.email)
        for event_id in ids:
            extra: dict[str, Request] = {}
            if key is not None:
                extra["existing"] = event_get_request(calendar.calendar_id, event_id)
            try:
                held, _ = self._claims.hold(calendar, identity, event_id, span, extra)
            except ExistingBooking as found:
                outcome = replay(self._parts, calendar, request, found.event, scope, zone)
                if outcome is None:
                    continue
                return outcome
            full = with_links(self._config, calendar, {**body, "id": event_id}, self._tokens)
            event = write_booking(self._client, calendar, identity, full, held, send_updates=send,
                                  conference="conferenceData" in full,
                                  capped=bool(self._config.slot_rules(calendar.slug).max_per_day))
            if event is None:
                continue
            self._noted(team, calendar, event)
            log("team booking confirmed", team=team.slug, calendar=calendar.slug, booking=event["id"])
            return self._parts.result(calendar, event, zone, created=True)
        raise SlotUnavailable("This request was tried too often; send it again with a new Idempotency-Key.")

    def _book_collective(
        self, team: TeamConfig, members: list[CalendarConfig], request: NewBooking, span: Interval, ids: list[str],
        key: str | None, scope: str, zone: ZoneInfo,
    ) -> BookingResult:
        """Hold the claims on every member's calendar (`hold_order`), then write one event in the organizer's."""
        organizer = member(self._config, str(team.organizer))
        body = self._body(team, organizer, request, span, key, scope)
        guests = [{"email": m.calendar_id, "displayName": m.name} for m in members if m.slug != organizer.slug]
        body["attendees"] = guests + list(body.get("attendees", []))
        send = "all" if send_updates_for(self._config, organizer, request.email) == "all" else "none"
        for event_id in ids:
            held: dict[str, dict[str, dict[str, Any]]] = {}
            try:
                for calendar in hold_order(self._config, team):
                    extra: dict[str, Request] = {}
                    if key is not None and calendar.slug == organizer.slug:
                        extra["existing"] = event_get_request(organizer.calendar_id, event_id)
                    held[calendar.slug], _ = self._claims.hold(calendar, identity_for(calendar), event_id, span,
                                                               extra)
            except ExistingBooking as found:
                self._release(held, event_id)
                outcome = replay(self._parts, organizer, request, found.event, scope, zone)
                if outcome is None:
                    continue
                return outcome
            except AppError:
                self._release(held, event_id)
                raise
            full = with_links(self._config, organizer, {**body, "id": event_id}, self._tokens)
            event = write_booking(self._client, organizer, identity_for(organizer), full, held[organizer.slug],
                                  send_updates=send, conference="conferenceData" in full,
                                  capped=bool(self._config.slot_rules(organizer.slug).max_per_day))
            if event is None:
                self._release({k: v for k, v in held.items() if k != organizer.slug}, event_id)
                continue
            for calendar in members:
                self._availability.note_booking(calendar.slug, event_interval(event, organizer.zone), event["id"])
            log("collective booking confirmed", team=team.slug, calendar=organizer.slug, booking=event["id"])
            return self._parts.result(organizer, event, zone, created=True)
        raise SlotUnavailable("This request was tried too often; send it again with a new Idempotency-Key.")

    def _release(self, held: dict[str, dict[str, dict[str, Any]]], holder: str) -> None:
        for slug, claims in held.items():
            calendar = member(self._config, slug)
            release(self._client, calendar, identity_for(calendar), claims, holder)

    # --- repeats ----------------------------------------------------------------------------------------------
    def _earlier(
        self, calendar: CalendarConfig, ids: list[str], request: NewBooking, scope: str, zone: ZoneInfo
    ) -> BookingResult | None:
        """The booking an earlier attempt of this request made in `calendar` (read by id, in one batch)."""
        parts = {event_id: event_get_request(calendar.calendar_id, event_id) for event_id in ids}
        found = self._client.batch(identity_for(calendar), parts)
        for event_id in ids:
            answer = found.get(event_id)
            if isinstance(answer, NotFound):
                return None  # never written: nothing was booked under this id or a later one
            if not isinstance(answer, dict):
                raise as_error(answer)
            outcome = replay(self._parts, calendar, request, answer, scope, zone)
            if outcome is not None:
                return outcome
        return None


def collective_team(config: Config, event: dict[str, Any]) -> TeamConfig | None:
    """The collective team a booking was made through, if any (its move holds every member: team_moves.py)."""
    team = config.team_by_slug(private_properties(event).get(P_TEAM, ""))
    return team if team is not None and team.mode == "collective" else None
