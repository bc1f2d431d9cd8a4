"""The sync function's own identity (`sync.access`, `sync.freebusy`) when it asks as one user."""

from __future__ import annotations

from ..calendar_client import Identity
from ..credentials import (
    SYNC_SCOPES,
)
from ..errors import AppError
from .base import _FREEBUSY_WINDOW
from .calendars import CalendarChecks


class SyncChecks(CalendarChecks):
    def check_sync(self) -> None:
        assert self.config is not None
        assert self.calendar is not None
        sync = self.config.sync
        if not sync.act_as:
            return  # each calendar is asked as itself: the per-calendar checks cover it
        mode = sync.mode
        subject = sync.act_as if mode == "delegated" else None
        if mode == "delegated":
            ok = self._check_delegation("sync.access", "sync: access", sync.act_as, SYNC_SCOPES, None)
        else:
            ok = self.check_sync_plain(mode)
        if not ok:
            self.skipped("sync.freebusy", "sync: free/busy", "sync: access must work first")
            return
        identity = Identity(mode, subject, SYNC_SCOPES)
        who = self.principal(mode, subject)
        ids = [calendar.calendar_id for calendar in self.config.calendars]
        start = self.now().replace(microsecond=0)
        try:
            answer = self.calendar.free_busy(identity, ids, start, start + _FREEBUSY_WINDOW)
        except AppError as error:
            self.failed("sync.freebusy", "sync: free/busy", f"free/busy failed: {error.message}",
                        self._generic_fix(error))
            return
        errors = {cid: result.error for cid, result in answer.items() if result.error}
        if errors:
            listed = ", ".join(f"{cid} ({reason})" for cid, reason in errors.items())
            self.failed(
                "sync.freebusy",
                "sync: free/busy",
                f"as {who}, free/busy has errors for {listed}",
                f"Let {who} see those calendars' free/busy (Workspace shares free/busy inside the domain by default: "
                "Admin console > Apps > Google Workspace > Calendar > Sharing settings), or remove sync.act_as so "
                "each calendar is asked as its own user.",
                calendars=sorted(errors),
            )
            return
        self.passed("sync.freebusy", "sync: free/busy", f"as {who}: all {len(ids)} calendars answer free/busy")

    def check_sync_plain(self, mode: str) -> bool:
        assert self.credentials is not None
        try:
            self.credentials.ready(mode, None, SYNC_SCOPES)
        except AppError as error:
            self.failed("sync.access", "sync: access", error.message, self._generic_fix(error))
            return False
        self.passed("sync.access", "sync: access", f"acts as {self.principal(mode, None)} (mode {mode})")
        return True

