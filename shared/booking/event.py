"""The booking event: its body as written to Google, the invitation it sends, and the view answered for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .. import invitation
from ..claims import digest
from ..config import CalendarConfig, Config, MeetingType
from ..events import (
    MARKER,
    P_CALENDAR,
    P_EMAIL,
    P_MOVED_TO,
    P_OUTCOME,
    P_TEAM,
    P_VISITOR,
    Outcome,
    event_interval,
    is_decided,
    pending_until,
    private_properties,
)
from ..tokens import BookingTokens
from ..visitor_text import clean_block, clean_line, in_domains, visitor_digest
from .model import BookingView, NewBooking


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


def invitation_status(config: Config, calendar: CalendarConfig, email: str) -> dict[str, Any]:
    """Where Google's invitation for a booking by `email` goes: `{"sent": true, "to"}`, or why it does not."""
    if invites(config, calendar, email):
        return {"sent": True, "to": email}
    if not config.booking.invite_visitor:
        reason = "disabled"
    elif calendar.mode == "direct":
        reason = "calendar_cannot_invite"
    elif not email:
        reason = "no_email"
    else:
        reason = "company_domain"  # what `invites` refuses besides the above, however it matches domains
    return {"sent": False, "to": email, "reason": reason}


def uses_meet(config: Config, kind: MeetingType | None) -> bool:
    return kind.meet if kind is not None and kind.meet is not None else config.booking.add_meet_link


def clean_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Visitor text as it may reach a calendar: no control, bidirectional or zero-width characters, limited."""
    return (clean_block(value) if multiline else clean_line(value))[:limit]


def times(calendar: CalendarConfig, start: datetime, end: datetime) -> dict[str, Any]:
    zone = calendar.zone
    return {
        "start": {"dateTime": start.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
        "end": {"dateTime": end.astimezone(zone).isoformat(), "timeZone": calendar.timezone},
    }


def event_body(
    config: Config, calendar: CalendarConfig, request: NewBooking, kind: MeetingType | None, start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """The booking event for `request` (its id is added by the caller, once chosen)."""
    name = clean_text(request.name, 100)
    text = invitation.compose(
        title_template=config.booking.title_template,
        description_template=config.booking.description_template,
        company=config.booking.company_name,
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
        **times(calendar, start, end),
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
    if invites(config, calendar, request.email):
        body["attendees"] = [{"email": request.email, "displayName": name}]
    if uses_meet(config, kind):
        body["conferenceData"] = {
            "createRequest": {"requestId": digest(calendar.slug, request.email, start.isoformat())[:32],
                              "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        }
    return body


def with_links(
    config: Config, calendar: CalendarConfig, body: dict[str, Any], tokens: Callable[[], BookingTokens],
    confirm_until: datetime | None = None,
) -> dict[str, Any]:
    """`body` with the manage links of its id (their token is this booking's, so a move gets new ones); with
    `confirm_until`, a pending booking's confirm link first (its own confirmation token, shared/booking/confirm.py)."""
    confirm = None
    if confirm_until is not None:
        local = confirm_until.astimezone(calendar.zone)
        confirm = (tokens().issue_confirmation(body["id"], calendar.slug),
                   f"by {local.strftime('%A %d %B %Y, %H:%M')} ({calendar.timezone}), or the time is released")
    return invitation.with_links(body, config.booking.manage_url, body["id"],
                                 lambda: tokens().issue(body["id"], calendar.slug), confirm)


def view(config: Config, calendar: CalendarConfig, event: dict[str, Any], zone: ZoneInfo | None = None) -> BookingView:
    """The booking as answered, written in `zone` (default: the calendar's)."""
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
    moved_to = props.get(P_MOVED_TO) if cancelled and props.get(P_OUTCOME) == Outcome.MOVED else None
    until = pending_until(event)
    status = "cancelled" if cancelled else "pending" if until is not None else "confirmed"
    sent = invitation_status(config, calendar, props[P_EMAIL]) if props.get(P_EMAIL) else None
    return BookingView(event["id"], calendar.slug, span.start, span.end, status, zone or calendar.zone, meet,
                       moved_to or None, sent, props.get(invitation.P_TYPE) or None, until,
                       props.get(P_TEAM) or None)
