"""`locked_cached_property`: `functools.cached_property` that builds its value once even under threads.

Since Python 3.12 `cached_property` takes no lock, so two request threads reaching a cold instance's
`runtime.booking` at once would each build a `BookingService` (and its `Availability`, whose overlay of recent
bookings would then be split between two objects). This one builds under a lock; reads of a built value take
no lock (the value sits in the instance's `__dict__`, which wins over a non-data descriptor).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class locked_cached_property(Generic[T]):  # named like the functools decorator it replaces
    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self._lock = threading.RLock()
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> locked_cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | locked_cached_property[T]:
        if instance is None:
            return self
        values = instance.__dict__
        try:
            return values[self._name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with self._lock:
            if self._name not in values:
                values[self._name] = self._build(instance)
            return values[self._name]  # type: ignore[no-any-return]
