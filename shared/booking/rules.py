"""The rules a booking request must meet before anything is written: calendar, meeting type, duration, zone, the
slot grid and hours, and (from a fresh snapshot) a slot already known to be taken."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..availability import Availability, BusyView
from ..config import CalendarConfig, Config, MeetingType
from ..errors import InvalidRequest, NotFound, SlotUnavailable
from ..slots import SlotProblem, check_slot

_CONFLICT_PROBLEMS = (SlotProblem.BUSY, SlotProblem.DAY_FULL)
MAX_SLOTS_SPAN_DAYS = 62


def check_days(first_day: date, last_day: date) -> None:
    """The days a slots query may span."""
    if last_day < first_day:
        raise InvalidRequest("`to` is before `from`.", fields={"to": "a date on or after `from`"})
    if (last_day - first_day).days >= MAX_SLOTS_SPAN_DAYS:
        raise InvalidRequest(
            f"Ask for at most {MAX_SLOTS_SPAN_DAYS} days at once.",
            fields={"to": f"at most {MAX_SLOTS_SPAN_DAYS - 1} days after `from`"},
        )


def bookable_calendar(config: Config, slug: str) -> CalendarConfig:
    calendar = config.calendar_by_slug(slug)
    if calendar is None:
        known = [c.slug for c in config.calendars]
        raise NotFound(f"No bookable calendar {slug!r}; known: {', '.join(known)}.", details={"calendar": slug})
    return calendar


def meeting_type(config: Config, calendar: CalendarConfig, slug: str | None) -> MeetingType | None:
    kind = config.meeting_type(calendar, slug)
    if slug is not None and kind is None:
        known = [k.slug for k in calendar.meeting_types]
        raise InvalidRequest(
            f"Calendar {calendar.slug!r} has no meeting type {slug!r}"
            + (f"; it offers: {', '.join(known)}." if known else "; it has none (leave `type` out)."),
            fields={"type": f"one of {known}" if known else "absent"},
        )
    return kind


def zone_named(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(
            f"Unknown time zone {name!r}.", fields={"timezone": "an IANA time zone such as Europe/Berlin"}
        ) from None


def check_duration(config: Config, calendar: CalendarConfig, duration: int, kind: MeetingType | None = None) -> None:
    allowed = config.durations_of(calendar, kind)
    if duration not in allowed:
        what = f"Meeting type {kind.slug!r}" if kind is not None else f"Calendar {calendar.slug!r}"
        raise InvalidRequest(
            f"{what} offers durations {list(allowed)} (minutes).",
            fields={"duration": f"one of {list(allowed)}"},
        )


def check_rules(config: Config, calendar: CalendarConfig, start: datetime, end: datetime, now: datetime) -> None:
    if start < now:
        raise InvalidRequest(
            "This start is in the past; pick a time from /slots.",
            fields={"start": "a time in the future"},
            details={"reason": SlotProblem.TOO_SOON.value},
        )
    rules = config.slot_rules(calendar.slug)
    problem = check_slot(rules, start=start, duration=end - start, busy=(), now=now)
    if problem is not None:
        raise InvalidRequest(problem.message, fields={"start": problem.message}, details={"reason": problem.value})


def refuse_known_taken(
    config: Config, availability: Availability, calendar: CalendarConfig, start: datetime, end: datetime,
    now: datetime,
) -> bool:
    """Refuse a slot already known to be taken, before writing anything. True when the snapshot answered."""
    rules = config.slot_rules(calendar.slug)
    zone = calendar.zone
    day_start = datetime.combine(start.astimezone(zone).date(), time(0), zone)
    window = (
        min(day_start, start - rules.buffer_before),
        max(day_start + timedelta(days=1), end + rules.buffer_after),
    )
    view = availability.fresh_snapshot(calendar.slug, *window)
    if view is None:
        return False  # no snapshot: the live check rides along with the claims (`Claims.hold`)

    def verdict(view: BusyView) -> SlotProblem | None:
        return check_slot(
            rules,
            start=start,
            duration=end - start,
            busy=view.blocked(rules),
            now=now,
            bookings_that_day=view.bookings_per_day.get(start.astimezone(zone).date(), 0),
        )

    problem = verdict(view)
    if problem in _CONFLICT_PROBLEMS and view.local:
        # This instance's memory of its own bookings may have outlived a cancellation: ask Google.
        view = availability.live(calendar, *window)
        problem = verdict(view)
    if problem in _CONFLICT_PROBLEMS:
        assert problem is not None
        raise SlotUnavailable(problem.message, details={"reason": problem.value})
    return view.source == "snapshot"
