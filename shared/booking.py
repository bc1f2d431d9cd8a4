"""Booking use cases: list calendars and slots, book, look up, cancel, reschedule, with no double booking.

Google Calendar is the only store. A booking is an event with a client-chosen id and private extended properties
marking it. With an `Idempotency-Key` the id follows from the key, so a repeat finds its own event instead of
making a second one; without one the id is random, so nobody can claim another visitor's booking. The protocol:

1. check the slot against the calendar's rules (hours, grid, notice, horizon) without any I/O;
2. check it against a fresh snapshot (plus what this instance booked since), or live free/busy when there is
   none, so that a slot known to be taken is refused without writing anything;
3. insert the event, then re-read the day's events (live) and let a deterministic rule decide: the event yields
   if it overlaps busy time (buffers applied), or a booking created before it that still stood when it was
   created (`created`, then id), or if the day's cap is already reached by such bookings. A yielding event is
   cancelled and marked in one write; the caller gets 409. The rule between bookings gives the same verdict
   whenever and by whomever it is taken, so of two overlapping bookings at most one stays, also when requests
   race on different instances, retry, or repeat.

If the re-read fails, the event is withdrawn (marked aborted) before the error is answered. On the happy path
with a fresh snapshot a booking is two sequential Google calls (insert, re-read).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .availability import Availability, BusyView, identity_for
from .calendar_client import CalendarClient, Identity
from .config import CalendarConfig, Config
from .errors import (
    AppError,
    Conflict,
    Gone,
    GoogleConflict,
    InvalidRequest,
    NotFound,
    SlotUnavailable,
)
from .events import (
    MARKER,
    P_CALENDAR,
    P_EMAIL,
    P_INVITED,
    P_MOVE_CLIENT,
    P_MOVED_FROM,
    P_MOVED_TO,
    P_OUTCOME,
    P_REQUEST,
    P_VISITOR,
    blocks_time,
    event_interval,
    is_booking,
    is_decided,
    padded_booking,
    parse_rfc3339,
    priority_key,
    private_properties,
)
from .logs import log
from .slots import Interval, SlotProblem, SlotRules, check_slot, free_slots
from .tokens import BookingTokens
from .visitor_text import clean_block, clean_line, in_domains, visitor_digest

MAX_SLOTS_SPAN_DAYS = 62
_GENERATIONS = 5


class _AlreadyDecided(Exception):
    """The event judged is cancelled or marked already: its verdict stands and is not written again."""
_CONFLICT_PROBLEMS = (SlotProblem.BUSY, SlotProblem.DAY_FULL)


@dataclass(frozen=True)
class NewBooking:
    calendar: str
    start: datetime
    duration: int  # minutes
    name: str
    email: str
    notes: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class BookingView:
    id: str
    calendar: str
    start: datetime
    end: datetime
    status: str
    meet_link: str | None = None
    moved_to: str | None = None

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "calendar": self.calendar,
            "start": self.start.astimezone(zone).isoformat(),
            "end": self.end.astimezone(zone).isoformat(),
            "status": self.status,
        }
        if self.meet_link:
            body["meetLink"] = self.meet_link
        if self.moved_to:
            body["movedTo"] = self.moved_to
        return body


@dataclass(frozen=True)
class BookingResult:
    booking: BookingView
    token: str
    created: bool  # False when an earlier identical request already made this booking


class BookingService:
    def __init__(
        self,
        config: Config,
        client: CalendarClient,
        availability: Availability,
        tokens: Callable[[], BookingTokens],
        now: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._client = client
        self._availability = availability
        self._tokens = tokens
        self._now = now
        # Bookings this instance inserted but could not settle (Google failed the re-check and the withdrawal):
        # they are checked again, best effort, before this instance's next writes.
        self._unsettled: dict[str, tuple[CalendarConfig, dict[str, Any], str]] = {}
        self._unsettled_lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------------------------
    def calendars(self) -> list[dict[str, Any]]:
        return [
            {
                "id": calendar.slug,
                "name": calendar.name,
                "timezone": calendar.timezone,
                "durations": list(self._config.durations_for(calendar)),
            }
            for calendar in self._config.calendars
        ]

    def calendar(self, slug: str) -> CalendarConfig:
        calendar = self._config.calendar_by_slug(slug)
        if calendar is None:
            known = [c.slug for c in self._config.calendars]
            raise NotFound(f"No bookable calendar {slug!r}; known: {', '.join(known)}.", details={"calendar": slug})
        return calendar

    def slots(
        self, slug: str, first_day: date, last_day: date, duration: int, zone_name: str | None, *, live: bool = False
    ) -> dict[str, Any]:
        calendar = self.calendar(slug)
        self._check_duration(calendar, duration)
        zone = _zone(zone_name) if zone_name else calendar.zone
        if last_day < first_day:
            raise InvalidRequest("`to` is before `from`.", fields={"to": "a date on or after `from`"})
        if (last_day - first_day).days >= MAX_SLOTS_SPAN_DAYS:
            raise InvalidRequest(
                f"Ask for at most {MAX_SLOTS_SPAN_DAYS} days at once.",
                fields={"to": f"at most {MAX_SLOTS_SPAN_DAYS - 1} days after `from`"},
            )
        now = self._now()
        rules = self._config.slot_rules(slug)
        window_start = max(datetime.combine(first_day, time(0), zone), now)
        window_end = min(datetime.combine(last_day + timedelta(days=1), time(0), zone), now + rules.horizon)
        slots: list[Interval] = []
        view: BusyView | None = None
        if window_start < window_end:
            margin = rules.buffer_before + rules.buffer_after + timedelta(minutes=duration) + timedelta(days=1)
            view = self._availability.view(calendar, window_start - margin, window_end + margin, live=live)
            slots = free_slots(
                rules,
                window_start=window_start,
                window_end=window_end,
                duration=timedelta(minutes=duration),
                busy=view.blocked(rules),
                now=now,
                bookings_per_day=view.bookings_per_day,
            )
        return {
            "calendar": slug,
            "timezone": str(zone.key),
            "duration": duration,
            "slots": [{"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()}
                      for s in slots],
            "source": view.source if view else "live",
            "asOf": (view.as_of if view else now).astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z"),
        }

    def answer_zone(self, slug: str, visitor_zone: str | None) -> ZoneInfo:
        """The zone answers are written in: the visitor's when given, else the calendar's."""
        return _zone(visitor_zone) if visitor_zone else self.calendar(slug).zone

    # --- booking ----------------------------------------------------------------------------------------------
    def book(self, request: NewBooking, idempotency_key: str | None, client: str = "") -> BookingResult:
        """`client` names the caller (its address): an Idempotency-Key is scoped to it and to the whole body."""
        scope = self._key_scope(client)
        if self._unsettled:
            self._settle_leftovers()
        calendar = self.calendar(request.calendar)
        if request.timezone:
            _zone(request.timezone)
        self._check_duration(calendar, request.duration)
        start = request.start
        end = start + timedelta(minutes=request.duration)
        self._check_rules(calendar, start, end)
        try:
            from_snapshot = self._precheck(calendar, start, end)
        except SlotUnavailable:
            earlier = self._earlier_answer(calendar, request, idempotency_key, scope) if idempotency_key else None
            if earlier is None:
                raise
            return earlier  # the slot is busy because this very request booked it before
        identity = identity_for(calendar)
        send = self._send_updates(calendar, request.email)
        later = send == "all" and self._config.booking.confirm_before_inviting
        if later:
            send = "none"  # nothing to tell a visitor whose booking may yet yield
        body = self._event_body(calendar, request, start, end)
        if idempotency_key is not None:
            body["extendedProperties"]["private"][P_REQUEST] = _request_digest(request, scope)
        for event_id in _event_ids(calendar, request, idempotency_key, scope):
            try:
                event = self._client.insert_event(
                    identity, calendar.calendar_id, {**body, "id": event_id}, send_updates=send,
                    conference=self._config.booking.add_meet_link,
                )
            except GoogleConflict as error:
                if error.reason != "duplicate":
                    raise
                existing = self._client.get_event(identity, calendar.calendar_id, event_id)
                if idempotency_key is None:
                    event = existing  # an unguessable id: our own insert, retried after a lost answer
                else:
                    outcome = self._replay(calendar, request, existing, scope)
                    if outcome is None:
                        continue  # that id's attempt was aborted: take the next one
                    return outcome
            self._settle(calendar, identity, event, send_updates=send, precheck_from_snapshot=from_snapshot)
            if later:
                event = self._invite(calendar, identity, event)
            self._availability.note_booking(calendar.slug, event_interval(event, calendar.zone), event["id"])
            log("booking confirmed", calendar=calendar.slug, booking=event["id"], start=start.isoformat())
            return BookingResult(self._view(calendar, event), self._tokens().issue(event["id"], calendar.slug), True)
        raise SlotUnavailable("This request was tried too often; send it again with a new Idempotency-Key.")

    def _key_scope(self, client: str) -> str:
        """What an Idempotency-Key is scoped to besides the calendar: the client, unless config says otherwise."""
        return client if self._config.booking.idempotency_per_client else ""

    def _earlier_answer(
        self, calendar: CalendarConfig, request: NewBooking, key: str, scope: str
    ) -> BookingResult | None:
        """The booking an earlier request with this Idempotency-Key made, if there is one."""
        identity = identity_for(calendar)
        for event_id in _event_ids(calendar, request, key, scope):
            try:
                existing = self._client.get_event(identity, calendar.calendar_id, event_id)
            except NotFound:
                return None
            outcome = self._replay(calendar, request, existing, scope)
            if outcome is not None:
                return outcome
        return None

    def _replay(
        self, calendar: CalendarConfig, request: NewBooking, existing: dict[str, Any], scope: str
    ) -> BookingResult | None:
        """The answer to a repeated request (same Idempotency-Key, same client): the same booking, a 409, or None
        when the earlier attempt was aborted and a new id should be tried. The booking's token is handed back
        only for the very same request: every field of the body, from the same client (`scope`)."""
        props = private_properties(existing)
        same = is_booking(existing) and hmac.compare_digest(
            props.get(P_REQUEST, ""), _request_digest(request, scope)
        )
        if not same:
            raise Conflict(
                "This Idempotency-Key was already used for a different booking; use a new key.",
                details={"idempotencyKey": "reused"},
            )
        outcome = props.get(P_OUTCOME)
        if outcome == "aborted":
            return None
        if outcome == "lost":  # marked and cancelled in one write
            raise SlotUnavailable("This slot was taken by another booking.", details={"reason": "busy"})
        identity = identity_for(calendar)
        send = self._send_updates(calendar, request.email)
        if existing.get("status") != "cancelled":
            # Finish (or repeat) the re-check the earlier attempt may not have completed: the verdict never
            # changes, so it is always safe to ask again.
            later = send == "all" and self._config.booking.confirm_before_inviting
            self._settle(calendar, identity, existing, send_updates="none" if later else send)
            if later and not props.get(P_INVITED):
                existing = self._invite(calendar, identity, existing)
        return BookingResult(self._view(calendar, existing), self._tokens().issue(existing["id"], calendar.slug), False)

    def _invite(self, calendar: CalendarConfig, identity: Identity, event: dict[str, Any]) -> dict[str, Any]:
        """Send Google's invitation for a booking that has won its slot: a conditional write, so nothing is sent
        for a booking cancelled meanwhile (a decided event is never written again). Best effort: the booking
        stands whether or not the invitation goes out."""
        current = event
        for _ in range(3):
            props = private_properties(current)
            if is_decided(current) or props.get(P_INVITED):
                return current
            try:
                return self._client.patch_event(
                    identity, calendar.calendar_id, current["id"],
                    {"extendedProperties": {"private": {P_INVITED: "1"}}},
                    send_updates="all", etag=current.get("etag"),
                )
            except (GoogleConflict, Gone):
                current = self._client.get_event(identity, calendar.calendar_id, current["id"])
            except AppError as error:
                log("invitation not sent", severity="WARNING", calendar=calendar.slug, booking=event["id"],
                    detail=error.message)
                return current
        return current

    def _settle(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        event: dict[str, Any],
        *,
        send_updates: str,
        precheck_from_snapshot: bool = False,
        ignore: str | None = None,
    ) -> None:
        """Re-read the day live and keep `event` only if it wins its time; else cancel it and raise 409.

        If the re-read itself fails, the event is withdrawn (marked aborted) before the error is answered, so
        that no booking stays in the calendar unchecked."""
        try:
            problem = self._contest(calendar, identity, event, ignore=ignore)
        except _AlreadyDecided:
            raise SlotUnavailable("This slot was taken by another booking.", details={"reason": "busy"}) from None
        except AppError:
            try:
                self._yield(calendar, identity, event, send_updates=send_updates, outcome="aborted")
            except AppError:
                self._remember_unsettled(calendar, event, send_updates)
            raise
        if problem is None:
            return
        try:
            self._yield(calendar, identity, event, send_updates=send_updates)
        except AppError:
            self._remember_unsettled(calendar, event, send_updates)
            raise
        if precheck_from_snapshot:
            self._availability.distrust_snapshot(calendar.slug)
        log("booking yielded", calendar=calendar.slug, booking=event["id"], reason=problem.value)
        raise SlotUnavailable(problem.message, details={"reason": problem.value})

    def _remember_unsettled(self, calendar: CalendarConfig, event: dict[str, Any], send_updates: str) -> None:
        with self._unsettled_lock:
            self._unsettled[event["id"]] = (calendar, event, send_updates)
            log("booking left unsettled", severity="WARNING", calendar=calendar.slug, booking=event["id"])

    def _settle_leftovers(self) -> None:
        """Re-check the bookings this instance could not settle: a loser is withdrawn, a winner stays (exactly
        what a repeat of its request would do, since the verdict never changes)."""
        with self._unsettled_lock:
            leftovers = list(self._unsettled.items())[:5]
        for event_id, (calendar, event, send_updates) in leftovers:
            try:
                self._settle(calendar, identity_for(calendar), event, send_updates=send_updates)
            except SlotUnavailable:
                pass
            except AppError:
                continue  # Google still failing: keep it for the next time
            with self._unsettled_lock:
                self._unsettled.pop(event_id, None)
            log("unsettled booking settled", calendar=calendar.slug, booking=event_id)

    def _yield(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        event: dict[str, Any],
        *,
        send_updates: str,
        outcome: str = "lost",
    ) -> None:
        """Cancel a booking that gave up its time, marked so that every later look reads the same verdict."""
        self._cancel_once(calendar, identity, event, outcome, send_updates=send_updates)

    def _cancel_once(
        self, calendar: CalendarConfig, identity: Identity, event: dict[str, Any], outcome: str, *, send_updates: str
    ) -> tuple[dict[str, Any], bool]:
        """Cancel `event` marked `outcome`, in one conditional write; (the event as it ends, whether we wrote).

        The cancellation and the mark land together and `updated` records the moment. A decided (cancelled or
        marked) event is never written again, because the rule in `_contest` reads that moment: a write that
        finds the event changed re-reads it, and stops if someone else decided it meanwhile."""
        current = event
        for _ in range(3):
            if is_decided(current):
                return current, False
            try:
                written = self._client.patch_event(
                    identity,
                    calendar.calendar_id,
                    current["id"],
                    {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: outcome}}},
                    send_updates=send_updates,
                    etag=current.get("etag"),
                )
                return written, True
            except (GoogleConflict, Gone):
                current = self._client.get_event(identity, calendar.calendar_id, current["id"])
        raise Conflict("The booking kept changing meanwhile; fetch it and try again.")

    def _contest(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        event: dict[str, Any],
        *,
        ignore: str | None = None,
    ) -> SlotProblem | None:
        """Whether `event` must yield, judged from a live read of its day (`ignore`: an event it replaces).

        The rule only looks at what existed when the booking was created, so every process judging the same
        booking reaches the same verdict whenever it looks: a booking yields to an overlapping booking created
        before it that still stood at that moment (confirmed, or cancelled only later), and to busy time
        (meetings) last changed before it. A meeting put on top later is the owner's own overlap.
        """
        zone = calendar.zone
        rules = self._config.slot_rules(calendar.slug)
        mine = event_interval(event, zone)
        day_start = datetime.combine(mine.start.astimezone(zone).date(), time(0), zone)
        window = Interval(
            min(day_start, mine.start - rules.buffer_before) - timedelta(minutes=1),
            max(day_start + timedelta(days=1), mine.end + rules.buffer_after) + timedelta(minutes=1),
        )
        events = self._client.list_events(
            identity, calendar.calendar_id, time_min=window.start, time_max=window.end, show_deleted=True
        )
        current = next((e for e in events if e.get("id") == event["id"]), event)
        if is_decided(current):
            raise _AlreadyDecided
        return _judge(current, events, zone, rules, ignore=ignore)

    # --- capabilities -------------------------------------------------------------------------------------------
    def _authorized(self, booking_id: str, token: str | None) -> tuple[CalendarConfig, Identity]:
        slug = self._tokens().check(token, booking_id)
        calendar = self._config.calendar_by_slug(slug)
        if calendar is None:
            raise NotFound("This booking's calendar is no longer bookable.")
        return calendar, identity_for(calendar)

    def _own_event(self, calendar: CalendarConfig, identity: Identity, booking_id: str) -> dict[str, Any]:
        event = self._client.get_event(identity, calendar.calendar_id, booking_id)
        if not is_booking(event) or private_properties(event).get(P_CALENDAR) != calendar.slug:
            raise NotFound("No such booking.")
        return event

    def get(self, booking_id: str, token: str | None) -> tuple[BookingView, CalendarConfig]:
        calendar, identity = self._authorized(booking_id, token)
        return self._view(calendar, self._own_event(calendar, identity, booking_id)), calendar

    def cancel(self, booking_id: str, token: str | None) -> tuple[BookingView, CalendarConfig]:
        """Cancel (a conditional write, so a move committing at the same moment either wins or sees it); a
        booking cancelled or moved already gets the same answer again."""
        calendar, identity = self._authorized(booking_id, token)
        event = self._own_event(calendar, identity, booking_id)
        send = self._send_updates(calendar, private_properties(event).get(P_EMAIL, ""))
        event, written = self._cancel_once(calendar, identity, event, "cancelled", send_updates=send)
        if written:
            self._availability.forget_booking(calendar.slug, booking_id)
            log("booking cancelled", calendar=calendar.slug, booking=booking_id)
        return self._view(calendar, event), calendar

    def reschedule(
        self, booking_id: str, token: str | None, start: datetime, duration: int | None, client: str = ""
    ) -> tuple[BookingResult, CalendarConfig]:
        """Move a booking. The booking is claimed for one new event (a conditional write, so two different moves
        cannot both proceed); the new time is booked with the same checks; then the old booking is cancelled
        with a conditional write marked "moved", which a concurrent cancel either beats or loses to. A failed
        move leaves the booking where it was. The moved booking has a new id and token; the old points to it.
        Repeating the same move returns the same moved booking."""
        calendar, identity = self._authorized(booking_id, token)
        old = self._own_event(calendar, identity, booking_id)
        props = private_properties(old)
        span = event_interval(old, calendar.zone)
        minutes = duration if duration is not None else int((span.end - span.start).total_seconds() // 60)
        self._check_duration(calendar, minutes)
        end = start + timedelta(minutes=minutes)
        candidates = _move_ids(booking_id, start, minutes)
        if is_decided(old):
            if props.get(P_OUTCOME) == "moved" and props.get(P_MOVED_TO) in candidates:
                done = self._client.get_event(identity, calendar.calendar_id, props[P_MOVED_TO])
                if private_properties(done).get(P_MOVE_CLIENT, "") != _digest("client", client):
                    # The token from before the move reads the old booking only: the moved booking's token
                    # goes to nobody but the client that moved it, repeating its own request.
                    raise Conflict("This booking was moved; use the moved booking's link.",
                                   details={"movedTo": props.get(P_MOVED_TO)})
                token_for_done = self._tokens().issue(done["id"], calendar.slug)
                return BookingResult(self._view(calendar, done), token_for_done, False), calendar  # moved already
            if props.get(P_OUTCOME) == "moved":
                raise Conflict("This booking was moved; use the moved booking's link.",
                               details={"movedTo": props.get(P_MOVED_TO)})
            raise Conflict("This booking is cancelled; book a new slot instead.", details={"status": "cancelled"})
        if (start, end) == (span.start, span.end):
            result = BookingResult(self._view(calendar, old), self._tokens().issue(booking_id, calendar.slug), False)
            return result, calendar
        self._check_rules(calendar, start, end)
        send = self._send_updates(calendar, props.get(P_EMAIL, ""))
        body: dict[str, Any] = {
            key: old[key]
            for key in ("summary", "description", "attendees", "transparency", "guestsCanInviteOthers",
                        "guestsCanSeeOtherGuests")
            if key in old
        }
        kept = {k: v for k, v in props.items() if k not in (P_MOVED_TO, P_OUTCOME, P_INVITED)}
        kept.pop(P_REQUEST, None)
        body["extendedProperties"] = {"private": {**kept, P_MOVED_FROM: booking_id,
                                                  P_MOVE_CLIENT: _digest("client", client)}}
        body.update(_times(calendar, start, end))
        claimed: dict[str, Any] = old
        moved: dict[str, Any] | None = None
        for new_id in candidates:
            claimed = self._claim(calendar, identity, claimed, new_id)
            try:
                moved = self._client.insert_event(identity, calendar.calendar_id, {**body, "id": new_id})
            except GoogleConflict as error:
                if error.reason != "duplicate":
                    raise
                moved = self._client.get_event(identity, calendar.calendar_id, new_id)
                if is_decided(moved):
                    moved = None
                    continue  # an earlier attempt at this move was withdrawn: take the next id
            break
        if moved is None:
            raise SlotUnavailable("This move was tried too often; pick another time.", details={"reason": "busy"})
        self._settle(calendar, identity, moved, send_updates="none", ignore=booking_id)
        self._commit_move(calendar, identity, claimed, moved, send_updates=send)
        if send == "all":  # the visitor hears of the new time only once it is theirs
            moved = self._invite(calendar, identity, moved)
        self._availability.forget_booking(calendar.slug, booking_id)
        self._availability.note_booking(calendar.slug, event_interval(moved, calendar.zone), moved["id"])
        log("booking moved", calendar=calendar.slug, booking=moved["id"], replaces=booking_id, start=start.isoformat())
        result = BookingResult(self._view(calendar, moved), self._tokens().issue(moved["id"], calendar.slug), False)
        return result, calendar

    def _commit_move(
        self, calendar: CalendarConfig, identity: Identity, claimed: dict[str, Any], moved: dict[str, Any], *,
        send_updates: str,
    ) -> None:
        """Cancel the old booking as moved, only if it is still claimed for `moved`; else give `moved` up."""
        current = claimed
        for _ in range(3):
            props = private_properties(current)
            if props.get(P_MOVED_TO) != moved["id"] or (
                current.get("status") == "cancelled" and props.get(P_OUTCOME) != "moved"
            ):
                break  # cancelled, or claimed for another move, meanwhile
            if current.get("status") == "cancelled":
                return  # the same move, committed by a repeat of this request
            try:
                self._client.patch_event(
                    identity, calendar.calendar_id, current["id"],
                    {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: "moved"}}},
                    send_updates=send_updates, etag=current.get("etag"),
                )
                return
            except (GoogleConflict, Gone):
                current = self._client.get_event(identity, calendar.calendar_id, current["id"])
        self._yield(calendar, identity, moved, send_updates="none")
        raise Conflict("The booking was cancelled or changed meanwhile; fetch it and try again.")

    def _claim(
        self, calendar: CalendarConfig, identity: Identity, old: dict[str, Any], new_id: str
    ) -> dict[str, Any]:
        """Mark the booking as being moved to `new_id`, only if nobody changed it since it was read."""
        pending = private_properties(old).get(P_MOVED_TO)
        if pending == new_id:
            return old  # claimed for this very move already (a repeat of the request)
        if pending:
            try:
                other = self._client.get_event(identity, calendar.calendar_id, pending)
            except NotFound:
                other = {}
            if other and not is_decided(other):
                raise Conflict("This booking is being moved already.", details={"movedTo": pending})
        try:
            return self._client.patch_event(
                identity, calendar.calendar_id, old["id"],
                {"extendedProperties": {"private": {P_MOVED_TO: new_id}}}, etag=old.get("etag"),
            )
        except GoogleConflict:
            raise Conflict("The booking changed meanwhile; fetch it and try again.") from None

    # --- rules and shapes ---------------------------------------------------------------------------------------
    def _check_duration(self, calendar: CalendarConfig, duration: int) -> None:
        allowed = self._config.durations_for(calendar)
        if duration not in allowed:
            raise InvalidRequest(
                f"Calendar {calendar.slug!r} offers durations {list(allowed)} (minutes).",
                fields={"duration": f"one of {list(allowed)}"},
            )

    def _check_rules(self, calendar: CalendarConfig, start: datetime, end: datetime) -> None:
        now = self._now()
        if start < now:
            raise InvalidRequest(
                "This start is in the past; pick a time from /slots.",
                fields={"start": "a time in the future"},
                details={"reason": SlotProblem.TOO_SOON.value},
            )
        rules = self._config.slot_rules(calendar.slug)
        problem = check_slot(rules, start=start, duration=end - start, busy=(), now=now)
        if problem is not None:
            raise InvalidRequest(problem.message, fields={"start": problem.message}, details={"reason": problem.value})

    def _precheck(self, calendar: CalendarConfig, start: datetime, end: datetime) -> bool:
        """Refuse a slot already known to be taken, before writing anything. True when the snapshot answered."""
        rules = self._config.slot_rules(calendar.slug)
        zone = calendar.zone
        day_start = datetime.combine(start.astimezone(zone).date(), time(0), zone)
        window = (
            min(day_start, start - rules.buffer_before),
            max(day_start + timedelta(days=1), end + rules.buffer_after),
        )
        view = self._availability.view(calendar, *window)

        def verdict(view: BusyView) -> SlotProblem | None:
            return check_slot(
                rules,
                start=start,
                duration=end - start,
                busy=view.blocked(rules),
                now=self._now(),
                bookings_that_day=view.bookings_per_day.get(start.astimezone(zone).date(), 0),
            )

        problem = verdict(view)
        if problem in _CONFLICT_PROBLEMS and view.local:
            # This instance's memory of its own bookings may have outlived a cancellation: ask Google.
            view = self._availability.live(calendar, *window)
            problem = verdict(view)
        if problem in _CONFLICT_PROBLEMS:
            assert problem is not None
            raise SlotUnavailable(problem.message, details={"reason": problem.value})
        return view.source == "snapshot"

    def _send_updates(self, calendar: CalendarConfig, email: str) -> str:
        return "all" if self._invites(calendar, email) else "none"

    def _invites(self, calendar: CalendarConfig, email: str) -> bool:
        return (
            self._config.booking.invite_visitor
            and calendar.mode != "direct"  # Google refuses attendees from a service account acting as itself
            and bool(email)
            and not in_domains(email, self._config.booking.company_domains)
        )

    def _event_body(
        self, calendar: CalendarConfig, request: NewBooking, start: datetime, end: datetime
    ) -> dict[str, Any]:
        name = clean_text(request.name, 100)
        lines = [
            "Booked through the website.",
            f"Name: {name}",
            f"Email: {clean_text(request.email, 254)}",
        ]
        if request.timezone:
            lines.append(f"Visitor's time zone: {clean_text(request.timezone, 64)}")
        if request.notes:
            lines += ["", "Notes:", clean_text(request.notes, 1000, multiline=True)]
        body: dict[str, Any] = {
            "summary": f"Meeting with {name}",
            "description": html.escape("\n".join(lines), quote=False),
            **_times(calendar, start, end),
            "transparency": "opaque",
            "guestsCanInviteOthers": False,
            "guestsCanSeeOtherGuests": False,
            "extendedProperties": {
                "private": {MARKER: "1", P_CALENDAR: calendar.slug, P_EMAIL: request.email.lower(),
                            P_VISITOR: visitor_digest(request.email)}
            },
        }
        if self._invites(calendar, request.email):
            body["attendees"] = [{"email": request.email, "displayName": name}]
        if self._config.booking.add_meet_link:
            body["conferenceData"] = {
                "createRequest": {"requestId": _digest(calendar.slug, request.email, start.isoformat())[:32],
                                  "conferenceSolutionKey": {"type": "hangoutsMeet"}}
            }
        return body

    def _view(self, calendar: CalendarConfig, event: dict[str, Any]) -> BookingView:
        span = event_interval(event, calendar.zone)
        meet = event.get("hangoutLink") or next(
            (
                point.get("uri")
                for point in (event.get("conferenceData") or {}).get("entryPoints", [])
                if point.get("entryPointType") == "video"
            ),
            None,
        )
        cancelled = is_decided(event)
        moved_to = private_properties(event).get(P_MOVED_TO) if cancelled else None
        status = "cancelled" if cancelled else "confirmed"
        return BookingView(event["id"], calendar.slug, span.start, span.end, status, meet, moved_to or None)


def _judge(
    event: dict[str, Any],
    events: list[dict[str, Any]],
    zone: ZoneInfo,
    rules: SlotRules,
    *,
    ignore: str | None = None,
) -> SlotProblem | None:
    """The rule of `_contest`, over the events of the day already read."""
    mine = event_interval(event, zone)
    day = mine.start.astimezone(zone).date()
    my_key = priority_key(event)
    guarded = Interval(mine.start - rules.buffer_before, mine.end + rules.buffer_after)
    earlier_that_day = 0
    for other in events:
        if other.get("id") in (event["id"], ignore):
            continue
        span = event_interval(other, zone)
        if not is_booking(other):
            changed = parse_rfc3339(str(other.get("updated") or other.get("created")))
            if blocks_time(other) and guarded.overlaps(span) and changed < my_key[0]:
                return SlotProblem.BUSY
            continue
        if priority_key(other) >= my_key or not _standing_at(other, my_key[0]):
            continue
        if guarded.overlaps(padded_booking(span, rules)):
            return SlotProblem.BUSY
        if span.start.astimezone(zone).date() == day:
            earlier_that_day += 1
    if rules.max_per_day is not None and earlier_that_day >= rules.max_per_day:
        return SlotProblem.DAY_FULL
    return None


def _standing_at(booking: dict[str, Any], moment: datetime) -> bool:
    """Whether a booking still stood at `moment`: not cancelled, or cancelled only after it.

    A cancelled event is never written again, so its `updated` is the moment of cancelling and stays so."""
    if not is_decided(booking):
        return True
    return parse_rfc3339(str(booking.get("updated"))) > moment


def _times(calendar: CalendarConfig, start: datetime, end: datetime) -> dict[str, Any]:
    zone = calendar.zone
    return {
        "start": {"dateTime": start.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
        "end": {"dateTime": end.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
    }


def clean_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Visitor text as it may reach a calendar: no control, bidirectional or zero-width characters, limited."""
    return (clean_block(value) if multiline else clean_line(value))[:limit]


