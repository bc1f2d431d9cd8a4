"""Injected faults and latency, chosen per API method id (glob patterns such as `calendar.events.*`)."""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .errors import DropConnection, GoogleError

# What each fault kind looks like on the wire (Calendar's "Handle API errors" guide).
FAULT_KINDS: dict[str, Callable[[], GoogleError | DropConnection]] = {
    "429": lambda: GoogleError(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"),
    "rateLimitExceeded": lambda: GoogleError(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"),
    "userRateLimitExceeded": lambda: GoogleError(
        403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"
    ),
    "quotaExceeded": lambda: GoogleError(
        403, "quotaExceeded", "Calendar usage limits exceeded.", domain="usageLimits"
    ),
    "500": lambda: GoogleError(500, "backendError", "Backend Error"),
    "503": lambda: GoogleError(503, "backendError", "The service is currently unavailable."),
    "drop": DropConnection,
}


@dataclass
class FaultRule:
    method: str = "*"
    kind: str = "503"
    rate: float = 1.0
    remaining: int | None = None  # stop after this many injections; None = forever


@dataclass
class LatencyRule:
    method: str = "*"
    ms: float = 0.0


class Faults:
    """Thread-safe fault and latency table. Control-API paths are never subject to it."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.faults: list[FaultRule] = []
        self.latency: list[LatencyRule] = []

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.latency.clear()

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        parsed = [FaultRule(**rule) for rule in rules]
        for rule in parsed:
            if rule.kind not in FAULT_KINDS:
                raise GoogleError(400, "invalid", f"Unknown fault kind {rule.kind!r}; one of {sorted(FAULT_KINDS)}")
            if not 0.0 <= rule.rate <= 1.0:
                raise GoogleError(400, "invalid", "Fault rate must be within 0..1")
        with self._lock:
            self.faults = parsed

    def set_latency(self, rules: list[dict[str, Any]]) -> None:
        parsed = [LatencyRule(**rule) for rule in rules]
        with self._lock:
            self.latency = parsed

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [asdict(f) for f in self.faults], "latency": [asdict(r) for r in self.latency]}

    def delay_seconds(self, method_id: str) -> float:
        with self._lock:
            for rule in self.latency:
                if fnmatch.fnmatchcase(method_id, rule.method):
                    return rule.ms / 1000.0
        return 0.0

    def pick(self, method_id: str) -> GoogleError | DropConnection | None:
        """The fault to inject for this call, if any (drawn at the rule's rate)."""
        with self._lock:
            for rule in self.faults:
                if not fnmatch.fnmatchcase(method_id, rule.method):
                    continue
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if self._random.random() >= rule.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return FAULT_KINDS[rule.kind]()
        return None
