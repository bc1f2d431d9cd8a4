"""Tools to interleave requests on separate instances (runtimes) at a chosen step.

The project's own Calendar client of a runtime is wrapped, never Google's library."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from shared.errors import AppError
from shared.events import P_INVITED, P_OUTCOME


def outcome(call: Callable[[], Any]) -> tuple[int, Any]:
    """(200, result) or (the error's HTTP status, the error)."""
    try:
        return 200, call()
    except AppError as error:
        return error.status, error


def private(body: dict[str, Any]) -> dict[str, str]:
    return dict((body.get("extendedProperties") or {}).get("private") or {})


def is_move_commit(body: dict[str, Any]) -> bool:
    return private(body).get(P_OUTCOME) == "moved"


def is_invitation(body: dict[str, Any]) -> bool:
    return bool(private(body).get(P_INVITED))


class _PausedCall:
    """Runs `call` in a thread that stops just before the first call of `runtime.calendar.<method>` that `when`
    picks (given the call's arguments), until `finish()`."""

    def __init__(self, runtime: Any, method: str, when: Callable[..., bool], call: Callable[[], Any]) -> None:
        self._at, self._go = threading.Event(), threading.Event()
        self.answer: tuple[int, Any] | None = None
        real = getattr(runtime.calendar, method)

        def paused(*args: Any, **kw: Any) -> Any:
            if when(*args, **kw) and not self._at.is_set():
                self._at.set()
                self._go.wait(10)
            return real(*args, **kw)

        setattr(runtime.calendar, method, paused)
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()
        assert self._at.wait(10), "the paused request never reached its step"

    def _run(self, call: Callable[[], Any]) -> None:
        self.answer = outcome(call)

    def finish(self) -> tuple[int, Any]:
        self._go.set()
        self._thread.join(10)
        assert self.answer is not None
        return self.answer


class Paused(_PausedCall):
    """Stops just before `runtime`'s first event patch whose body matches `when`."""

    def __init__(self, runtime: Any, when: Callable[[dict[str, Any]], bool], call: Callable[[], Any]) -> None:
        super().__init__(runtime, "patch_event", lambda identity, calendar_id, event_id, body, **kw: when(body),
                         call)


def writes_booking(parts: dict[str, Any]) -> bool:
    """The batch that inserts the booking event itself (its claims are held by then)."""
    return "booking" in parts


class PausedBatch(_PausedCall):
    """Stops just before `runtime`'s first batch whose parts match `when`."""

    def __init__(self, runtime: Any, when: Callable[[dict[str, Any]], bool], call: Callable[[], Any]) -> None:
        super().__init__(runtime, "batch", lambda identity, parts, *rest, **kw: when(parts), call)
