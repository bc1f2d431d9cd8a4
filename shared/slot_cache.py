"""A one-second cache of `GET /slots` answers computed from the snapshot, per instance.

Under load most slot requests ask the same few questions (this week of this calendar), and each answer costs
~2 ms of CPU (the slot math and formatting a few hundred slots), which is what caps one instance's rate. An
answer is reused only while everything it was computed from is unchanged: the same query, the same snapshot
object, the same generation of the instance's own knowledge since (`Availability.state`: a booking made or
cancelled here, a calendar found stale, each bumps it), and the same second of the clock (minimum notice and
"now" move with time). Live answers (`?live=true`, or no fresh snapshot) are never cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from .availability import Availability
from .clock import Clock

_MAX_ENTRIES = 512


class SlotAnswers:
    def __init__(self, availability: Availability, clock: Clock, *, max_entries: int = _MAX_ENTRIES) -> None:
        self._availability = availability
        self._clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[object, dict[str, Any]]] = {}

    def get(self, query: Hashable, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        snapshot, generation = self._availability.state()
        if snapshot is None:
            return compute()
        key = (query, id(snapshot), generation, int(self._clock.now().timestamp()))
        with self._lock:
            found = self._answers.get(key)
        if found is not None and found[0] is snapshot:  # the object itself: an id is reused once it is freed
            return found[1]
        answer = compute()
        if answer.get("source") == "snapshot":
            with self._lock:
                if len(self._answers) >= self._max_entries:
                    self._answers.clear()  # keys of past seconds are never asked again
                self._answers[key] = (snapshot, answer)
        return answer
