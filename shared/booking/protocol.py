"""Holding claims: the step that makes two overlapping bookings impossible (the package docstring gives the
argument). A booking holds every cell of its time (and one day token under a per-day cap) in the claims calendar
before its event is written; Google's `409 duplicate` on an id and `412` on `If-Match` decide every race."""

from __future__ import annotations

import secrets
import time as time_module
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..availability import identity_for
from ..calendar_client import (
    CalendarClient,
    Identity,
    Request,
    event_get_request,
    event_insert_request,
    event_patch_request,
    events_list_request,
)
from ..claims import (
    P_ATTEMPT,
    P_HELD_AT,
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
    is_day_token,
    keys_needed,
)
from ..config import CalendarConfig, Config
from ..errors import AppError, Conflict, GoogleConflict, InvalidRequest, NotFound, SlotUnavailable, UpstreamUnavailable
from ..events import blocks_time, event_interval, is_booking, padded_booking, pending_lapsed, private_properties
from ..slots import Interval, SlotProblem, SlotRules
from .confirm import expire_lapsed
from .writes import INHERITED, as_error, release

YIELD_PAUSES = (0.1, 0.2, 0.4)  # seconds a request waits for racing pending holds of higher ids to be released
_sleep = time_module.sleep


class ExistingBooking(Exception):
    """The booking id of this attempt exists already: answer from it instead of booking again."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(event.get("id"))
        self.event = event


def live_problem(
    items: list[dict[str, Any]], span: Interval, rules: SlotRules, zone: ZoneInfo, ignore: set[str | None],
    now: datetime | None = None,
) -> SlotProblem | None:
    """Whether the calendar's own events (read live) keep `span`: a meeting that blocks time within the buffers,
    or a booking this product made that its padding keeps away. Claims never block, nor a pending booking past
    its deadline at `now` (its claims decide: `take_over` expires it first). An item that cannot be read (no
    times, an odd shape) counts as busy."""
    guarded = Interval(span.start - rules.buffer_before, span.end + rules.buffer_after)
    for item in items:
        if item.get("id") in ignore or item.get("status") == "cancelled" or is_claim(item):
            continue
        if now is not None and pending_lapsed(item, now):
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


class Claims:
    """The claims of one booking attempt's calendar: hold them, or take them over from holders no longer live."""

    def __init__(
        self, config: Config, client: CalendarClient, now: Callable[[], datetime],
        companions: Callable[[CalendarConfig], list[CalendarConfig]] = lambda _: [],
    ) -> None:
        self._config = config
        self._client = client
        self._now = now
        self._companions = companions

    def needs(self, calendar: CalendarConfig, span: Interval) -> tuple[list[Cell], list[Cell]]:
        """The cells a booking over `span` holds, and its day's tokens when there is a per-day cap."""
        rules = self._config.slot_rules(calendar.slug)
        gap = max(rules.buffer_before, rules.buffer_after)
        cells = cells_for(span, gap, calendar.zone, rules.step)
        day = span.start.astimezone(calendar.zone).date()
        tokens = day_tokens(day, rules.max_per_day, calendar.zone) if rules.max_per_day else []
        return cells, tokens

    def keys_of(self, calendar: CalendarConfig) -> Callable[[dict[str, Any]], set[str]]:
        rules = self._config.slot_rules(calendar.slug)
        return lambda event: keys_needed(event, calendar.zone, rules)

    def hold(
        self,
        calendar: CalendarConfig,
        identity: Identity,
        holder: str,
        span: Interval,
        extra: Mapping[str, Request],
        *,
        carry_from: str | None = None,
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Hold every cell of `span` (and one day token) for `holder`; the live check of the calendar rides along.

        One batch: an insert per claim, the events of the span's surroundings, and `extra` parts. A claim that
        already exists is read and taken over only if nobody live holds it (`take_over`). On a conflict every
        claim taken here is released and 409 raised. Returns the claims held (by key) and the `extra` answers.
        `carry_from`: the booking a move replaces; its cells are shared with it rather than taken from it.

        The same claims are held first on each of `calendar`'s companions (a collective booking's other members,
        team_moves.py), without `extra`; if any hold fails, every claim taken for the attempt is given back."""
        held: list[tuple[CalendarConfig, dict[str, dict[str, Any]]]] = []
        try:
            for other in self._companions(calendar):
                claims, _ = self._hold(other, identity_for(other), holder, span, {}, carry_from)
                held.append((other, claims))
            return self._hold(calendar, identity, holder, span, extra, carry_from)
        except BaseException:
            for other, claims in held:
                release(self._client, other, identity_for(other), claims, holder)
            raise

    def _hold(
        self, calendar: CalendarConfig, identity: Identity, holder: str, span: Interval, extra: Mapping[str, Request],
        carry_from: str | None,
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """`hold` on `calendar` alone."""
        cells, tokens = self.needs(calendar, span)
        now = self._now()
        attempt = secrets.token_hex(6)
        rules = self._config.slot_rules(calendar.slug)
        gap = max(rules.buffer_before, rules.buffer_after)
        window = Interval(span.start - gap - timedelta(minutes=1), span.end + gap + timedelta(minutes=1))
        wanted = cells + tokens
        parts: dict[str, Request] = {
            f"claim{n}": event_insert_request(
                calendar.claims_calendar_id, claim_body(calendar.calendar_id, calendar.slug, cell, holder, now, attempt)
            )
            for n, cell in enumerate(wanted)
        }
        parts["live"] = events_list_request(calendar.calendar_id, window.start, window.end)
        parts.update(extra)
        answers = self._client.batch(identity, parts)
        extras = {name: answers.get(name) for name in extra}
        fresh = {cell.key: answers[f"claim{n}"] for n, cell in enumerate(wanted)
                 if isinstance(answers.get(f"claim{n}"), dict)}
        existing = extras.get("existing")
        if isinstance(existing, dict):
            release(self._client, calendar, identity, fresh, holder)  # inserted here, for a booking that exists
            raise ExistingBooking(existing)
        mark = extras.get("mark", {})
        if not isinstance(mark, dict):  # a move whose mark failed touches no claim it did not insert itself
            release(self._client, calendar, identity, fresh, holder)
            if isinstance(mark, GoogleConflict):
                raise Conflict("The booking changed meanwhile; fetch it and try again.")
            raise as_error(mark)
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
                release(self._client, calendar, identity, held, holder)
                raise as_error(answer)
        if any(token.key in held for token in tokens):
            contested = [cell for cell in contested if cell not in tokens]  # one day token is all it needs
        try:
            live = answers.get("live")
            if not isinstance(live, dict):
                raise as_error(live)
            problem = live_problem(list(live.get("items", [])), span, rules, calendar.zone, {holder, carry_from},
                                   now)
            if problem is not None:
                raise SlotUnavailable(problem.message, details={"reason": problem.value})
            for _ in range(3):
                if contested:
                    self.take_over(calendar, identity, holder, contested, held, now, attempt, carry_from=carry_from)
                if any(cell.key not in held for cell in cells) or not tokens or any(t.key in held for t in tokens):
                    break
                contested = list(tokens)  # each taker takes one free token: another may have won ours; read again
            missing = [cell.key for cell in cells if cell.key not in held]
            if missing or (tokens and not any(token.key in held for token in tokens)):
                reason = SlotProblem.DAY_FULL if not missing else SlotProblem.BUSY
                raise SlotUnavailable(reason.message, details={"reason": reason.value})
        except AppError:
            release(self._client, calendar, identity, held, holder)
            raise
        return held, extras

    def take_over(
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
            identity, {f"read{n}": event_get_request(claims_calendar, claim_id(calendar.calendar_id, cell.key))
                       for n, cell in enumerate(contested)}
        )
        claims: dict[str, dict[str, Any]] = {}
        mine: dict[str, dict[str, Any]] = {}
        for n, cell in enumerate(contested):
            answer = read.get(f"read{n}")
            if isinstance(answer, NotFound):
                raise UpstreamUnavailable("A claim was neither created nor found; try again.")
            if not isinstance(answer, dict):
                raise as_error(answer)
            if holder in holders(answer) and private_properties(answer).get(P_ATTEMPT) == attempt:
                held[cell.key] = answer  # our own insert, answered late
            elif holder in holders(answer):
                mine[cell.key] = answer  # another attempt of this very request holds it: make the hold ours
            else:
                claims[cell.key] = answer
        found = self._holders_of(calendar, identity, claims, carry_from)
        found = expire_lapsed(self._config, self._client, calendar, identity, found, now)  # confirm.py
        ttl = timedelta(seconds=self._config.booking.claim_ttl_seconds)
        keys_of = self.keys_of(calendar)

        def live_holders(key: str, claim: dict[str, Any]) -> list[str]:
            return [h for h in holders(claim) if h != carry_from
                    and holder_is_live(claim, found.get(h), now=now, ttl=ttl, key=key, keys_of=keys_of)]

        # Two overlapping requests racing may each win some of the cells both need, and each see the other's hold
        # as live: both would lose. Tie-break by id: a request yields at once to a pending hold (its booking not
        # written yet) of a lower id, and waits briefly for pending holds of higher ids to be released (they yield
        # to it). Only liveness: safety rests on the claims alone.
        for pause in YIELD_PAUSES:
            waiting = {
                key: claim for key, claim in claims.items()
                if (live := live_holders(key, claim)) and all(found.get(h) is None and h > holder for h in live)
            }
            if not waiting:
                break
            _sleep(pause)
            reread = self._client.batch(
                identity, {key: event_get_request(claims_calendar, claim["id"]) for key, claim in waiting.items()}
            )
            for key in waiting:
                answer = reread.get(key)
                if isinstance(answer, dict):
                    claims[key] = answer
            found.update(self._holders_of(calendar, identity, claims, carry_from, known=found))
        takes: list[tuple[str, dict[str, Any], dict[str, str]]] = []  # (key, claim, properties to write)
        token_held = any(is_day_token(key) for key in held) or any(is_day_token(key) for key in mine)
        free_tokens: list[str] = []
        for key, claim in claims.items():
            if live_holders(key, claim):
                continue
            carried = carry_from if carry_from is not None and carry_from in holders(claim) else None
            if is_day_token(key) and carried is None:
                free_tokens.append(key)  # one is all a booking needs: chosen below, so racing takers spread out
                continue
            if carried is not None:
                token_held = token_held or is_day_token(key)
                takes.append((key, claim, hold_properties(calendar.slug, key, carried, held_at(claim) or now,
                                                          also=holder, attempt=attempt)))
            else:
                takes.append((key, claim, hold_properties(calendar.slug, key, holder, now, attempt=attempt)))
        if free_tokens and not token_held:
            key = min(free_tokens, key=lambda k: digest("token", holder, k))
            takes.append((key, claims[key], hold_properties(calendar.slug, key, holder, now, attempt=attempt)))
        for key, claim in mine.items():
            takes.append((key, claim, {P_ATTEMPT: attempt, P_HELD_AT: now.astimezone(UTC).isoformat()}))
        if not takes:
            return
        results = self._client.batch(identity, {
            f"take{n}": event_patch_request(
                claims_calendar, claim["id"], {"status": "confirmed", "extendedProperties": {"private": props}},
                etag=claim.get("etag"),
            )
            for n, (key, claim, props) in enumerate(takes)
        })
        for n, (key, _, _) in enumerate(takes):
            answer = results.get(f"take{n}")
            if isinstance(answer, dict):
                held[key] = {**answer, INHERITED: True} if key in mine else answer
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
        answers = self._client.batch(identity, {h: event_get_request(calendar.calendar_id, h) for h in others})
        for booking_id in others:
            answer = answers.get(booking_id)
            if isinstance(answer, NotFound):
                found[booking_id] = None
            elif isinstance(answer, dict):
                found[booking_id] = answer
            else:
                raise as_error(answer)
        return found
