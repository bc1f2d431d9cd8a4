"""Moving a booking, and settling a move left half done (by a crash, a failed write, or a race)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .. import invitation
from ..calendar_client import CalendarClient, Identity, event_get_request, event_patch_request
from ..claims import P_DAY_TOKEN
from ..config import CalendarConfig
from ..errors import AppError, Conflict, GoogleConflict, NotFound, SlotUnavailable
from ..events import (
    P_EMAIL,
    P_INVITED,
    P_MOVE_CLIENT,
    P_MOVED_FROM,
    P_MOVED_TO,
    P_MOVING_AT,
    P_OUTCOME,
    P_REQUEST,
    MoveVerdict,
    Outcome,
    event_interval,
    is_decided,
    move_verdict,
    private_properties,
)
from ..logs import log
from ..slots import Interval
from . import rules
from .event import send_updates_for, times, uses_meet, with_links
from .ids import check_mover, client_digest, move_ids
from .model import BookingResult
from .parts import WithParts
from .protocol import ExistingBooking
from .writes import (
    as_error,
    cancel_once,
    cancel_placeholder,
    insert_placeholder,
    patch_if_unchanged,
    release,
    write_booking,
)

_KEPT_FIELDS = ("summary", "description", "attendees", "transparency", "guestsCanInviteOthers",
                "guestsCanSeeOtherGuests", "location", "visibility")


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
    decide: bool = False,
) -> dict[str, Any]:
    """Apply `move_verdict` to a booking marked for a move and the event it names; the old booking as it ends.

    A move whose new booking is not written yet is undone only once that booking can never be written
    (`withdraw_unwritten`): past the TTL, or at once with `decide` (a cancel or another move of the old booking
    must not let the pending one land after it). The write is conditional on the old booking's etag (a 412 means
    someone else settled or changed it: read it again next time). Finishing a move also sends the visitor the
    moved booking's invitation, as a move that commits does (`send_updates`, best effort). Used by bookings (a look
    at either booking) and by the sync's sweep."""
    verdict = move_verdict(old, new, now=now, ttl=ttl)
    if new is None and (verdict == MoveVerdict.UNMARK or (verdict == MoveVerdict.WAIT and decide)):
        new = withdraw_unwritten(client, calendar, identity, old)
        verdict = move_verdict(old, new, now=now, ttl=ttl)
    if verdict == MoveVerdict.FINISH:
        change: dict[str, Any] = {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: Outcome.MOVED}}}
    elif verdict == MoveVerdict.UNMARK:
        change = {"extendedProperties": {"private": {P_MOVED_TO: "", P_MOVING_AT: ""}}}
    else:
        return old
    result = patch_if_unchanged(client, identity, calendar.calendar_id, old, lambda _: change, tries=1,
                                send_updates=send_updates if verdict == MoveVerdict.FINISH else "none")
    if not result.wrote:
        return result.event
    if verdict == MoveVerdict.FINISH and send_updates == "all" and new is not None \
            and new.get("status") != "cancelled" and not private_properties(new).get(P_INVITED):
        announce(client, calendar, identity, new)
    log("move settled", calendar=calendar.slug, booking=old["id"], verdict=verdict,
        moved_to=private_properties(old).get(P_MOVED_TO))
    return result.event


def withdraw_unwritten(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, old: dict[str, Any]
) -> dict[str, Any]:
    """Make sure the booking that `old`'s pending move names can never be written, and return what its id holds.

    The mover may be slow or dead with its insert still in flight (an instance killed mid-request, Google still
    running the request): a cancel that answered before that insert lands would leave the new booking confirmed
    with nobody to judge it. So the id is taken first: an aborted placeholder, inserted under it (events.insert of
    an existing id is `409 duplicate`, GUIDES/errors, whoever asks, whenever, so of this insert and the mover's
    exactly one lands), then cancelled. If the mover's insert came first, the new booking is returned: it holds all
    its claims and the move finishes. The placeholder is transparent, private, without guests or reminders: the
    employee sees nothing but, at most, a brief free event."""
    new_id = str(private_properties(old)[P_MOVED_TO])
    try:
        written = insert_placeholder(client, calendar, identity, new_id, old, {P_MOVED_FROM: str(old["id"])})
    except GoogleConflict as taken:
        if taken.reason != "duplicate":
            raise
        return client.get_event(identity, calendar.calendar_id, new_id)
    except AppError as failed:  # ours landed unanswered, or theirs: read
        try:
            return client.get_event(identity, calendar.calendar_id, new_id)
        except NotFound:  # neither landed: the id is still free, so the pending move may still land
            raise failed from None
    log("unwritten move withdrawn", calendar=calendar.slug, booking=old["id"], withdrawn=new_id)
    return cancel_placeholder(client, calendar, identity, written)


