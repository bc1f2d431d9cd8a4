"""The in-process functions-framework apps the tests call, one per function per test session."""

from __future__ import annotations

from typing import Any

_FUNCTION_APPS: dict[str, Any] = {}


def function_app(name: str) -> Any:
    """The functions-framework app for `functions/<name>/main.py`, created once per test session."""
    if name not in _FUNCTION_APPS:
        from devserver.gateway import function_app as create

        _FUNCTION_APPS[name] = create(name)
    return _FUNCTION_APPS[name]
