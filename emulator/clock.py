"""The emulator's clock: Google's "now" for everything the emulator stamps, expires or ages.

`created`/`updated`, etags, token expiry, ID token `iat`/`exp`, secret version and object times, the demo
schedule's "today" and the request log all read this clock. It follows the machine's time until pinned through
the control API (`POST /_emulator/clock`): `{"now": "<RFC 3339>", "frozen": true|false}` pins it (frozen: it
stands still; else it runs from there at the machine's speed), `{"advance": "PT5M"}` moves it on, `{"reset":
true}` returns to the machine's time. One clock per process, as one emulator runs per process.

One thing it does not judge: the times a client library stamps with the machine's own clock, which no test can
move (google-auth's JWT-bearer `iat`/`exp`). At Google both clocks agree; the emulator models that by checking
those assertions against the machine's clock (`host_now`), so pinning Google's time does not refuse every client.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class EmulatorClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0  # pinned time minus the machine's time, while running
        self._frozen_at: float | None = None
        self.epoch = 0  # bumped whenever the clock is moved on purpose: stamp sequences restart from the new time

    def now(self) -> float:
        """Seconds since the epoch on Google's clock."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def host_now(self) -> float:
        """The machine's clock: what client libraries stamp their own assertions with."""
        return time.time()

    def pin(self, instant: float, *, frozen: bool) -> None:
        with self._lock:
            self._frozen_at = instant if frozen else None
            self._offset = instant - time.time()
            self.epoch += 1

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            self._offset += seconds
            self.epoch += 1

    def reset(self) -> None:
        with self._lock:
            self._offset, self._frozen_at = 0.0, None
            self.epoch += 1

    @property
    def pinned(self) -> bool:
        with self._lock:
            return self._frozen_at is not None or self._offset != 0.0

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None

    def describe(self) -> dict[str, object]:
        instant = dt.datetime.fromtimestamp(self.now(), dt.UTC)
        return {
            "now": instant.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "frozen": self.frozen,
            "pinned": self.pinned,
        }


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration of days, hours, minutes and seconds (`PT5M`, `P1DT2H`, `-PT30S`)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip() in {"P", "PT", "-P", "-PT"}:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT5M or P1DT2H")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    seconds = (
        parts.get("days", 0) * 86400 + parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )
    return -seconds if match.group("sign") else seconds


def parse_instant(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 instant with offset."""
    try:
        instant = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise ValueError(f"{text!r} is not an RFC 3339 instant such as 2026-12-03T09:00:00Z") from None
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it as 2026-12-03T09:00:00Z")
    return instant.timestamp()


CLOCK = EmulatorClock()