def announce(client: CalendarClient, calendar: CalendarConfig, identity: Identity, moved: dict[str, Any]) -> bool:
    """Invite the visitor to the moved booking (best effort: the booking stands either way); whether it was sent."""
    try:
        client.patch_event(identity, calendar.calendar_id, moved["id"],
                           {"extendedProperties": {"private": {P_INVITED: "1"}}}, send_updates="all",
                           etag=moved.get("etag"))
        return True
    except AppError as error:
        log("invitation not sent", severity="WARNING", calendar=calendar.slug, booking=moved["id"],
            detail=error.message)
        return False


class Moves(WithParts):
    """Reschedule, and the look at a booking that settles a half-done move it is part of."""

    @property
    def _ttl(self) -> timedelta:
        return timedelta(seconds=self._config.booking.claim_ttl_seconds)

    def settled(
        self, calendar: CalendarConfig, identity: Identity, event: dict[str, Any], *, decide: bool = False
    ) -> dict[str, Any]:
        """`event` after settling a half-done move it is part of (`events.move_verdict`, the sweep's rule): the old
        booking of a move whose new booking stood is cancelled as moved, one whose new booking never stood is
        unmarked. Best effort for a look: if Google fails the write, the sweep settles it (the old booking keeps its
        time and its claims meanwhile, so nothing can overlap either). `decide` (a cancel or a move of `event`
        follows): a pending move is withdrawn first (`settle_move`), and a failure to do so is raised, since what
        follows must not act on a booking whose pending move could still land."""
        props = private_properties(event)
        send = send_updates_for(self._config, calendar, props.get(P_EMAIL, ""))
        try:
            if props.get(P_MOVED_FROM) and not is_decided(event):
                old = self._find(identity, calendar, props[P_MOVED_FROM])
                if old is not None and private_properties(old).get(P_MOVED_TO) == event["id"]:
                    settle_move(self._client, calendar, identity, old, event, now=self._now(), ttl=self._ttl,
                                send_updates=send)
                return event
            if props.get(P_MOVED_TO) and not is_decided(event):
                new = self._find(identity, calendar, props[P_MOVED_TO])
                return settle_move(self._client, calendar, identity, event, new, now=self._now(), ttl=self._ttl,
                                   send_updates=send, decide=decide)
        except AppError as error:
            if decide:
                raise
            log("move not settled", severity="WARNING", calendar=calendar.slug, booking=event.get("id"),
                detail=error.message)
        return event

    def move(
        self, calendar: CalendarConfig, identity: Identity, old: dict[str, Any], start: datetime,
        duration: int | None, client: str,
    ) -> BookingResult:
        """Move the (settled) booking `old` to `start`: mark it as being moved to one new id (a conditional
        write, so two different moves cannot both proceed), hold the new time's cells (sharing those the old
        booking holds), write the new booking, then cancel the old one marked "moved"."""
        booking_id = old["id"]
        props = private_properties(old)
        span = event_interval(old, calendar.zone)
        minutes = duration if duration is not None else int((span.end - span.start).total_seconds() // 60)
        rules.check_duration(self._config, calendar, minutes,
                             self._config.meeting_type(calendar, props.get(invitation.P_TYPE)))
        end = start + timedelta(minutes=minutes)
        candidates = move_ids(booking_id, start, minutes)
        pending = props.get(P_MOVED_TO)
        if is_decided(old):
            return self.already_moved(calendar, identity, old, candidates, client)
        if (start, end) == (span.start, span.end):
            return self._result(calendar, old, created=False)
        rules.check_rules(self._config, calendar, start, end, self._now())
        send = send_updates_for(self._config, calendar, props.get(P_EMAIL, ""))
        if pending:
            other = self._find(identity, calendar, pending)
            if other is not None and other.get("status") != "cancelled":
                if pending in candidates:  # this very move, written already: finish it
                    check_mover(other, client)
                    self._commit(calendar, identity, old, other, send_updates=send)
                    return self._moved(calendar, booking_id, other)
                raise Conflict("This booking is being moved already.", details={"movedTo": pending})
            if other is None and pending not in candidates:  # another move, not written yet: it gives way
                old = settle_move(self._client, calendar, identity, old, None, now=self._now(), ttl=self._ttl,
                                  decide=True)
                if is_decided(old):  # its booking landed first: that move happened
                    return self.already_moved(calendar, identity, old, candidates, client)
        body = self._moved_body(calendar, old, start, end, client)
        for new_id in candidates:
            extra = {
                "mark": event_patch_request(
                    calendar.calendar_id, booking_id,
                    {"extendedProperties": {"private": {
                        P_MOVED_TO: new_id, P_MOVING_AT: self._now().astimezone(UTC).isoformat(),
                    }}},
                    etag=old.get("etag"),
                ),
                "existing": event_get_request(calendar.calendar_id, new_id),
            }
            try:
                held, extras = self._claims.hold(
                    calendar, identity, new_id, Interval(start, end), extra, carry_from=booking_id
                )
            except ExistingBooking as found:
                if found.event.get("status") == "cancelled":
                    old = self._still_marked(calendar, identity, booking_id, new_id)
                    continue  # an earlier attempt at this move was withdrawn: take the next id
                check_mover(found.event, client)
                marked = self._client.get_event(identity, calendar.calendar_id, booking_id)
                self._commit(calendar, identity, marked, found.event, send_updates=send)
                return self._moved(calendar, booking_id, found.event)
            mark = extras.get("mark")
            if not isinstance(mark, dict):
                release(self._client, calendar, identity, held, new_id)
                if isinstance(mark, GoogleConflict):
                    raise Conflict("The booking changed meanwhile; fetch it and try again.")
                raise as_error(mark)
            new_body = with_links(self._config, calendar, {**body, "id": new_id}, self._tokens)
            moved = write_booking(self._client, calendar, identity, new_body, held, send_updates="none",
                                  conference=uses_meet(self._config, None) or "conferenceData" in new_body,
                                  capped=bool(self._config.slot_rules(calendar.slug).max_per_day))
            if moved is None:  # withdrawn under us (`withdraw_unwritten`): a cancel or another move came first
                release(self._client, calendar, identity, held, new_id)
                old = self._still_marked(calendar, identity, booking_id, new_id)
                continue
            self._commit(calendar, identity, mark, moved, send_updates=send)
            return self._moved(calendar, booking_id, moved)
        raise SlotUnavailable("This move was tried too often; pick another time.", details={"reason": "busy"})

    def _still_marked(
        self, calendar: CalendarConfig, identity: Identity, booking_id: str, new_id: str
    ) -> dict[str, Any]:
        """The old booking re-read before a move tries its next id (the mark it wrote changed its etag), as long as
        nobody else acted on it meanwhile; else 409."""
        current = self._client.get_event(identity, calendar.calendar_id, booking_id)
        if is_decided(current) or private_properties(current).get(P_MOVED_TO) != new_id:
            raise Conflict("The booking was cancelled or changed meanwhile; fetch it and try again.")
        return current

    def already_moved(
        self, calendar: CalendarConfig, identity: Identity, old: dict[str, Any], candidates: list[str], client: str
    ) -> BookingResult:
        """The answer to a move of a booking that is cancelled or moved: the same moved booking for a repeat of
        the very move (from the client that moved it), else 409."""
        props = private_properties(old)
        pending = props.get(P_MOVED_TO)
        if props.get(P_OUTCOME) == Outcome.MOVED and pending in candidates:
            done = self._client.get_event(identity, calendar.calendar_id, str(pending))
            check_mover(done, client)
            return self._result(calendar, done, created=False)  # moved already
        if props.get(P_OUTCOME) == Outcome.MOVED:
            raise Conflict("This booking was moved; use the moved booking's link.", details={"movedTo": pending})
        raise Conflict("This booking is cancelled; book a new slot instead.", details={"status": "cancelled"})

    def _moved_body(
        self, calendar: CalendarConfig, old: dict[str, Any], start: datetime, end: datetime, client: str
    ) -> dict[str, Any]:
        """The new booking of a move: the old one's fields, its description saying what it replaces, new times."""
        props = private_properties(old)
        body: dict[str, Any] = {key: old[key] for key in _KEPT_FIELDS if key in old}
        was = event_interval(old, calendar.zone).start.astimezone(calendar.zone)
        body["description"] = invitation.rescheduled(str(old.get("description", "")), was, calendar.timezone)
        kept = {k: v for k, v in props.items() if k not in (P_MOVED_TO, P_OUTCOME, P_INVITED, P_REQUEST, P_DAY_TOKEN)}
        body["extendedProperties"] = {"private": {**kept, P_MOVED_FROM: old["id"],
                                                  P_MOVE_CLIENT: client_digest(client)}}
        body.update(times(calendar, start, end))
        return body

    def _commit(
        self, calendar: CalendarConfig, identity: Identity, marked: dict[str, Any], moved: dict[str, Any], *,
        send_updates: str,
    ) -> None:
        """Cancel the old booking as moved, only while it is still marked for `moved` (a conditional write).

        If the old booking was cancelled or marked for another move meanwhile, `moved` gives its time up (it was
        never answered). If Google fails the write, `moved` stands: it exists and the old booking names it, which
        makes the old one superseded (`move_verdict`); the next look at it, or the sweep, cancels it."""

        def change(current: dict[str, Any]) -> dict[str, Any] | None:
            if private_properties(current).get(P_MOVED_TO) != moved["id"] or current.get("status") == "cancelled":
                return None
            return {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: Outcome.MOVED}}}

        result = patch_if_unchanged(self._client, identity, calendar.calendar_id, marked, change,
                                    send_updates=send_updates, keep_errors=True)
        if result.wrote:
            if send_updates == "all":  # the visitor hears of the new time only once it is theirs
                announce(self._client, calendar, identity, moved)
            return
        if result.error is not None:
            log("move left for the sweep", severity="WARNING", calendar=calendar.slug, booking=moved["id"],
                replaces=marked["id"], detail=result.error.message)
            return
        props = private_properties(result.event)
        if props.get(P_MOVED_TO) == moved["id"] and props.get(P_OUTCOME) == Outcome.MOVED:
            return  # the same move, committed by a repeat of this request
        cancel_once(self._client, calendar, identity, moved, Outcome.LOST, send_updates="none")
        raise Conflict("The booking was cancelled or changed meanwhile; fetch it and try again.")

    def _moved(self, calendar: CalendarConfig, old_id: str, moved: dict[str, Any]) -> BookingResult:
        self._availability.forget_booking(calendar.slug, old_id)
        self._availability.note_booking(calendar.slug, event_interval(moved, calendar.zone), moved["id"])
        log("booking moved", calendar=calendar.slug, booking=moved["id"], replaces=old_id)
        return self._result(calendar, moved, created=False)

    def _result(self, calendar: CalendarConfig, event: dict[str, Any], *, created: bool) -> BookingResult:
        return self._parts.result(calendar, event, created=created)

    def _find(self, identity: Identity, calendar: CalendarConfig, event_id: str) -> dict[str, Any] | None:
        return find(self._client, identity, calendar, event_id)


def find(client: CalendarClient, identity: Identity, calendar: CalendarConfig, event_id: str) -> dict[str, Any] | None:
    try:
        return client.get_event(identity, calendar.calendar_id, event_id)
    except NotFound:
        return None
