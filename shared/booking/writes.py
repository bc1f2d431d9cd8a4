"""The protocol's writes to Google: the one conditional patch, the booking insert, and giving claims back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..calendar_client import CalendarClient, Identity, Request, event_insert_request, event_patch_request
from ..claims import P_ALSO, P_DAY_TOKEN, P_HOLDER, is_day_token
from ..config import CalendarConfig
from ..errors import AppError, Conflict, Gone, GoogleConflict, NotFound, UpstreamUnavailable
from ..events import MARKER, P_MOVED_FROM, P_MOVED_TO, P_OUTCOME, P_REQUEST, Outcome, is_decided, private_properties
from ..logs import log
from .ids import check_same_request

# Set (locally, never sent) on a hold re-written from another attempt of the same request: that attempt may be
# about to write the booking on it, so this one never releases it (the TTL or the sweep settles it).
INHERITED = "wcb.inherited"


def as_error(answer: object) -> AppError:
    """A batch part's failure as the error to raise (a part with no answer at all: Google did not answer)."""
    return answer if isinstance(answer, AppError) else UpstreamUnavailable("Google did not answer.")


@dataclass(frozen=True)
class Patched:
    """How a conditional patch ended: the event as written (or as last read), whether this call wrote it, the
    failure other than a lost race that stopped it (with `keep_errors`), and whether it kept losing races."""

    event: dict[str, Any]
    wrote: bool
    error: AppError | None = None
    exhausted: bool = False


def patch_if_unchanged(
    client: CalendarClient,
    identity: Identity,
    calendar_id: str,
    event: dict[str, Any],
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
    *,
    send_updates: str = "none",
    tries: int = 3,
    keep_errors: bool = False,
) -> Patched:
    """Write `change(event)` to `event` only while it is unchanged (`If-Match` on its etag: GUIDES/
    version-resources, 412 when another writer came first). A lost race re-reads the event by id and asks
    `change` again, which answers None when the event as it now stands needs no write."""
    current = event
    for _ in range(tries):
        body = change(current)
        if body is None:
            return Patched(current, False)
        try:
            written = client.patch_event(identity, calendar_id, current["id"], body, send_updates=send_updates,
                                         etag=current.get("etag"))
            return Patched(written, True)
        except (GoogleConflict, Gone):
            current = client.get_event(identity, calendar_id, current["id"])
        except AppError as error:
            if not keep_errors:
                raise
            return Patched(current, False, error=error)
    return Patched(current, False, exhausted=True)


def cancel_once(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, event: dict[str, Any], outcome: Outcome, *,
    send_updates: str, unmarked_only: bool = False,
) -> Patched:
    """Cancel `event` marked `outcome`, in one conditional write; one cancelled meanwhile is left as it is.
    `unmarked_only`: nor one marked for a move meanwhile (its pending move must be withdrawn first, or it could
    land after the cancel with nobody left to judge it): the caller settles that move and tries again."""

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if is_decided(current) or (unmarked_only and private_properties(current).get(P_MOVED_TO)):
            return None
        return {"status": "cancelled", "extendedProperties": {"private": {P_OUTCOME: outcome}}}

    result = patch_if_unchanged(client, identity, calendar.calendar_id, event, change, send_updates=send_updates)
    if result.exhausted:
        raise Conflict("The booking kept changing meanwhile; fetch it and try again.")
    return result


def release_request(claims_calendar: str, claim: dict[str, Any], holder: str) -> Request | None:
    """The conditional write that gives `holder`'s part of `claim` back (None: not held by it, or inherited).
    A claim shared by a move (`wcbAlso`) keeps its other holder."""
    if claim.get(INHERITED):
        return None
    props = private_properties(claim)
    if props.get(P_ALSO) == holder:
        change = {P_ALSO: ""}
    elif props.get(P_HOLDER) == holder:
        change = {P_HOLDER: "", P_ALSO: props.get(P_ALSO, "")}
    else:
        return None
    return event_patch_request(claims_calendar, claim["id"], {"extendedProperties": {"private": change}},
                               etag=claim.get("etag"))


def _releases(calendar: CalendarConfig, claims: Iterable[dict[str, Any]], holder: str) -> dict[str, Request]:
    writes: dict[str, Request] = {}
    for claim in claims:
        request = release_request(calendar.claims_calendar_id, claim, holder)
        if request is not None:
            writes[f"release{len(writes)}"] = request
    return writes


def release(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, held: dict[str, dict[str, Any]], holder: str
) -> None:
    """Give claims back (best effort: a claim whose holders are all gone is free anyway, `Claims.take_over`)."""
    writes = _releases(calendar, held.values(), holder)
    if not writes:
        return
    try:
        client.batch(identity, writes)
    except AppError as error:
        log("claims not released", severity="WARNING", calendar=calendar.slug, detail=error.message)


