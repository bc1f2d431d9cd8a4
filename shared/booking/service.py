"""The booking use cases: list calendars and slots, book, look up, cancel, reschedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..availability import Availability, BusyView, identity_for
from ..calendar_client import CalendarClient, Identity, Request, event_get_request
from ..config import CalendarConfig, Config, MeetingType
from ..errors import Conflict, NotFound, SlotUnavailable
from ..events import (
    P_CALENDAR,
    P_EMAIL,
    P_KEYED,
    P_REQUEST,
    Outcome,
    event_interval,
    is_booking,
    is_decided,
    pending_lapsed,
    pending_until,
    private_properties,
)
from ..logs import log
from ..slot_format import format_slots
from ..slots import Interval, free_slots
from ..tokens import BookingTokens
from . import confirm, rules
from .event import event_body, invitation_status, send_updates_for, uses_meet, view, with_links
from .ids import event_ids, keyed_digest, request_digest
from .model import BookingResult, BookingView, NewBooking
from .moves import Moves
from .parts import BookingParts, WithParts
from .protocol import Claims, ExistingBooking
from .repeats import already_booked, booked_elsewhere, replay
from .team_moves import move_collective
from .team_service import TeamBookings, collective_team
from .writes import cancel_once, write_booking

MAX_SLOTS_SPAN_DAYS = rules.MAX_SLOTS_SPAN_DAYS
_UTC = ZoneInfo("UTC")


class BookingService(WithParts):
    def __init__(
        self,
        config: Config,
        client: CalendarClient,
        availability: Availability,
        tokens: Callable[[], BookingTokens],
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(BookingParts(config, client, availability, tokens, now, Claims(config, client, now)))
        self._moves = Moves(self._parts)
        self._teams = TeamBookings(self._parts, self._team_free)

    # --- reading ----------------------------------------------------------------------------------------------
    def calendars(self) -> list[dict[str, Any]]:
        return [
            {
                "id": calendar.slug,
                "name": calendar.name,
                "timezone": calendar.timezone,
                "durations": list(self._config.durations_for(calendar)),
                "meetingTypes": [self._type_json(calendar, kind) for kind in calendar.meeting_types],
                "kind": "calendar",
            }
            for calendar in self._config.calendars
        ] + self._teams.entries()

    def _type_json(self, calendar: CalendarConfig, kind: MeetingType) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": kind.slug,
            "name": kind.name,
            "durations": list(self._config.durations_of(calendar, kind)),
            "meet": uses_meet(self._config, kind),
        }
        if kind.description:
            body["description"] = kind.description
        if kind.location:
            body["location"] = kind.location
        return body

    def calendar(self, slug: str) -> CalendarConfig:
        return rules.bookable_calendar(self._config, slug)

    def invitation_status(self, calendar: CalendarConfig, email: str) -> dict[str, Any]:
        return invitation_status(self._config, calendar, email)

    def slots(
        self, slug: str, first_day: date, last_day: date, duration: int, zone_name: str | None, *, live: bool = False
    ) -> dict[str, Any]:
        team = self._config.team_by_slug(slug)
        if team is not None:
            return self._teams.slots(team, first_day, last_day, duration, zone_name, live)
        calendar = self.calendar(slug)
        rules.check_duration(self._config, calendar, duration)
        zone = rules.zone_named(zone_name) if zone_name else calendar.zone
        rules.check_days(first_day, last_day)
        now = self._now()
        slots, busy_view = self.free_intervals(calendar, first_day, last_day, zone, duration, live=live)
        return {
            "calendar": slug,
            "timezone": str(zone.key),
            "duration": duration,
            "slots": format_slots(slots, zone),
            "source": busy_view.source if busy_view else "live",
            "asOf": (busy_view.as_of if busy_view else now).astimezone(_UTC).isoformat().replace("+00:00", "Z"),
        }

    def free_intervals(
        self, calendar: CalendarConfig, first_day: date, last_day: date, zone: ZoneInfo, duration: int, *,
        live: bool = False,
    ) -> tuple[list[Interval], BusyView | None]:
        """The calendar's free slots over the days [first_day, last_day] of `zone` (clipped to now and its
        horizon), from the snapshot when fresh, else live; the view they came from (None: nothing to ask)."""
        now = self._now()
        slot_rules = self._config.slot_rules(calendar.slug)
        window_start = max(datetime.combine(first_day, time(0), zone), now)
        window_end = min(datetime.combine(last_day + timedelta(days=1), time(0), zone), now + slot_rules.horizon)
        if window_start >= window_end:
            return [], None
        margin = (slot_rules.buffer_before + slot_rules.buffer_after + timedelta(minutes=duration)
                  + timedelta(days=1))
        busy_view = self._availability.view(calendar, window_start - margin, window_end + margin, live=live)
        slots = free_slots(
            slot_rules,
            window_start=window_start,
            window_end=window_end,
            duration=timedelta(minutes=duration),
            busy=busy_view.blocked(slot_rules),
            now=now,
            bookings_per_day=busy_view.bookings_per_day,
        )
        return slots, busy_view

    def _team_free(
        self, calendar: CalendarConfig, first_day: date, last_day: date, zone: ZoneInfo, duration: int, live: bool
    ) -> tuple[list[Interval], BusyView | None]:
        return self.free_intervals(calendar, first_day, last_day, zone, duration, live=live)

    # --- booking ----------------------------------------------------------------------------------------------
    def book(self, request: NewBooking, idempotency_key: str | None, client: str = "") -> BookingResult:
        """`client` names the caller (its address): an Idempotency-Key is scoped to it and to the whole body."""
        scope = self._key_scope(client)
        team = self._config.team_by_slug(request.calendar)
        if team is not None:
            return self._teams.book(team, request, idempotency_key, scope)
        calendar = self.calendar(request.calendar)
        zone = rules.zone_named(request.timezone) if request.timezone else calendar.zone
        kind = rules.meeting_type(self._config, calendar, request.type)
        rules.check_duration(self._config, calendar, request.duration, kind)
        start = request.start
        end = start + timedelta(minutes=request.duration)
        now = self._now()
        rules.check_rules(self._config, calendar, start, end, now)
        try:
            rules.refuse_known_taken(self._config, self._availability, calendar, start, end, now)
        except SlotUnavailable:
            earlier = self._earlier_answer(calendar, request, idempotency_key, scope, zone) if idempotency_key else None
            if earlier is None:
                self._refuse_repeat_from_elsewhere(calendar, request, idempotency_key, scope, zone)
                raise
            return earlier  # the slot is busy because this very request booked it before
        try:
            return self._book(calendar, request, idempotency_key, scope, zone, kind)
        except SlotUnavailable:
            self._refuse_repeat_from_elsewhere(calendar, request, idempotency_key, scope, zone)
            raise

    def _book(
        self, calendar: CalendarConfig, request: NewBooking, idempotency_key: str | None, scope: str, zone: ZoneInfo,
        kind: MeetingType | None,
    ) -> BookingResult:
        start = request.start
        end = start + timedelta(minutes=request.duration)
        identity = identity_for(calendar)
        send = send_updates_for(self._config, calendar, request.email)
        body = event_body(self._config, calendar, request, kind, start, end)
        until = confirm.deadline_for(self._config, calendar, request.email, self._now(), start)
        if until is not None:
            body = confirm.pending_body(body, until)
        if idempotency_key is not None:
            body["extendedProperties"]["private"][P_REQUEST] = request_digest(request, scope)
            body["extendedProperties"]["private"][P_KEYED] = keyed_digest(request, idempotency_key)
        for event_id in event_ids(calendar, request, idempotency_key, scope):
            extra: dict[str, Request] = {}
            if idempotency_key is not None:
                extra["existing"] = event_get_request(calendar.calendar_id, event_id)
            try:
                held, _ = self._claims.hold(calendar, identity, event_id, Interval(start, end), extra)
            except ExistingBooking as found:
                outcome = replay(self._parts, calendar, request, found.event, scope, zone)
                if outcome is None:
                    continue  # that id's attempt was aborted: take the next one
                return outcome
            full = with_links(self._config, calendar, {**body, "id": event_id}, self._tokens, until)
            event = write_booking(self._client, calendar, identity, full, held, send_updates=send,
                                  conference=uses_meet(self._config, None) or "conferenceData" in full,
                                  capped=bool(self._config.slot_rules(calendar.slug).max_per_day))
            if event is None:
                continue  # our own id was taken by an aborted attempt meanwhile
            self._availability.note_booking(calendar.slug, event_interval(event, calendar.zone), event["id"])
            log("booking pending" if until else "booking confirmed", calendar=calendar.slug, booking=event["id"],
                start=start.isoformat())
            return self._parts.result(calendar, event, zone, created=True)
        raise SlotUnavailable("This request was tried too often; send it again with a new Idempotency-Key.")

    def request_tag(self, request: NewBooking, idempotency_key: str | None, client: str) -> str | None:
        """What names this very request across its repeats (a digest of its body and key scope), or None
        without an Idempotency-Key (then nothing can be repeated): per-visitor limits count a repeat once."""
        if idempotency_key is None:
            return None
        return request_digest(request, self._key_scope(client))  # what the booking records as P_REQUEST

    def _key_scope(self, client: str) -> str:
        """What an Idempotency-Key is scoped to besides the calendar: the client, unless config says otherwise."""
        return client if self._config.booking.idempotency_per_client else ""

    def _refuse_repeat_from_elsewhere(
        self, calendar: CalendarConfig, request: NewBooking, key: str | None, scope: str, zone: ZoneInfo
    ) -> None:
        """On a 409: if this very request (key and whole body) was booked from another client, say so, with the
        booking described and its token withheld (shared/booking/repeats.py). Only with per-client keys: without,
        a repeat finds its booking by id and gets the token."""
        if key is None or not scope:
            return
        span = Interval(request.start, request.start + timedelta(minutes=request.duration))
        found = booked_elsewhere(self._client, self._claims, calendar, identity_for(calendar), request, key, span)
        if found is not None:
            log("booking repeated from another client", calendar=calendar.slug, booking=found["id"])
            raise already_booked(self._config, calendar, found, zone)

    def _earlier_answer(
        self, calendar: CalendarConfig, request: NewBooking, key: str, scope: str, zone: ZoneInfo
    ) -> BookingResult | None:
        """The booking an earlier request with this Idempotency-Key made, if there is one."""
        identity = identity_for(calendar)
        for event_id in event_ids(calendar, request, key, scope):
            try:
                existing = self._client.get_event(identity, calendar.calendar_id, event_id)
            except NotFound:
                return None
            outcome = replay(self._parts, calendar, request, existing, scope, zone)
            if outcome is not None:
                return outcome
        return None

    # --- the booking's own link ---------------------------------------------------------------------------------
    def get(self, booking_id: str, token: str | None) -> BookingView:
        calendar, identity = self._authorized(booking_id, token)
        event = self._moves.settled(calendar, identity, self._looked_at(calendar, identity, booking_id))
        return view(self._config, calendar, event)

    def confirm(self, booking_id: str, token: str | None) -> BookingView:
        """Confirm a pending booking with the confirmation token of its invitation (shared/booking/confirm.py):
        confirmed once, the same answer again; 410 `confirmation_expired` once its deadline passed."""
        slug = self._tokens().check_confirmation(token, booking_id)
        calendar = self._config.calendar_by_slug(slug)
        if calendar is None:
            raise NotFound("This booking's calendar is no longer bookable.")
        identity = identity_for(calendar)
        event = self._own_event(calendar, identity, booking_id)
        done = confirm.confirm(self._config, self._client, calendar, identity, event, self._now, self._tokens)
        return view(self._config, calendar, done)

    def _looked_at(self, calendar: CalendarConfig, identity: Identity, booking_id: str) -> dict[str, Any]:
        """The booking event, a pending one past its deadline expired first (anyone who looks settles it)."""
        event = self._own_event(calendar, identity, booking_id)
        if pending_lapsed(event, self._now()):
            event = confirm.expire(self._config, self._client, calendar, identity, event, self._now())
        return event

    def cancel(self, booking_id: str, token: str | None) -> BookingView:
        """Cancel (a conditional write, so a move committing at the same moment either wins or sees it); a
        booking cancelled or moved already gets the same answer again."""
        calendar, identity = self._authorized(booking_id, token)
        event = self._looked_at(calendar, identity, booking_id)
        send = send_updates_for(self._config, calendar, private_properties(event).get(P_EMAIL, ""))
        for _ in range(3):  # a move may mark it between the settling and the write: settle that one, then again
            event = self._moves.settled(calendar, identity, event, decide=True)
            result = cancel_once(self._client, calendar, identity, event, Outcome.CANCELLED, send_updates=send,
                                 unmarked_only=True)
            if result.wrote or is_decided(result.event):
                break
            event = result.event
        else:
            raise Conflict("The booking kept changing meanwhile; fetch it and try again.")
        if result.wrote:
            self._availability.forget_booking(calendar.slug, booking_id)
            log("booking cancelled", calendar=calendar.slug, booking=booking_id)
        return view(self._config, calendar, result.event)

    def reschedule(
        self, booking_id: str, token: str | None, start: datetime, duration: int | None, client: str = ""
    ) -> BookingResult:
        """Move a booking (`Moves.move`). Once the new booking exists, the old one is superseded whatever happens
        next: a repeat of the move, a later read of the old booking, or the sync's sweep finishes its
        cancellation, so the two never both count. A move that fails before the new booking is written leaves the
        booking where it was. The moved booking has a new id and token; the old points to it. Repeating the same
        move returns the same moved booking."""
        calendar, identity = self._authorized(booking_id, token)
        old = self._moves.settled(calendar, identity, self._looked_at(calendar, identity, booking_id))
        if pending_until(old) is not None:
            raise Conflict("Confirm this booking (the link in its invitation) before moving it.",
                           details={"status": "pending"})
        team = collective_team(self._config, old)
        if team is not None:  # the new time is held on every member
            return move_collective(self._parts, team, old, start, duration, client)
        return self._moves.move(calendar, identity, old, start, duration, client)

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
