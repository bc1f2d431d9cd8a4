"""Limits on what one client or one visitor can make the public booking function do (issue 13).

Layers, cheapest first, all before anything is written to Google:

1. per client (its address, `shared.client_address`), at this instance: a token bucket for bookings and one for
   `live=true` slot reads. An instance only sees its own traffic, so with N instances a client gets up to N
   times the rate; Cloud Armor in front (infra, optional) is the global limit.
2. the visitor's address: company-domain visitors and international (IDN) domains as config says.
3. an optional bot check (Cloudflare Turnstile), verified server-side with the site's secret.
4. per visitor, with Google as the only store, keyed by a digest of the normalized email (`wcbVisitor`, so
   `+tags` and case do not make a new visitor):
   - future bookings: one events.list of the calendar filtered by the booking's private `wcbVisitor` property
     (confirmed bookings keep their properties in lists);
   - bookings per day: a booking attempt takes one of the visitor's `limits.bookings_per_visitor_per_day`
     tickets for the calendar's local day, events in the claims calendar whose ids Google keeps unique (an
     insert of a taken id, deleted or not, is 409 `duplicate`). Cancelling gives no ticket back, so
     book-and-cancel cycles count, and with them the invitation and cancellation mails Google sends to one
     address: at most 2 x `limits.bookings_per_visitor_per_day` a day per calendar. Counting cancelled bookings
     in a list would not do: Google lists deleted events with only their id guaranteed (emulator/CALENDAR.md).
     An attempt that then loses its slot has spent its ticket (the harsher reading: a limit on attempts).

A team booking (config `[[teams]]`) may land on any member, so every member's limits apply to it (a day ticket is
taken on each member's calendar). A move (PATCH) counts as a booking: it takes from the same per-client bucket,
and a moved booking is a new event made for the same visitor, so moves count under `bookings_per_visitor_per_day`
(a visitor at the limit can no longer move; cancelling stays possible). It does not change the visitor's number
of future bookings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .availability import identity_for
from .claims import digest
from .clock import parse_rfc3339
from .errors import (
    Forbidden,
    GoogleApiError,
    GoogleConflict,
    InvalidRequest,
    TooManyRequests,
    UpstreamUnavailable,
)
from .events import P_REQUEST, P_VISITOR, is_decided, private_properties
from .logs import log
from .visitor_text import in_domains, visitor_digest

if TYPE_CHECKING:
    from .booking import NewBooking
    from .calendar_client import CalendarClient
    from .config import BotCheckConfig, CalendarConfig, Config
    from .secrets import Accessor
    from .tokens import BookingTokens

P_TICKET = "wcbTicket"  # on a visitor's day ticket (see `_take_day_ticket`)
P_TICKET_CALENDAR = "wcbTicketCalendar"
P_TICKET_HOLDER = "wcbTicketHolder"  # the request (its tag) that took the ticket
BOT_TOKEN_HEADER = "X-Turnstile-Token"  # noqa: S105 - a header name, not a secret
_MAX_KEYS = 10_000


class TokenBucket:
    """Per-key token buckets (thread-safe): `per_minute` tokens a minute, bursts up to `burst`."""

    def __init__(self, per_minute: int, *, burst: int | None = None, now: Callable[[], datetime]) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self._now = now
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when a token was taken; else the seconds until the next one."""
        moment = self._now().timestamp()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, moment))
            tokens = min(self.capacity, tokens + max(0.0, moment - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, moment)
                if len(self._buckets) > _MAX_KEYS:
                    self._prune(moment)
                return 0.0
            self._buckets[key] = (tokens, moment)
            return (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0

    def _prune(self, moment: float) -> None:
        """Forget buckets that have refilled (they hold no information), else the oldest half."""
        full = [k for k, (t, at) in self._buckets.items() if t + (moment - at) * self.rate >= self.capacity]
        for key in full or sorted(self._buckets, key=lambda k: self._buckets[k][1])[: len(self._buckets) // 2]:
            self._buckets.pop(key, None)


class BookingGuard:
    def __init__(
        self,
        config: Config,
        client: CalendarClient,
        now: Callable[[], datetime],
        *,
        secret_accessor: Callable[[], Accessor] | None = None,
    ) -> None:
        limits = config.limits
        self._config = config
        self._client = client
        self._now = now
        self._bookings = TokenBucket(limits.bookings_per_client_per_minute, now=now)
        self._live = TokenBucket(limits.live_slots_per_client_per_minute, now=now)
        self._secret_accessor = secret_accessor
        self._bot_secret: str | None = None
        self._lock = threading.Lock()

    def before_live_slots(self, client: str) -> None:
        self._take(self._live, client, "live availability reads")

    def before_move(
        self, booking_id: str, token: str | None, client: str, tokens: Callable[[], BookingTokens],
        tag: str | None = None,
    ) -> None:
        """A move's limits. A token or booking that is not good is left for the move itself to refuse."""
        self._take(self._bookings, client, "bookings")
        if self._config.limits.bookings_per_visitor_per_day is None:
            return
        try:
            calendar = self._config.calendar_by_slug(tokens().check(token, booking_id))
        except Forbidden:
            return
        if calendar is None:
            return
        try:
            event = self._client.get_event(identity_for(calendar), calendar.calendar_id, booking_id)
        except GoogleApiError:
            return
        digest = private_properties(event).get(P_VISITOR)
        if digest and not is_decided(event):
            self._visitor_limits_for(calendar, digest, future=False, tag=tag)

    def before_booking(
        self, request: NewBooking, client: str, bot_token: str | None, tag: str | None = None
    ) -> None:
        """`tag` names the request across its repeats (`BookingService.request_tag`): a repeat is not counted
        again, so a retried 201 is answered, not refused."""
        self._take(self._bookings, client, "bookings")
        booking = self._config.booking
        if booking.company_visitors == "refuse" and in_domains(request.email, booking.company_domains):
            raise InvalidRequest(
                "Addresses of this company cannot book through the public page.",
                fields={"email": "an address outside the company's domains"},
            )
        domain = request.email.rpartition("@")[2]
        if not booking.allow_idn_emails and any(label.startswith("xn--") for label in domain.split(".")):
            raise InvalidRequest(
                "International (IDN) email domains are not accepted here.",
                fields={"email": "an address with a plain ASCII domain"},
            )
        if self._config.bot_check is not None:
            self._verify_bot(self._config.bot_check, bot_token, client)
        self._visitor_limits(request, tag)

    # --- private ----------------------------------------------------------------------------------------------
    def _take(self, bucket: TokenBucket, client: str, what: str) -> None:
        wait = bucket.take(client)
        if wait > 0:
            log("client rate limited", severity="WARNING", limit=what)
            raise TooManyRequests(f"Too many {what} from this client; try again shortly.",
                                  retry_after=max(1, int(wait + 0.999)))

    def _visitor_limits(self, request: NewBooking, tag: str | None) -> None:
        limits = self._config.limits
        if limits.future_bookings_per_visitor is None and limits.bookings_per_visitor_per_day is None:
            return
        team = self._config.team_by_slug(request.calendar)
        if team is not None:  # a team booking may land on any member: each member's limits apply
            for slug in team.members:
                member = self._config.calendar_by_slug(slug)
                if member is not None:
                    self._visitor_limits_for(member, visitor_digest(request.email), future=True, tag=tag)
            return
        calendar = self._config.calendar_by_slug(request.calendar)
        if calendar is None:
            return  # the booking itself answers 404
        self._visitor_limits_for(calendar, visitor_digest(request.email), future=True, tag=tag)

    def _visitor_limits_for(self, calendar: CalendarConfig, visitor: str, *, future: bool, tag: str | None) -> None:
        limits = self._config.limits
        now = self._now()
        if future and limits.future_bookings_per_visitor is not None:
            events = self._client.list_events(
                identity_for(calendar), calendar.calendar_id, time_min=now - timedelta(days=1),
                time_max=now + timedelta(days=self._config.booking.horizon_days + 1),
                private_properties={P_VISITOR: visitor},
            )
            upcoming = sum(1 for e in events if not is_decided(e) and _end(e) > now and not _made_by(e, tag))
            if upcoming >= limits.future_bookings_per_visitor:
                log("visitor limit reached", severity="WARNING", calendar=calendar.slug, limit="future_bookings")
                raise TooManyRequests(
                    f"This address already has {upcoming} upcoming bookings here; cancel one to book another.",
                    retry_after=3600, details={"limit": "future_bookings_per_visitor"},
                )
        if limits.bookings_per_visitor_per_day is not None:
            self._take_day_ticket(calendar, visitor, now, limits.bookings_per_visitor_per_day, tag)

    def _take_day_ticket(
        self, calendar: CalendarConfig, visitor: str, now: datetime, limit: int, tag: str | None
    ) -> None:
        """Take the first free of the visitor's tickets for today, or refuse (429) when all are taken. A ticket
        taken by this very request before (`tag`: a repeat) is its own."""
        day = now.astimezone(calendar.zone).date()
        identity = identity_for(calendar)
        for number in range(limit):
            body = _ticket_body(calendar, visitor, day.isoformat(), number, tag)
            try:
                self._client.insert_event(identity, calendar.claims_calendar_id, body)
                return
            except GoogleConflict as error:
                if error.reason != "duplicate":
                    raise
            if tag is not None:
                taken = self._client.get_event(identity, calendar.claims_calendar_id, str(body["id"]))
                if private_properties(taken).get(P_TICKET_HOLDER) == tag:
                    return
        log("visitor limit reached", severity="WARNING", calendar=calendar.slug, limit="bookings_per_day")
        raise TooManyRequests(
            "This address made too many bookings (or moves) here today; try again tomorrow.",
            retry_after=3600, details={"limit": "bookings_per_visitor_per_day"},
        )

    def _verify_bot(self, check: BotCheckConfig, token: str | None, client: str) -> None:
        import requests

        if not token or len(token) > 2048:
            raise InvalidRequest(f"Send the bot check's token in {BOT_TOKEN_HEADER}.",
                                 fields={BOT_TOKEN_HEADER: "the Turnstile widget's token"})
        form = {"secret": self._secret(check), "response": token, "remoteip": client}
        try:
            answer: Any = requests.post(check.verify_url, data=form, timeout=5).json()
        except (requests.RequestException, ValueError):
            raise UpstreamUnavailable("The bot check cannot be verified now; try again shortly.") from None
        if not isinstance(answer, dict) or answer.get("success") is not True:
            codes = answer.get("error-codes") if isinstance(answer, dict) else None
            log("bot check failed", severity="WARNING", codes=codes)
            raise Forbidden("The bot check failed; reload the page and try again.")

    def _secret(self, check: BotCheckConfig) -> str:
        with self._lock:
            if self._bot_secret is None:
                if self._secret_accessor is None:
                    raise UpstreamUnavailable("The bot check's secret cannot be read.")
                _, payload, _ = self._secret_accessor()(check.secret)
                self._bot_secret = payload.decode().strip()
            return self._bot_secret


def _end(event: dict[str, Any]) -> datetime:
    end = event.get("end") or {}
    if "dateTime" in end:
        return parse_rfc3339(str(end["dateTime"]))
    return parse_rfc3339(str(end.get("date", "1970-01-01")) + "T00:00:00+00:00")


def _made_by(event: dict[str, Any], tag: str | None) -> bool:
    return tag is not None and private_properties(event).get(P_REQUEST) == tag


def _ticket_body(calendar: CalendarConfig, visitor: str, day: str, number: int, tag: str | None) -> dict[str, Any]:
    """A visitor's day ticket: an all-day, transparent, private event that blocks no time."""
    from datetime import date

    following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {
        "id": "v" + digest("visitor-day", calendar.calendar_id, visitor, day, str(number))[:31],
        "summary": "Booking limit ticket (do not edit)",
        "start": {"date": day},
        "end": {"date": following},
        "transparency": "transparent",
        "visibility": "private",
        "extendedProperties": {"private": {P_TICKET: "1", P_TICKET_CALENDAR: calendar.slug,
                                           P_TICKET_HOLDER: tag or ""}},
    }