def _digest(*parts: str) -> str:
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    # base32hex, lower-cased: exactly the alphabet Calendar event ids allow ([a-v0-9]).
    return base64.b32hexencode(raw).decode().lower().rstrip("=")


def _event_ids(calendar: CalendarConfig, request: NewBooking, key: str | None, scope: str = "") -> list[str]:
    """The event ids a request may use, in order. With an Idempotency-Key they follow from the key (the client's
    secret) and the client (`scope`), so a repeat finds its booking and another client's same key does not;
    without one the id is random, so nobody can guess it and claim the booking's token by repeating someone
    else's request."""
    if key is None:
        return ["b" + _digest("auto", calendar.slug, secrets.token_hex(16))[:31]]
    return ["b" + _digest("key", calendar.slug, scope, key, str(attempt))[:31] for attempt in range(_GENERATIONS)]


def _request_digest(request: NewBooking, scope: str) -> str:
    """A digest of every field of a booking request and its client: what a replay must match exactly."""
    fields = {
        "calendar": request.calendar, "start": request.start.astimezone(ZoneInfo("UTC")).isoformat(),
        "duration": request.duration, "name": request.name, "email": request.email, "notes": request.notes,
        "timezone": request.timezone, "client": scope,
    }
    return _digest("request", json.dumps(fields, sort_keys=True, ensure_ascii=False))


def _move_ids(booking_id: str, start: datetime, minutes: int) -> list[str]:
    """The ids a move of `booking_id` to `start` may use, in order (a withdrawn attempt moves on to the next)."""
    moment = start.astimezone(ZoneInfo("UTC")).isoformat()
    return ["b" + _digest("move", booking_id, moment, str(minutes), str(n))[:31] for n in range(_GENERATIONS)]


def _zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"Unknown time zone {name!r}.", fields={"timezone": "an IANA time zone such as Europe/Berlin"}
        ) from None

