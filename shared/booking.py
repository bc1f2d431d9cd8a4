"""Booking use cases: list calendars and slots, book, look up, cancel, reschedule, with no double booking.

Google Calendar is the only store. A booking is an event with a client-chosen id (from the `Idempotency-Key`, else
random) and private extended properties marking it. No two confirmed bookings overlap because each booking first
holds *claims* that Google itself makes unique (shared/claims.py), and is written only once it holds them all.

The protocol, and the Google behaviour each step rests on (REF = developers.google.com/workspace/calendar/api/v3/
reference, GUIDES = .../api/guides; the emulator follows the harsher reading where Google is silent, CALENDAR.md):

1. Rules (hours, grid, notice, horizon) without I/O; a fresh snapshot refuses a slot known to be taken (no call).
2. One batch (GUIDES/batch: one HTTP round trip): an `events.insert` per claim (one per wall-clock cell of the
   calendar's slot grid that [start, end + max(buffer before, after)) touches, plus, with a per-day cap, the day's
   tokens), an `events.list` of the calendar around the slot (the live check against meetings), and with a key the
   booking's own id (`events.get`, so a repeat is answered from it).
   - A claim id exists at most once per calendar: an insert with an existing id is `409 duplicate`
     (GUIDES/errors, "The requested identifier already exists"), whoever asks, whenever. So of two bookings that
     would come closer than their buffers, which always share a cell (claims.cells_for), at most one holds it.
   - A claim that exists is read (`events.get`, by id: immediate, unlike lists) and kept if this booking holds it,
     or taken over only if no holder still needs it: every holder's booking event is read by id; a holder is live
     if its booking is confirmed and still covers the cell, or if it does not exist yet and the hold is younger
     than `booking.claim_ttl_seconds`. The take-over is a conditional patch (`If-Match`: GUIDES/version-resources,
     412 when the claim changed), so of racing takers exactly one wins.
   - The live check reads the calendar's events: a meeting that blocks time within the buffers, or an older
     booking (padded), refuses the slot; an item that cannot be parsed counts as busy; claims never block. It does
     not have to see other bookings: claims settle bookings, whatever events.list or freeBusy lag behind (Google
     promises no read-after-write for them; the emulator's `read_lag_ms`).
3. The booking event is inserted (with Google's invitation: only a booking that won is ever written, so no loser
   is ever invited), and surplus day tokens are released, in one more batch. A `duplicate` on the booking's own id
   means our insert landed unanswered (retried), or this request's retry on another instance wrote it: either
   way it is the answer. Any other failure reads the id (by id: immediate): an event there stands (it was written
   holding all its claims) and is answered; none, and 503 is answered with nothing confirmed and the claims
   released. A booking is never withdrawn by a write: its id may have been written and answered 200 by the
   client's retry elsewhere meanwhile. Two attempts of one request share the booking id, so each re-writes a hold
   it finds under that id as its own attempt (`wcbAttempt`) before relying on it; releases are conditional
   (`If-Match`), so an attempt giving up never releases a hold another attempt relies on.

Why this holds without any one process surviving and without stamp order: the only decisions are Google's (who
inserted an id first; whose `If-Match` matched), and a claim is never deleted, so ids never become free again
(Google may forget deleted ids: "Such cancelled events will eventually disappear", REF/events `status`). A crash
before step 3 leaves claims whose booking does not exist: at worst capacity held for the TTL, then taken over by
the next booking or released by the sync's sweep (shared/sweep.py, `sync.sweep_claims`). A crash after step 3 leaves
a complete booking. The TTL must exceed the longest a request can live after taking its claims (the function
timeout; the client's retry deadline is 20 s): a writer past it could otherwise write a booking whose claim was
taken over. A 201 is never undone: nothing in the protocol cancels a booking that holds its claims, and a holder
is judged only by its own event (status and times), never by `created`/`updated`, which Google writes in whole
seconds and which an employee's edit changes. An employee restoring a cancelled booking from the trash revives its
claims only where nobody took them over; a booking holding them stands.

Cancel: a conditional cancel of the booking event; its claims are then free by the rule above (the sweep tidies
them). Move: the old booking is marked for one new id and the time the move began (a conditional patch, in the
first batch, so two moves cannot both proceed); cells the old booking holds are shared with the new one (`wcbAlso`)
instead of taken; the new booking is written; the old one is cancelled "moved" (conditional). A half-done move is
settled by one rule that anyone applies with the same verdict (`events.move_verdict`): once the new booking was
written and never withdrawn, the move happened and the old booking is cancelled as moved (by a repeat of the move,
by any look at either booking through get, cancel or reschedule, or by the sync's sweep); if the new booking was
withdrawn, or does not exist once the mark is older than the TTL, the old booking is unmarked and stands. A cancel or
another move that reaches the old booking before the new one exists wins: the new booking then gives up ("lost")
before anything was answered. So a failed commit write answers 200 (the move stands) and never leaves both
bookings counting: the old one keeps its time and claims only until the first look or the next sweep.

Liveness, not safety: two overlapping requests racing may each win some cells both need; a request yields at once to
a pending hold (booking not yet written) of a lower id and waits briefly for pending holds of higher ids to be
released, so such a pair normally ends with one booking, not none.

Cost (measured by `make bench`, "Google round trips" rows): a booking is two sequential Google calls on the happy
path (the day's first booking with a per-day cap, or any without one); a later booking on a day with a cap takes
over a released day token: three calls more (read the tokens, read their holders, one conditional write). A slot
the live check sees taken: one call; a claim found held while the live read lags: two or three calls more before
the 409.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import invitation
from .availability import Availability, BusyView, identity_for
from .calendar_client import CalendarClient, Identity
from .claims import (
    P_ALSO,
    P_ATTEMPT,
    P_HELD_AT,
    P_HOLDER,
    Cell,
    cells_for,
    claim_body,
    claim_id,
    day_tokens,
    digest,
    held_at,
    hold_properties,
    holder_is_live,
    holders,
    is_claim,
)
from .config import CalendarConfig, Config, MeetingType
from .errors import (
    AppError,
    Conflict,
    Gone,
    GoogleConflict,
    InvalidRequest,
    NotFound,
    SlotUnavailable,
    UpstreamUnavailable,
)
from .events import (
    MARKER,
    P_CALENDAR,
    P_EMAIL,
    P_INVITED,
    P_MOVE_CLIENT,
    P_MOVED_FROM,
    P_MOVED_TO,
    P_MOVING_AT,
    P_OUTCOME,
    P_REQUEST,
    P_VISITOR,
    blocks_time,
    event_interval,
    is_booking,
    is_decided,
    move_verdict,
    padded_booking,
    private_properties,
)
from .logs import log
from .slots import Interval, SlotProblem, SlotRules, check_slot, free_slots
from .tokens import BookingTokens
from .visitor_text import clean_block, clean_line, in_domains, visitor_digest

MAX_SLOTS_SPAN_DAYS = 62
_YIELD_PAUSES = (0.1, 0.2, 0.4)  # seconds a request waits for racing pending holds of higher ids to be released
_sleep = time_module.sleep
_GENERATIONS = 5
# Set (locally, never sent) on a hold re-written from another attempt of the same request: that attempt may be
# about to write the booking on it, so this one never releases it (the TTL or the sweep settles it).
_INHERITED = "wcb.inherited"


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
    type: str | None = None  # the meeting type's slug; None: the calendar's first (or the plain default)


@dataclass(frozen=True)
class BookingView:
    id: str
    calendar: str
    start: datetime
    end: datetime
    status: str
    meet_link: str | None = None
    moved_to: str | None = None
    invitation: dict[str, Any] | None = None  # where Google's invitation went: {"sent", "to"} or {"sent", "reason"}
    type: str | None = None  # the meeting type's slug

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
        if self.invitation is not None:
            body["invitation"] = self.invitation
        if self.type:
            body["type"] = self.type
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

    # --- reading ----------------------------------------------------------------------------------------------
    def calendars(self) -> list[dict[str, Any]]:
        return [
            {
                "id": calendar.slug,
                "name": calendar.name,
                "timezone": calendar.timezone,
                "durations": list(self._config.durations_for(calendar)),
                "meetingTypes": [self._type_json(calendar, kind) for kind in calendar.meeting_types],
            }
            for calendar in self._config.calendars
        ]

    def _type_json(self, calendar: CalendarConfig, kind: MeetingType) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": kind.slug,
            "name": kind.name,
            "durations": list(self._config.durations_of(calendar, kind)),
            "meet": self._meet(kind),
        }
        if kind.description:
            body["description"] = kind.description
        if kind.location:
            body["location"] = kind.location
        return body

    def _meet(self, kind: MeetingType | None) -> bool:
        return kind.meet if kind is not None and kind.meet is not None else self._config.booking.add_meet_link

    def _kind(self, calendar: CalendarConfig, slug: str | None) -> MeetingType | None:
        kind = self._config.meeting_type(calendar, slug)
        if slug is not None and kind is None:
            known = [k.slug for k in calendar.meeting_types]
            raise InvalidRequest(
                f"Calendar {calendar.slug!r} has no meeting type {slug!r}"
                + (f"; it offers: {', '.join(known)}." if known else "; it has none (leave `type` out)."),
                fields={"type": f"one of {known}" if known else "absent"},
            )
        return kind

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
        calendar = self.calendar(request.calendar)
        if request.timezone:
            _zone(request.timezone)
        self._check_duration(calendar, request.duration, self._kind(calendar, request.type))
        start = request.start
        end = start + timedelta(minutes=request.duration)
        self._check_rules(calendar, start, end)
        try:
            self._precheck(calendar, start, end)
        except SlotUnavailable:
            earlier = self._earlier_answer(calendar, request, idempotency_key, scope) if idempotency_key else None
            if earlier is None:
                raise
            return earlier  # the slot is busy because this very request booked it before
        identity = identity_for(calendar)
        send = self._send_updates(calendar, request.email)
        body = self._event_body(calendar, request, start, end)
        if idempotency_key is not None:
            body["extendedProperties"]["private"][P_REQUEST] = _request_digest(request, scope)
        for event_id in _event_ids(calendar, request, idempotency_key, scope):
            extra: dict[str, Callable[[Any], Any]] = {}
            if idempotency_key is not None:
                extra["existing"] = _get_request(calendar.calendar_id, event_id)
            try:
                held, extras = self._acquire(calendar, identity, event_id, Interval(start, end), extra)
            except _Existing as found:
                outcome = self._replay(calendar, request, found.event, scope)
                if outcome is None:
                    continue  # that id's attempt was aborted: take the next one
                return outcome
            event = self._write_booking(
                calendar, identity, self._with_links(calendar, {**body, "id": event_id}), held, send_updates=send,
                extras=extras,
            )
            if event is None:
                continue  # our own id was taken by an aborted attempt meanwhile
            self._availability.note_booking(calendar.slug, event_interval(event, calendar.zone), event["id"])
            log("booking confirmed", calendar=calendar.slug, booking=event["id"], start=start.isoformat())
            return BookingResult(self._view(calendar, event), self._tokens().issue(event["id"], calendar.slug), True)
        raise SlotUnavailable("This request was tried too often; send it again with a new Idempotency-Key.")

    def request_tag(self, request: NewBooking, idempotency_key: str | None, client: str) -> str | None:
        """What names this very request across its repeats (a digest of its body and key scope), or None
        without an Idempotency-Key (then nothing can be repeated): per-visitor limits count a repeat once."""
        if idempotency_key is None:
            return None
        return _request_digest(request, self._key_scope(client))  # what the booking records as P_REQUEST

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
        """The answer to a repeated request (same Idempotency-Key, same client): the same booking as it stands now,
        a 409, or None when the earlier attempt was aborted and the next id should be tried. A booking event exists
        only once it held all its claims, so it is the answer whatever happened since. The booking's token is
        handed back only for the very same request: every field of the body, from the same client (`scope`)."""
        props = private_properties(existing)
        same = is_booking(existing) and hmac.compare_digest(
            props.get(P_REQUEST, ""), _request_digest(request, scope)
        )
        if not same:
            raise Conflict(
                "This Idempotency-Key was already used for a different booking; use a new key.",
                details={"idempotencyKey": "reused"},
            )
        if props.get(P_OUTCOME) == "aborted":
            return None
        return BookingResult(self._view(calendar, existing), self._tokens().issue(existing["id"], calendar.slug), False)

    # --- claims -------------------------------------------------------------------------------------------------
    def _needs(self, calendar: CalendarConfig, span: Interval) -> tuple[list[Cell], list[Cell]]:
        """The cells a booking over `span` holds, and its day's tokens when there is a per-day cap."""
        rules = self._config.slot_rules(calendar.slug)
        gap = max(rules.buffer_before, rules.buffer_after)
        cells = cells_for(span, gap, calendar.zone, rules.step)
        day = span.start.astimezone(calendar.zone).date()
        tokens = day_tokens(day, rules.max_per_day, calendar.zone) if rules.max_per_day else []
        return cells, tokens

    def _keys_of(self, calendar: CalendarConfig) -> Callable[[dict[str, Any]], set[str]]:
        def keys(event: dict[str, Any]) -> set[str]:
            cells, tokens = self._needs(calendar, event_interval(event, calendar.zone))
            return {cell.key for cell in cells} | {token.key for token in tokens}

        return keys

    def _acquire(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        holder: str,
        span: Interval,
        extra: dict[str, Callable[[Any], Any]],
        *,
        carry_from: str | None = None,
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Hold every cell of `span` (and one day token) for `holder`; the live check of the calendar rides along.

        One batch: an insert per claim, the events of the span's surroundings, and `extra` parts. A claim that
        already exists is read and taken over only if nobody live holds it (`_take_over`). On a conflict every
        claim taken here is released and 409 raised. Returns the claims held (by key) and the `extra` answers.
        `carry_from`: the booking a move replaces; its cells are shared with it rather than taken from it."""
        cells, tokens = self._needs(calendar, span)
        now = self._now()
        attempt = secrets.token_hex(6)
        claims_calendar = calendar.claims_calendar_id
        rules = self._config.slot_rules(calendar.slug)
        gap = max(rules.buffer_before, rules.buffer_after)
        window = Interval(span.start - gap - timedelta(minutes=1), span.end + gap + timedelta(minutes=1))
        wanted = cells + tokens
        parts: dict[str, Callable[[Any], Any]] = {
            f"claim{n}": _insert_request(
                claims_calendar, claim_body(calendar.calendar_id, calendar.slug, cell, holder, now, attempt)
            )
            for n, cell in enumerate(wanted)
        }
        parts["live"] = _list_request(calendar.calendar_id, window)
        parts.update(extra)
        answers = self._client.batch(identity, parts)
        extras = {name: answers.get(name) for name in extra}
        fresh = {cell.key: answers[f"claim{n}"] for n, cell in enumerate(wanted)
                 if isinstance(answers.get(f"claim{n}"), dict)}
        existing = extras.get("existing")
        if isinstance(existing, dict):
            self._release(calendar, identity, fresh, holder)  # inserted here, for a booking that exists already
            raise _Existing(existing)
        mark = extras.get("mark", {})
        if not isinstance(mark, dict):  # a move whose mark failed touches no claim it did not insert itself
            self._release(calendar, identity, fresh, holder)
            if isinstance(mark, GoogleConflict):
                raise Conflict("The booking changed meanwhile; fetch it and try again.")
            raise mark if isinstance(mark, AppError) else UpstreamUnavailable("Google did not answer.")
        held: dict[str, dict[str, Any]] = {}
        contested: list[Cell] = []
        for n, cell in enumerate(wanted):
            answer = answers.get(f"claim{n}")
            if isinstance(answer, dict):
                held[cell.key] = answer
            elif isinstance(answer, GoogleConflict) or (isinstance(answer, AppError) and not isinstance(
                answer, InvalidRequest | NotFound
            )):
                contested.append(cell)  # taken, or unknown whether our insert landed: read it
            else:
                self._release(calendar, identity, held, holder)
                raise answer if isinstance(answer, AppError) else UpstreamUnavailable("Google did not answer.")
        if any(token.key in held for token in tokens):
            contested = [cell for cell in contested if cell not in tokens]  # one day token is all it needs
        try:
            live = answers.get("live")
            if not isinstance(live, dict):
                raise live if isinstance(live, AppError) else UpstreamUnavailable("Google did not answer.")
            problem = _live_problem(list(live.get("items", [])), span, rules, calendar.zone, {holder, carry_from})
            if problem is not None:
                raise SlotUnavailable(problem.message, details={"reason": problem.value})
            for _ in range(3):
                if contested:
                    self._take_over(calendar, identity, holder, contested, held, now, attempt, carry_from=carry_from)
                if any(cell.key not in held for cell in cells) or not tokens or any(t.key in held for t in tokens):
                    break
                contested = list(tokens)  # each taker takes one free token: another may have won ours; read again
            missing = [cell.key for cell in cells if cell.key not in held]
            if missing or (tokens and not any(token.key in held for token in tokens)):
                reason = SlotProblem.DAY_FULL if not missing else SlotProblem.BUSY
                raise SlotUnavailable(reason.message, details={"reason": reason.value})
        except AppError:
            self._release(calendar, identity, held, holder)
            raise
        return held, extras

    def _take_over(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        holder: str,
        contested: list[Cell],
        held: dict[str, dict[str, Any]],
        now: datetime,
        attempt: str,
        *,
        carry_from: str | None,
    ) -> None:
        """Read the claims that exist already; keep those `holder` holds, share those `carry_from` holds, and take
        over those nobody live holds, each by a conditional write (`If-Match`: of two writers one wins, the
        other gets 412). A cell held by a live booking stays its: the caller then answers 409."""
        claims_calendar = calendar.claims_calendar_id
        read = self._client.batch(
            identity, {f"read{n}": _get_request(claims_calendar, claim_id(calendar.calendar_id, cell.key))
                       for n, cell in enumerate(contested)}
        )
        claims: dict[str, dict[str, Any]] = {}
        mine: dict[str, dict[str, Any]] = {}
        for n, cell in enumerate(contested):
            answer = read.get(f"read{n}")
            if isinstance(answer, NotFound):
                raise UpstreamUnavailable("A claim was neither created nor found; try again.")
            if not isinstance(answer, dict):
                raise answer if isinstance(answer, AppError) else UpstreamUnavailable("Google did not answer.")
            if holder in holders(answer) and private_properties(answer).get(P_ATTEMPT) == attempt:
                held[cell.key] = answer  # our own insert, answered late
            elif holder in holders(answer):
                mine[cell.key] = answer  # another attempt of this very request holds it: make the hold ours
            else:
                claims[cell.key] = answer
        found = self._holders_of(calendar, identity, claims, carry_from)
        ttl = timedelta(seconds=self._config.booking.claim_ttl_seconds)
        keys_of = self._keys_of(calendar)
        # Two overlapping requests racing may each win some of the cells both need, and each see the other's hold
        # as live: both would lose. Tie-break by id: a request yields at once to a pending hold (its booking not
        # written yet) of a lower id, and waits briefly for pending holds of higher ids to be released (they yield
        # to it). Only liveness: safety rests on the claims alone.
        for pause in _YIELD_PAUSES:
            waiting = {
                key: claim for key, claim in claims.items()
                if (live := [h for h in holders(claim) if h != carry_from
                             and holder_is_live(claim, found.get(h), now=now, ttl=ttl, key=key, keys_of=keys_of)])
                and all(found.get(h) is None and h > holder for h in live)
            }
            if not waiting:
                break
            _sleep(pause)
            reread = self._client.batch(
                identity, {key: _get_request(claims_calendar, claim["id"]) for key, claim in waiting.items()}
            )
            for key in waiting:
                answer = reread.get(key)
                if isinstance(answer, dict):
                    claims[key] = answer
            found.update(self._holders_of(calendar, identity, claims, carry_from, known=found))
        ttl = timedelta(seconds=self._config.booking.claim_ttl_seconds)
        keys_of = self._keys_of(calendar)
        writes: dict[str, Callable[[Any], Any]] = {}
        written: dict[str, str] = {}
        token_held = any(_is_day_token(key) for key in held) or any(_is_day_token(key) for key in mine)
        free_tokens: list[str] = []
        for key, claim in claims.items():
            names = holders(claim)
            live = [
                h for h in names
                if h != carry_from and holder_is_live(claim, found.get(h), now=now, ttl=ttl, key=key, keys_of=keys_of)
            ]
            if live:
                continue
            carried = carry_from if carry_from is not None and carry_from in names else None
            if _is_day_token(key) and carried is None:
                free_tokens.append(key)  # one is all a booking needs: chosen below, so racing takers spread out
                continue
            if carried is not None and _is_day_token(key):
                token_held = True
            if carried is not None:
                props = hold_properties(calendar.slug, key, carried, held_at(claim) or now, also=holder,
                                        attempt=attempt)
            else:
                props = hold_properties(calendar.slug, key, holder, now, attempt=attempt)
            written[f"take{len(written)}"] = key
            writes[f"take{len(writes)}"] = _patch_request(
                claims_calendar, claim["id"], {"status": "confirmed", "extendedProperties": {"private": props}},
                claim.get("etag"),
            )
        if free_tokens and not token_held:
            key = min(free_tokens, key=lambda k: digest("token", holder, k))
            claim = claims[key]
            written[f"take{len(written)}"] = key
            writes[f"take{len(writes)}"] = _patch_request(
                claims_calendar, claim["id"],
                {"status": "confirmed",
                 "extendedProperties": {"private": hold_properties(calendar.slug, key, holder, now, attempt=attempt)}},
                claim.get("etag"),
            )
        for key, claim in mine.items():
            written[f"take{len(written)}"] = key
            writes[f"take{len(writes)}"] = _patch_request(
                claims_calendar, claim["id"],
                {"status": "confirmed", "extendedProperties": {"private": {
                    P_ATTEMPT: attempt, P_HELD_AT: now.astimezone(UTC).isoformat(),
                }}},
                claim.get("etag"),
            )
        if writes:
            results = self._client.batch(identity, writes)
            for name, key in written.items():
                answer = results.get(name)
                if isinstance(answer, dict):
                    held[key] = {**answer, _INHERITED: True} if key in mine else answer
                elif isinstance(answer, AppError) and not isinstance(answer, GoogleConflict):
                    raise answer  # a 412 just means another booking won the cell

    def _holders_of(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        claims: dict[str, dict[str, Any]],
        carry_from: str | None,
        known: dict[str, dict[str, Any] | None] | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """The booking events holding `claims` (None: not written), read by id in one batch; `known` not again
        unless they were pending."""
        known = known or {}
        others = sorted({h for claim in claims.values() for h in holders(claim)
                         if h != carry_from and (h not in known or known[h] is None)})
        found: dict[str, dict[str, Any] | None] = {}
        if not others:
            return found
        answers = self._client.batch(identity, {h: _get_request(calendar.calendar_id, h) for h in others})
        for booking_id in others:
            answer = answers.get(booking_id)
            if isinstance(answer, NotFound):
                found[booking_id] = None
            elif isinstance(answer, dict):
                found[booking_id] = answer
            else:
                raise answer if isinstance(answer, AppError) else UpstreamUnavailable("Google did not answer.")
        return found

    def _release(
        self, calendar: CalendarConfig, identity: Identity, held: dict[str, dict[str, Any]], holder: str
    ) -> None:
        """Give claims back (best effort: a claim whose holders are all gone is free anyway, see `_take_over`)."""
        if not held:
            return
        claims_calendar = calendar.claims_calendar_id
        writes: dict[str, Callable[[Any], Any]] = {}
        for claim in held.values():
            if claim.get(_INHERITED):
                continue
            props = private_properties(claim)
            if props.get(P_ALSO) == holder:
                change = {P_ALSO: ""}
            elif props.get(P_HOLDER) == holder:
                change = {P_HOLDER: "", P_ALSO: props.get(P_ALSO, "")}
            else:
                continue
            writes[f"release{len(writes)}"] = _patch_request(
                claims_calendar, claim["id"], {"extendedProperties": {"private": change}}, claim.get("etag")
            )
        if not writes:
            return
        try:
            self._client.batch(identity, writes)
        except AppError as error:
            log("claims not released", severity="WARNING", calendar=calendar.slug, detail=error.message)

    def _write_booking(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        body: dict[str, Any],
        held: dict[str, dict[str, Any]],
        *,
        send_updates: str,
        extras: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Insert the booking once all its claims are held (surplus day tokens go back in the same round trip).

        If Google fails the insert, the id is read: an event there is the booking (this attempt's insert that landed
        unanswered, or this request's retry elsewhere), and answered; none, and the error is answered with nothing
        confirmed and its claims released (conditionally: a retry of the same request on another instance re-writes
        the holds it relies on, `claims.hold_properties`)."""
        event_id = body["id"]
        rules = self._config.slot_rules(calendar.slug)
        tokens = sorted(key for key in held if "/day" in key)
        surplus = {key: held[key] for key in tokens[1:]} if rules.max_per_day else {}
        parts: dict[str, Callable[[Any], Any]] = {
            "booking": _insert_request(
                calendar.calendar_id, body, send_updates=send_updates,
                conference=self._config.booking.add_meet_link or "conferenceData" in body,
            )
        }
        claims_calendar = calendar.claims_calendar_id
        for n, claim in enumerate(c for c in surplus.values() if not c.get(_INHERITED)):
            props = private_properties(claim)
            change = {P_ALSO: ""} if props.get(P_ALSO) == event_id else {P_HOLDER: "", P_ALSO: props.get(P_ALSO, "")}
            parts[f"release{n}"] = _patch_request(
                claims_calendar, claim["id"], {"extendedProperties": {"private": change}}, claim.get("etag")
            )
        answer: Any
        try:
            answer = self._client.batch(identity, parts).get("booking")
        except AppError as failure:
            answer = failure
        if isinstance(answer, dict):
            return answer
        if isinstance(answer, GoogleConflict) and answer.reason == "duplicate":
            existing = self._client.get_event(identity, calendar.calendar_id, event_id)
            if private_properties(existing).get(P_OUTCOME) == "aborted":
                return None
            _same_request(existing, body)
            return existing  # our own insert, answered late: it landed
        failed = answer if isinstance(answer, AppError) else UpstreamUnavailable("Google did not answer.")
        # Unknown whether the insert landed: read the id. The booking is never withdrawn by a write: the same id
        # may be written by this request's retry on another instance, answered 200 meanwhile (a write here would
        # undo it). An event with the id holds all its claims, so it stands: it is this request's answer.
        try:
            existing = self._client.get_event(identity, calendar.calendar_id, event_id)
        except NotFound:
            self._release(calendar, identity, held, event_id)  # by etag: not a hold another attempt re-wrote
            raise failed from None
        except AppError:
            raise failed from None  # the claims stay held (at most for the TTL); a late insert still holds them
        if private_properties(existing).get(P_OUTCOME) == "aborted":
            return None
        _same_request(existing, body)
        return existing

    def _cancel_once(
        self, calendar: CalendarConfig, identity: Identity, event: dict[str, Any], outcome: str, *, send_updates: str
    ) -> tuple[dict[str, Any], bool]:
        """Cancel `event` marked `outcome`, in one conditional write; (the event as it ends, whether we wrote).
        A write that finds the event changed re-reads it, and stops if it was cancelled meanwhile."""
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
        event = self._settled(calendar, identity, self._own_event(calendar, identity, booking_id))
        return self._view(calendar, event), calendar

    def _settled(self, calendar: CalendarConfig, identity: Identity, event: dict[str, Any]) -> dict[str, Any]:
        """`event` after settling a half-done move it is part of (`events.move_verdict`, the sweep's rule): the old
        booking of a move whose new booking stood is cancelled as moved, one whose new booking never stood is
        unmarked. Best effort: if Google fails the write, the sweep settles it (the old booking keeps its time and
        its claims meanwhile, so nothing can overlap either)."""
        props = private_properties(event)
        try:
            if props.get(P_MOVED_FROM) and not is_decided(event):
                old = self._find(identity, calendar.calendar_id, props[P_MOVED_FROM])
                if old is not None and private_properties(old).get(P_MOVED_TO) == event["id"]:
                    settle_move(self._client, calendar, identity, old, event, now=self._now(),
                                ttl=timedelta(seconds=self._config.booking.claim_ttl_seconds),
                                send_updates=self._send_updates(calendar, props.get(P_EMAIL, "")))
                return event
            if props.get(P_MOVED_TO) and not is_decided(event):
                new = self._find(identity, calendar.calendar_id, props[P_MOVED_TO])
                return settle_move(self._client, calendar, identity, event, new, now=self._now(),
                                   ttl=timedelta(seconds=self._config.booking.claim_ttl_seconds),
                                   send_updates=self._send_updates(calendar, props.get(P_EMAIL, "")))
        except AppError as error:
            log("move not settled", severity="WARNING", calendar=calendar.slug, booking=event.get("id"),
                detail=error.message)
        return event

    def cancel(self, booking_id: str, token: str | None) -> tuple[BookingView, CalendarConfig]:
        """Cancel (a conditional write, so a move committing at the same moment either wins or sees it); a
        booking cancelled or moved already gets the same answer again."""
        calendar, identity = self._authorized(booking_id, token)
        event = self._settled(calendar, identity, self._own_event(calendar, identity, booking_id))
        send = self._send_updates(calendar, private_properties(event).get(P_EMAIL, ""))
        event, written = self._cancel_once(calendar, identity, event, "cancelled", send_updates=send)
        if written:
            self._availability.forget_booking(calendar.slug, booking_id)
            log("booking cancelled", calendar=calendar.slug, booking=booking_id)
        return self._view(calendar, event), calendar

    def reschedule(
        self, booking_id: str, token: str | None, start: datetime, duration: int | None, client: str = ""
    ) -> tuple[BookingResult, CalendarConfig]:
        """Move a booking: mark the old one as being moved to one new id (a conditional write, so two different
        moves cannot both proceed), hold the new time's cells (sharing those the old booking holds), write the
        new booking, then cancel the old one marked "moved". Once the new booking exists, the old one is
        superseded whatever happens next: a repeat of the move, a later read of the old booking, or the sync's
        sweep finishes its cancellation, so the two never both count. A move that fails before the new booking
        is written leaves the booking where it was. The moved booking has a new id and token; the old points
        to it. Repeating the same move returns the same moved booking."""
        calendar, identity = self._authorized(booking_id, token)
        old = self._settled(calendar, identity, self._own_event(calendar, identity, booking_id))
        props = private_properties(old)
        span = event_interval(old, calendar.zone)
        minutes = duration if duration is not None else int((span.end - span.start).total_seconds() // 60)
        self._check_duration(calendar, minutes, self._config.meeting_type(calendar, props.get(invitation.P_TYPE)))
        end = start + timedelta(minutes=minutes)
        candidates = _move_ids(booking_id, start, minutes)
        pending = props.get(P_MOVED_TO)
        if is_decided(old):
            if props.get(P_OUTCOME) == "moved" and pending in candidates:
                done = self._client.get_event(identity, calendar.calendar_id, str(pending))
                _check_mover(done, client)
                token_for_done = self._tokens().issue(done["id"], calendar.slug)
                return BookingResult(self._view(calendar, done), token_for_done, False), calendar  # moved already
            if props.get(P_OUTCOME) == "moved":
                raise Conflict("This booking was moved; use the moved booking's link.",
                               details={"movedTo": pending})
            raise Conflict("This booking is cancelled; book a new slot instead.", details={"status": "cancelled"})
        if (start, end) == (span.start, span.end):
            result = BookingResult(self._view(calendar, old), self._tokens().issue(booking_id, calendar.slug), False)
            return result, calendar
        self._check_rules(calendar, start, end)
        send = self._send_updates(calendar, props.get(P_EMAIL, ""))
        if pending:
            other = self._find(identity, calendar.calendar_id, pending)
            if other is not None and other.get("status") != "cancelled":
                if pending in candidates:  # this very move, written already: finish it
                    _check_mover(other, client)
                    self._commit_move(calendar, identity, old, other, send_updates=send)
                    return self._moved_result(calendar, booking_id, other), calendar
                raise Conflict("This booking is being moved already.", details={"movedTo": pending})
        body: dict[str, Any] = {
            key: old[key]
            for key in ("summary", "description", "attendees", "transparency", "guestsCanInviteOthers",
                        "guestsCanSeeOtherGuests", "location", "visibility")
            if key in old
        }
        body["description"] = invitation.rescheduled(str(old.get("description", "")), span.start.astimezone(
            calendar.zone), calendar.timezone)
        kept = {k: v for k, v in props.items() if k not in (P_MOVED_TO, P_OUTCOME, P_INVITED)}
        kept.pop(P_REQUEST, None)
        body["extendedProperties"] = {"private": {**kept, P_MOVED_FROM: booking_id,
                                                  P_MOVE_CLIENT: _digest("client", client)}}
        body.update(_times(calendar, start, end))
        for new_id in candidates:
            extra = {
                "mark": _patch_request(
                    calendar.calendar_id, booking_id,
                    {"extendedProperties": {"private": {
                        P_MOVED_TO: new_id, P_MOVING_AT: self._now().astimezone(UTC).isoformat(),
                    }}},
                    old.get("etag"),
                ),
                "existing": _get_request(calendar.calendar_id, new_id),
            }
            try:
                held, extras = self._acquire(
                    calendar, identity, new_id, Interval(start, end), extra, carry_from=booking_id
                )
            except _Existing as found:
                if found.event.get("status") == "cancelled":
                    continue  # an earlier attempt at this move was withdrawn: take the next id
                _check_mover(found.event, client)
                marked = self._client.get_event(identity, calendar.calendar_id, booking_id)
                self._commit_move(calendar, identity, marked, found.event, send_updates=send)
                return self._moved_result(calendar, booking_id, found.event), calendar
            mark = extras.get("mark")
            if not isinstance(mark, dict):
                self._release(calendar, identity, held, new_id)
                if isinstance(mark, GoogleConflict):
                    raise Conflict("The booking changed meanwhile; fetch it and try again.")
                raise mark if isinstance(mark, AppError) else UpstreamUnavailable("Google did not answer.")
            moved = self._write_booking(calendar, identity, self._with_links(calendar, {**body, "id": new_id}), held,
                                        send_updates="none", extras=extras)
            if moved is None:
                continue
            self._commit_move(calendar, identity, mark, moved, send_updates=send)
            return self._moved_result(calendar, booking_id, moved), calendar
        raise SlotUnavailable("This move was tried too often; pick another time.", details={"reason": "busy"})

    def _moved_result(self, calendar: CalendarConfig, old_id: str, moved: dict[str, Any]) -> BookingResult:
        self._availability.forget_booking(calendar.slug, old_id)
        self._availability.note_booking(calendar.slug, event_interval(moved, calendar.zone), moved["id"])
        log("booking moved", calendar=calendar.slug, booking=moved["id"], replaces=old_id)
        return BookingResult(self._view(calendar, moved), self._tokens().issue(moved["id"], calendar.slug), False)

    def _find(self, identity: Identity, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        try:
            return self._client.get_event(identity, calendar_id, event_id)
        except NotFound:
            return None

    def _commit_move(
        self, calendar: CalendarConfig, identity: Identity, marked: dict[str, Any], moved: dict[str, Any], *,
        send_updates: str,
    ) -> None:
        """Cancel the old booking as moved, only while it is still marked for `moved` (a conditional write).

        If the old booking was cancelled or marked for another move meanwhile, `moved` gives its time up (it was
        never answered). If Google fails the write, `moved` stands: it exists and the old booking names it, which
        makes the old one superseded (`superseded_by`); the next look at it, or the sweep, cancels it."""
        current = marked
        for _ in range(3):
            props = private_properties(current)
            if props.get(P_MOVED_TO) != moved["id"] or (
                current.get("status") == "cancelled" and props.get(P_OUTCOME) != "moved"
            ):
                break  # cancelled, or marked for another move, meanwhile
            if current.get("status") == "cancelled":
                return  # the same move, committed by a repeat of this request
            try:
                self._client.patch_event(
                    identity, calendar.calendar_id, current["id"],
                    {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: "moved"}}},
                    send_updates=send_updates, etag=current.get("etag"),
                )
                if send_updates == "all":  # the visitor hears of the new time only once it is theirs
                    self._announce(calendar, identity, moved)
                return
            except (GoogleConflict, Gone):
                current = self._client.get_event(identity, calendar.calendar_id, current["id"])
            except AppError as error:
                log("move left for the sweep", severity="WARNING", calendar=calendar.slug, booking=moved["id"],
                    replaces=current["id"], detail=error.message)
                return
        self._cancel_once(calendar, identity, moved, "lost", send_updates="none")
        raise Conflict("The booking was cancelled or changed meanwhile; fetch it and try again.")

    def _announce(self, calendar: CalendarConfig, identity: Identity, moved: dict[str, Any]) -> None:
        """Invite the visitor to the moved booking (best effort: the booking stands either way)."""
        try:
            self._client.patch_event(
                identity, calendar.calendar_id, moved["id"],
                {"extendedProperties": {"private": {P_INVITED: "1"}}}, send_updates="all", etag=moved.get("etag"),
            )
        except AppError as error:
            log("invitation not sent", severity="WARNING", calendar=calendar.slug, booking=moved["id"],
                detail=error.message)

    # --- rules and shapes ---------------------------------------------------------------------------------------
    def _check_duration(self, calendar: CalendarConfig, duration: int, kind: MeetingType | None = None) -> None:
        allowed = self._config.durations_of(calendar, kind)
        if duration not in allowed:
            what = f"Meeting type {kind.slug!r}" if kind is not None else f"Calendar {calendar.slug!r}"
            raise InvalidRequest(
                f"{what} offers durations {list(allowed)} (minutes).",
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
        view = self._availability.fresh_snapshot(calendar.slug, *window)
        if view is None:
            return False  # no snapshot: the live check rides along with the claims (`_acquire`)

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
        return send_updates_for(self._config, calendar, email)

    def _invites(self, calendar: CalendarConfig, email: str) -> bool:
        return invites(self._config, calendar, email)

    def _with_links(self, calendar: CalendarConfig, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with the manage links of its id (their token is this booking's, so a move gets new ones)."""
        return invitation.with_links(body, self._config.booking.manage_url, body["id"],
                                     lambda: self._tokens().issue(body["id"], calendar.slug))

    def invitation_status(self, calendar: CalendarConfig, email: str) -> dict[str, Any]:
        """Where Google's invitation for a booking by `email` goes: `{"sent": true, "to"}`, or why it does not."""
        if self._invites(calendar, email):
            return {"sent": True, "to": email}
        if not self._config.booking.invite_visitor:
            reason = "disabled"
        elif calendar.mode == "direct":
            reason = "calendar_cannot_invite"
        elif not email:
            reason = "no_email"
        else:
            reason = "company_domain"  # what `invites` refuses besides the above, however it matches domains
        return {"sent": False, "to": email, "reason": reason}

    def _event_body(
        self, calendar: CalendarConfig, request: NewBooking, start: datetime, end: datetime
    ) -> dict[str, Any]:
        name = clean_text(request.name, 100)
        kind = self._kind(calendar, request.type)
        text = invitation.compose(
            title_template=self._config.booking.title_template,
            description_template=self._config.booking.description_template,
            company=self._config.booking.company_name,
            employee=calendar.name,
            meeting_type=kind.name if kind else invitation.default_type_name(request.duration),
            visitor=name,
            duration=request.duration,
        )
        lines = [
            text.intro,
            *([kind.description, ""] if kind and kind.description else [""]),
            f"Name: {name}",
            f"Email: {clean_text(request.email, 254)}",
        ]
        if request.timezone:
            lines.append(f"Visitor's time zone: {clean_text(request.timezone, 64)}")
        if request.notes:
            lines += ["", "Notes:", clean_text(request.notes, 1000, multiline=True)]
        body: dict[str, Any] = {
            "summary": text.title,
            "description": invitation.description(lines),
            **_times(calendar, start, end),
            "transparency": "opaque",
            "visibility": "private",  # calendar readers see busy time only, not the manage links (invitation.py)
            "guestsCanInviteOthers": False,
            "guestsCanSeeOtherGuests": False,
            "extendedProperties": {
                "private": {MARKER: "1", P_CALENDAR: calendar.slug, P_EMAIL: request.email.lower(),
                            P_VISITOR: visitor_digest(request.email),
                            **({invitation.P_TYPE: kind.slug} if kind else {})}
            },
        }
        if kind and kind.location:
            body["location"] = kind.location
        if self._invites(calendar, request.email):
            body["attendees"] = [{"email": request.email, "displayName": name}]
        if self._meet(kind):
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
        props = private_properties(event)
        moved_to = props.get(P_MOVED_TO) if cancelled and props.get(P_OUTCOME) == "moved" else None
        status = "cancelled" if cancelled else "confirmed"
        sent = self.invitation_status(calendar, props[P_EMAIL]) if props.get(P_EMAIL) else None
        return BookingView(event["id"], calendar.slug, span.start, span.end, status, meet, moved_to or None, sent,
                           props.get(invitation.P_TYPE) or None)


def invites(config: Config, calendar: CalendarConfig, email: str) -> bool:
    """Whether Google invites the visitor `email` to bookings of `calendar`."""
    return (
        config.booking.invite_visitor
        and calendar.mode != "direct"  # Google refuses attendees from a service account acting as itself
        and bool(email)
        and not in_domains(email, config.booking.company_domains)
    )


def send_updates_for(config: Config, calendar: CalendarConfig, email: str) -> str:
    return "all" if invites(config, calendar, email) else "none"


def settle_move(
    client: CalendarClient,
    calendar: CalendarConfig,
    identity: Identity,
    old: dict[str, Any],
    new: dict[str, Any] | None,
    *,
    now: datetime,
    ttl: timedelta,
    send_updates: str = "none",
) -> dict[str, Any]:
    """Apply `move_verdict` to a booking marked for a move and the event it names; the old booking as it ends.

    Each write is conditional on the old booking's etag (a 412 means someone else settled or changed it: read it
    again next time). Finishing a move also sends the visitor the moved booking's invitation, as a move that
    commits does (`send_updates`, best effort). Used by bookings (a look at either booking) and by the sync's
    sweep."""
    verdict = move_verdict(old, new, now=now, ttl=ttl)
    if verdict == "finish":
        change: dict[str, Any] = {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: "moved"}}}
    elif verdict == "unmark":
        change = {"extendedProperties": {"private": {P_MOVED_TO: "", P_MOVING_AT: ""}}}
    else:
        return old
    try:
        written = client.patch_event(identity, calendar.calendar_id, old["id"], change, etag=old.get("etag"),
                                     send_updates=send_updates if verdict == "finish" else "none")
    except (GoogleConflict, Gone):
        return client.get_event(identity, calendar.calendar_id, old["id"])
    if verdict == "finish" and send_updates == "all" and new is not None and new.get("status") != "cancelled" \
            and not private_properties(new).get(P_INVITED):
        try:
            client.patch_event(identity, calendar.calendar_id, new["id"],
                               {"extendedProperties": {"private": {P_INVITED: "1"}}}, send_updates="all",
                               etag=new.get("etag"))
        except AppError as error:
            log("invitation not sent", severity="WARNING", calendar=calendar.slug, booking=new["id"],
                detail=error.message)
    log("move settled", calendar=calendar.slug, booking=old["id"], verdict=verdict,
        moved_to=private_properties(old).get(P_MOVED_TO))
    return written


class _Existing(Exception):
    """The booking id of this attempt exists already: answer from it instead of booking again."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(event.get("id"))
        self.event = event


def _live_problem(
    items: list[dict[str, Any]], span: Interval, rules: SlotRules, zone: ZoneInfo, ignore: set[str | None]
) -> SlotProblem | None:
    """Whether the calendar's own events (read live) keep `span`: a meeting that blocks time within the buffers,
    or a booking this product made that its padding keeps away. Claims never block. An item that cannot be
    read (no times, an odd shape) counts as busy."""
    guarded = Interval(span.start - rules.buffer_before, span.end + rules.buffer_after)
    for item in items:
        if item.get("id") in ignore or item.get("status") == "cancelled" or is_claim(item):
            continue
        try:
            other = event_interval(item, zone)
        except (KeyError, TypeError, ValueError):
            return SlotProblem.BUSY
        if is_booking(item):
            if guarded.overlaps(padded_booking(other, rules)):
                return SlotProblem.BUSY
        elif blocks_time(item) and guarded.overlaps(other):
            return SlotProblem.BUSY
    return None


def _insert_request(
    calendar_id: str, body: dict[str, Any], *, send_updates: str = "none", conference: bool = False
) -> Callable[[Any], Any]:
    params: dict[str, Any] = {"calendarId": calendar_id, "body": body, "sendUpdates": send_updates}
    if conference:
        params["conferenceDataVersion"] = 1
    return lambda api: api.events().insert(**params)


def _get_request(calendar_id: str, event_id: str) -> Callable[[Any], Any]:
    return lambda api: api.events().get(calendarId=calendar_id, eventId=event_id)


def _patch_request(calendar_id: str, event_id: str, body: dict[str, Any], etag: str | None) -> Callable[[Any], Any]:
    def build(api: Any) -> Any:
        request = api.events().patch(calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="none")
        if etag:
            request.headers["If-Match"] = etag
        return request

    return build


def _list_request(calendar_id: str, window: Interval) -> Callable[[Any], Any]:
    return lambda api: api.events().list(
        calendarId=calendar_id, timeMin=window.start.isoformat(), timeMax=window.end.isoformat(),
        singleEvents=True, maxResults=2500,
    )


def _times(calendar: CalendarConfig, start: datetime, end: datetime) -> dict[str, Any]:
    zone = calendar.zone
    return {
        "start": {"dateTime": start.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
        "end": {"dateTime": end.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
    }


def clean_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Visitor text as it may reach a calendar: no control, bidirectional or zero-width characters, limited."""
    return (clean_block(value) if multiline else clean_line(value))[:limit]


_digest = digest


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
        "timezone": request.timezone, "type": request.type, "client": scope,
    }
    return _digest("request", json.dumps(fields, sort_keys=True, ensure_ascii=False))


def _is_day_token(key: str) -> bool:
    return "/day" in key


def _same_request(existing: dict[str, Any], body: dict[str, Any]) -> None:
    """An event found under a request's id answers it only if it was written for that very request (same body,
    same client): a reused Idempotency-Key with another body gets 409, never another booking's token."""
    wanted = body.get("extendedProperties", {}).get("private", {}).get(P_REQUEST)
    if wanted is not None and not hmac.compare_digest(private_properties(existing).get(P_REQUEST, ""), wanted):
        raise Conflict(
            "This Idempotency-Key was already used for a different booking; use a new key.",
            details={"idempotencyKey": "reused"},
        )


def _check_mover(moved: dict[str, Any], client: str) -> None:
    """A repeated move hands the moved booking's token only to the client that moved it: the token from before
    the move reads the old booking only (a move rotates the token)."""
    if not hmac.compare_digest(private_properties(moved).get(P_MOVE_CLIENT, ""), _digest("client", client)):
        raise Conflict("This booking was moved; use the moved booking's link.", details={"movedTo": moved.get("id")})


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

