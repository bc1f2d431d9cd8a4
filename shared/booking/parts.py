"""What the booking use cases work with: built once by `BookingService` and handed to `Moves` and `TeamBookings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..availability import Availability
from ..calendar_client import CalendarClient
from ..config import CalendarConfig, Config
from ..tokens import BookingTokens
from .event import view
from .model import BookingResult
from .protocol import Claims


@dataclass(frozen=True)
class BookingParts:
    config: Config
    client: CalendarClient
    availability: Availability
    tokens: Callable[[], BookingTokens]
    now: Callable[[], datetime]
    claims: Claims

    def result(
        self, calendar: CalendarConfig, event: dict[str, Any], zone: ZoneInfo | None = None, *, created: bool
    ) -> BookingResult:
        """The answer with a booking: its view (in `zone`, else the calendar's) and its token."""
        return BookingResult(view(self.config, calendar, event, zone),
                             self.tokens().issue(event["id"], calendar.slug), created)


class WithParts:
    """A use case on `BookingParts`, each part at hand as an attribute."""

    def __init__(self, parts: BookingParts) -> None:
        self._parts = parts
        self._config = parts.config
        self._client = parts.client
        self._availability = parts.availability
        self._tokens = parts.tokens
        self._now = parts.now
        self._claims = parts.claims
