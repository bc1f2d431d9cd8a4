"""What the booking use cases take and answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


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
    zone: ZoneInfo  # the zone the answer is written in: the visitor's when they gave one, else the calendar's
    meet_link: str | None = None
    moved_to: str | None = None
    invitation: dict[str, Any] | None = None  # where Google's invitation went: {"sent", "to"} or {"sent", "reason"}
    type: str | None = None  # the meeting type's slug
    confirm_by: datetime | None = None  # a pending booking (booking.confirm_email): confirm before this
    team: str | None = None  # the team it was booked through (config [[teams]]); `calendar` is the member's

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "calendar": self.calendar,
            "start": self.start.astimezone(self.zone).isoformat(),
            "end": self.end.astimezone(self.zone).isoformat(),
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
        if self.confirm_by is not None:
            body["confirmBy"] = self.confirm_by.astimezone(self.zone).isoformat()
        if self.team:
            body["team"] = self.team
        return body


@dataclass(frozen=True)
class BookingResult:
    booking: BookingView
    token: str
    created: bool  # False when an earlier identical request already made this booking
