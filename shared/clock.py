"""The one source of time for shared/: every "now", every elapsed interval, read through a `Clock`.

Production uses `SystemClock`. Tests and the local stack may pin the clock (`PinnedClock`): it starts at a chosen
instant and then runs at the machine's speed (or stands still when frozen), so a whole run can happen "on" a
Saturday in a DST week or on 29 February. The emulator has a clock of its own, pinned through its control API
(`POST /_emulator/clock`); pinning both to one instant makes the functions and their Google agree on "now".
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences between two readings mean anything."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


class PinnedClock:
    """A clock that reads `start` when created and then runs (or, when frozen, stands) from there."""

    def __init__(self, start: datetime, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._pin(start, frozen)

    def _pin(self, start: datetime, frozen: bool) -> None:
        if start.tzinfo is None:
            raise ValueError("a pinned clock needs a timezone-aware start")
        self._start = start.astimezone(UTC)
        self._started_at = time.monotonic()
        self._frozen = frozen

    def now(self) -> datetime:
        with self._lock:
            if self._frozen:
                return self._start
            return self._start + timedelta(seconds=time.monotonic() - self._started_at)

    def monotonic(self) -> float:
        # The pinned instant itself: advancing the clock ages caches as real time would.
        return self.now().timestamp()

    def set(self, start: datetime, *, frozen: bool | None = None) -> None:
        with self._lock:
            self._pin(start, self._frozen if frozen is None else frozen)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._start += delta

    def __repr__(self) -> str:
        return f"PinnedClock({self.now().isoformat()}, frozen={self._frozen})"


SYSTEM_CLOCK = SystemClock()


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 time as Google writes it (`...Z` or `...+01:00`): the one parser of shared/.

    Lenient as `datetime.fromisoformat` is (a value without offset comes back naive; callers that need an offset
    check it, as `parse_instant` does); ValueError for anything else."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with offset (`2027-03-28T00:30:00+01:00`), in UTC."""
    try:
        instant = parse_rfc3339(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 instant such as 2027-03-28T00:30:00+01:00") from None
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it as 2027-03-28T00:30:00+01:00")
    return instant.astimezone(UTC)


def parse_pin(text: str) -> PinnedClock:
    """A running clock pinned to start at the RFC 3339 instant `text`."""
    return PinnedClock(parse_instant(text))
