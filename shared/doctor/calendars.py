"""Per bookable calendar: `calendar.<slug>.access` (delegation), `.freebusy` and the `.insert` dry run."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time

from ..calendar_client import Identity
from ..config import CalendarConfig
from ..credentials import (
    BOOKING_SCOPES,
)
from ..errors import AppError, DelegationError, Gone, NotFound, SecretError, UpstreamUnavailable
from .base import (
    _ACCESS_REASONS,
    _DRY_RUN_AHEAD,
    _DRY_RUN_LENGTH,
    _FREEBUSY_WINDOW,
    DOCTOR_PROPERTY,
    DOCTOR_SUMMARY,
    DoctorBase,
    _short,
)


class CalendarChecks(DoctorBase):
    def check_calendar(self, calendar: CalendarConfig) -> None:
        slug = calendar.slug
        usable = self.check_access(calendar)
        if "booking" not in self.functions:
            return  # free/busy and insert are what booking does; sharing needs only the access check
        if not usable:
            for suffix, label in (("freebusy", "free/busy"), ("insert", "insert")):
                why = f"{slug}: access with {_short(BOOKING_SCOPES)} must work first"
                self.skipped(f"calendar.{slug}.{suffix}", f"{slug}: {label}", why)
            return
        self.check_freebusy(calendar)
        self.check_insert(calendar)

    def check_access(self, calendar: CalendarConfig) -> bool:
        """Report the access check; True when the booking scopes work (so free/busy and insert can be tried,
        even if only the sharing scopes are missing)."""
        assert self.credentials is not None
        check_id, label = f"calendar.{calendar.slug}.access", f"{calendar.slug}: access"
        if calendar.mode == "delegated":
            self._check_delegation(check_id, label, calendar.act_as or "", self.needed_scopes, calendar)
            return not set(self._last_missing) & set(BOOKING_SCOPES) if self._last_missing is not None else False
        scopes = BOOKING_SCOPES
        try:
            self.credentials.ready(calendar.mode, None, scopes)
        except AppError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error), reason=error.details.get("reason"))
            return False
        if calendar.mode == "direct":
            summary = (
                f"acts as {self.client_email} itself (mode direct): {calendar.calendar_id} must be shared with it"
            )
        else:
            summary = f"acts as the authorized user with {_short(scopes)}"
        self.passed(check_id, label, summary)
        return True

    def _check_delegation(
        self,
        check_id: str,
        label: str,
        subject: str,
        scopes: tuple[str, ...],
        calendar: CalendarConfig | None,
    ) -> bool:
        assert self.credentials is not None
        self._last_missing = None  # None: failed for another reason than missing scopes
        try:
            self.credentials.ready("delegated", subject, scopes)
        except DelegationError as error:
            reason = error.details.get("reason")
            if reason == "unauthorized_client":
                missing = self._missing_scopes(subject, scopes)
                self._last_missing = list(missing or scopes)
                client = self.client_id or "?"
                if missing and len(missing) < len(scopes):
                    summary = (
                        f"client ID {client} may not act as {subject} with {_short(missing)}: "
                        "missing from its domain-wide delegation grant"
                    )
                else:
                    summary = (
                        f"client ID {client} may not act as {subject}: it has no domain-wide delegation grant "
                        f"for {_short(scopes)}"
                    )
                self.failed(
                    check_id,
                    label,
                    summary,
                    self.dwd_fix(),
                    **self.dwd_details(missingScopes=list(missing or scopes), subject=subject, reason=reason),
                )
                return False
            where = (
                f"calendars[{self._index(calendar)}].act_as of {calendar.slug}" if calendar else "sync.act_as"
            )
            self.failed(
                check_id,
                label,
                f"Google does not know the user {subject} (or the user is suspended or deleted)",
                f"Set {where} in the config to an active user of the Workspace domain (for a calendar: its owner, "
                "or a user it is shared with as 'Make changes to events').",
                subject=subject,
                reason=reason,
            )
            return False
        except SecretError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error), reason=error.details.get("reason"))
            return False
        except AppError as error:
            self.failed(check_id, label, error.message, self._generic_fix(error))
            return False
        self._last_missing = []
        self.passed(
            check_id,
            label,
            f"{self.client_email} may act as {subject} with {_short(scopes)}",
            subject=subject,
            scopes=list(scopes),
        )
        return True

    def _missing_scopes(self, subject: str, scopes: tuple[str, ...]) -> list[str]:
        """Probe each scope alone, as `gam check serviceaccount` does, to name the ones the grant lacks."""
        assert self.credentials is not None
        missing: list[str] = []
        for scope in scopes:
            try:
                self.credentials.ready("delegated", subject, (scope,))
            except DelegationError as error:
                if error.details.get("reason") == "unauthorized_client":
                    missing.append(scope)
            except AppError:
                pass
        return missing

    def check_freebusy(self, calendar: CalendarConfig) -> None:
        assert self.calendar is not None
        check_id, label = f"calendar.{calendar.slug}.freebusy", f"{calendar.slug}: free/busy"
        identity = self.identity(calendar)
        start = self.now().replace(microsecond=0)
        try:
            answer = self.calendar.free_busy(identity, [calendar.calendar_id], start, start + _FREEBUSY_WINDOW)
        except AppError as error:
            self.failed(check_id, label, f"free/busy failed: {error.message}", self._generic_fix(error))
            return
        result = answer[calendar.calendar_id]
        who = self.principal(identity.mode, identity.subject)
        if result.error:
            self.failed(
                check_id,
                label,
                f"free/busy of {calendar.calendar_id} as {who} answered {result.error!r}",
                self._visibility_fix(calendar, who),
                reason=result.error,
            )
            return
        self.passed(
            check_id,
            label,
            f"{calendar.calendar_id} as {who}: {len(result.busy)} busy interval(s) in the next 7 days",
        )

    def _visibility_fix(self, calendar: CalendarConfig, who: str, *, write: bool = False) -> str:
        need = "'Make changes to events'"
        if not write:
            need = f"at least 'See only free/busy' ({need} to book)"
        if calendar.mode == "direct":
            return (
                f"Share {calendar.calendar_id} with {who} with {need} (Google Calendar > Settings and sharing > "
                f"Share with specific people), or switch calendar {calendar.slug} to mode = \"delegated\" with "
                "act_as = the calendar's owner."
            )
        if calendar.mode == "delegated":
            return (
                f"Check calendars[{self._index(calendar)}].calendar_id, and that {who} can see it: set act_as to the "
                f"calendar's owner, or share {calendar.calendar_id} with {who} with {need}."
            )
        return f"Share {calendar.calendar_id} with the account that made the authorized_user grant, with {need}."

    def check_insert(self, calendar: CalendarConfig) -> None:
        assert self.calendar is not None
        client = self.calendar
        check_id, label = f"calendar.{calendar.slug}.insert", f"{calendar.slug}: insert"
        identity = self.identity(calendar)
        who = self.principal(identity.mode, identity.subject)
        event_id = "doctor" + secrets.token_hex(10)  # base32hex alphabet [a-v0-9], fresh per run
        start = datetime.combine((self.now() + _DRY_RUN_AHEAD).date(), time(3, 0), UTC)
        body = {
            "id": event_id,
            "summary": DOCTOR_SUMMARY,
            "description": (
                "Written by `python -m shared.doctor` to check that the booking service may write to this calendar, "
                "and deleted again at once. If you can read this, the clean-up failed: delete this event."
            ),
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + _DRY_RUN_LENGTH).isoformat(), "timeZone": "UTC"},
            "transparency": "transparent",
            "visibility": "private",
            "reminders": {"useDefault": False},
            "extendedProperties": {"private": {DOCTOR_PROPERTY: "1"}},
        }
        inserted = False
        failure: AppError | None = None
        cleanup: str | None = None
        try:
            try:
                client.insert_event(identity, calendar.calendar_id, body, send_updates="none")
                inserted = True
            except AppError as error:
                if error.details.get("reason") == "duplicate":  # a retried insert that had landed: ours
                    inserted = True
                else:
                    failure = error
        finally:
            # Clean up whenever the event may exist: inserted, unknown (Google unavailable: it may have landed),
            # or an unexpected exception on its way out of here.
            if inserted or failure is None or isinstance(failure, UpstreamUnavailable):
                cleanup = self._delete_and_verify(identity, calendar.calendar_id, event_id)
        by_hand = (
            f"Delete the event titled {DOCTOR_SUMMARY!r} on {start.date().isoformat()} from {calendar.calendar_id} "
            "by hand, then run the doctor again."
        )
        if failure is not None:
            reason = failure.details.get("reason")
            if isinstance(failure, NotFound) or reason in _ACCESS_REASONS:
                fix = self._visibility_fix(calendar, who, write=True)
            else:
                fix = self._generic_fix(failure)
            summary = f"insert into {calendar.calendar_id} as {who} failed: {failure.message or reason}"
            if cleanup is not None:
                summary += f"; the test event {event_id} may have landed and {cleanup}"
                fix += "\n" + by_hand
            self.failed(check_id, label, summary, fix, reason=reason, eventId=event_id)
        elif cleanup is not None:
            self.failed(check_id, label, f"inserted test event {event_id}, but {cleanup}", by_hand, eventId=event_id)
        else:
            self.passed(
                check_id,
                label,
                f"dry run as {who}: inserted a private, transparent test event on {start.date().isoformat()} "
                "(sendUpdates=none), deleted it, verified it is gone",
                eventId=event_id,
            )

    def _delete_and_verify(self, identity: Identity, calendar_id: str, event_id: str) -> str | None:
        """Delete the test event and confirm it is gone; None on success, else what went wrong."""
        assert self.calendar is not None
        try:
            self.calendar.delete_event(identity, calendar_id, event_id, send_updates="none")
        except (NotFound, Gone):
            pass  # never landed, or a retried delete that had landed
        except AppError as error:
            return f"deleting it failed: {error.message}"
        try:
            event = self.calendar.get_event(identity, calendar_id, event_id)
        except (NotFound, Gone):
            return None
        except AppError as error:
            return f"checking that it is gone failed: {error.message}"
        if event.get("status") == "cancelled":
            return None
        return f"it is still there after deleting it (status {event.get('status')!r})"