def write_booking(
    client: CalendarClient,
    calendar: CalendarConfig,
    identity: Identity,
    body: dict[str, Any],
    held: dict[str, dict[str, Any]],
    *,
    send_updates: str,
    conference: bool,
    capped: bool,
) -> dict[str, Any] | None:
    """Insert the booking once all its claims are held (with a per-day cap, it records the day token it keeps, and
    the surplus tokens this attempt holds go back in the same round trip). None: its id was taken by an aborted
    attempt meanwhile (try the next id).

    If Google fails the insert, the id is read: an event there is the booking (this attempt's insert that landed
    unanswered, or this request's retry elsewhere), and answered; none, and the error is answered with nothing
    confirmed and its claims released (conditionally: a retry of the same request on another instance re-writes
    the holds it relies on, `claims.hold_properties`)."""
    event_id = body["id"]
    tokens = sorted(key for key in held if is_day_token(key))
    surplus = [held[key] for key in tokens[1:]] if capped else []
    if capped and tokens:  # the one token it keeps: any other it holds is free for others (`claims.keys_needed`)
        private = {**body["extendedProperties"]["private"], P_DAY_TOKEN: tokens[0]}
        body = {**body, "extendedProperties": {**body["extendedProperties"], "private": private}}
    parts: dict[str, Request] = {
        "booking": event_insert_request(calendar.calendar_id, body, send_updates=send_updates, conference=conference)
    }
    parts.update(_releases(calendar, surplus, event_id))
    answer: Any
    try:
        answer = client.batch(identity, parts).get("booking")
    except AppError as failure:
        answer = failure
    if isinstance(answer, dict):
        return answer
    if isinstance(answer, GoogleConflict) and answer.reason == "duplicate":
        existing = client.get_event(identity, calendar.calendar_id, event_id)
        if private_properties(existing).get(P_OUTCOME) == Outcome.ABORTED:
            return None
        check_same_request(existing, body)
        return existing  # our own insert, answered late: it landed
    failed = as_error(answer)
    # Unknown whether the insert landed: read the id. The booking is never withdrawn by a write: the same id may
    # be written by this request's retry on another instance, answered 200 meanwhile (a write here would undo
    # it). An event with the id holds all its claims, so it stands: it is this request's answer.
    try:
        existing = client.get_event(identity, calendar.calendar_id, event_id)
    except NotFound:
        release(client, calendar, identity, held, event_id)  # by etag: not a hold another attempt re-wrote
        raise failed from None
    except AppError:
        return _settle_unread(client, calendar, identity, body, held, failed)
    if private_properties(existing).get(P_OUTCOME) == Outcome.ABORTED:
        return None
    check_same_request(existing, body)
    return existing


def _settle_unread(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, body: dict[str, Any],
    held: dict[str, dict[str, Any]], failed: AppError,
) -> dict[str, Any] | None:
    """The insert's answer was lost and its id could not be read: take the id with an aborted placeholder, so
    that the booking either landed (the placeholder is `409 duplicate`) or never will (the placeholder landed:
    Google keeps ids unique, also against an insert still in flight). Only when that insert is not answered
    either is the outcome unknown: the claims stay held and a late booking stands (a retry with the same
    Idempotency-Key then learns it from its id)."""
    event_id = body["id"]
    private = private_properties(body)
    # keyed: marked as this request's aborted attempt, so that its retry takes the next id (`ids.event_ids`)
    mark = {MARKER: private[MARKER], P_REQUEST: private[P_REQUEST]} if P_REQUEST in private else {}
    try:
        placeholder = insert_placeholder(client, calendar, identity, event_id, body, mark)
    except GoogleConflict as taken:
        if taken.reason != "duplicate":
            raise unknown_outcome(failed) from None
        try:
            existing = client.get_event(identity, calendar.calendar_id, event_id)
        except AppError:
            if id_known_only_here(body):
                return body  # nobody else ever knew the id: what holds it is this very insert, landed
            raise unknown_outcome(failed) from None
        if private_properties(existing).get(P_OUTCOME) == Outcome.ABORTED:
            return None  # another attempt of this request took the id the same way
        check_same_request(existing, body)
        return existing
    except AppError:
        raise unknown_outcome(failed) from None
    log("unanswered booking withdrawn", calendar=calendar.slug, booking=event_id)
    release(client, calendar, identity, held, event_id)
    cancel_placeholder(client, calendar, identity, placeholder)
    raise failed


def id_known_only_here(body: dict[str, Any]) -> bool:
    """Whether nobody but this attempt can know the booking's id: random (no Idempotency-Key) and not the new
    booking a move's mark names (a cancel may take that id, `moves.withdraw_unwritten`)."""
    private = private_properties(body)
    return P_REQUEST not in private and P_MOVED_FROM not in private


def unknown_outcome(failed: AppError) -> UpstreamUnavailable:
    """The 503 for a booking Google may or may not have written (`details.outcome` = `unknown`)."""
    return UpstreamUnavailable("Google did not answer whether the booking was written; send the same request "
                               "with the same Idempotency-Key to learn its outcome.",
                               retry_after=getattr(failed, "retry_after", None), details={"outcome": "unknown"})


def insert_placeholder(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, event_id: str, span: dict[str, Any],
    private: dict[str, str],
) -> dict[str, Any]:
    """Take `event_id` with an aborted placeholder (events.insert of an existing id is `409 duplicate`,
    GUIDES/errors, whoever asks, whenever): once it lands, no booking can ever be written under that id. It is
    transparent, private, without guests or reminders: the employee sees, at most, a brief free event."""
    placeholder = {
        "id": event_id,
        "summary": "Withdrawn booking",
        "start": span["start"],
        "end": span["end"],
        "transparency": "transparent",
        "visibility": "private",
        "reminders": {"useDefault": False},
        "extendedProperties": {"private": {P_OUTCOME: Outcome.ABORTED, **private}},
    }
    return client.insert_event(identity, calendar.calendar_id, placeholder)


def cancel_placeholder(
    client: CalendarClient, calendar: CalendarConfig, identity: Identity, placeholder: dict[str, Any]
) -> dict[str, Any]:
    """Cancel a placeholder (best effort: one left free and marked aborted holds nothing, `claims.holder_is_live`)."""
    try:
        return client.patch_event(identity, calendar.calendar_id, placeholder["id"], {"status": "cancelled"},
                                  etag=placeholder.get("etag"))
    except AppError as error:
        log("placeholder not cancelled", severity="WARNING", calendar=calendar.slug, booking=placeholder["id"],
            detail=error.message)
        return placeholder
