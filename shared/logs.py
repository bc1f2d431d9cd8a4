"""Structured logging: one JSON object per line on stdout, which Cloud Logging turns into a structured entry.

Field values whose names look secret (token, secret, key, password, authorization, assertion) are replaced
before anything is written, so a careless call cannot leak a credential into the logs.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from typing import Any

_SECRET_NAME = re.compile(r"token|secret|password|authorization|assertion|private|credential|(^|_)key$", re.I)
_SECRET_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bya29\.[\w.-]+|\beyJ[\w-]+\.[\w-]+\.?[\w-]*")


def redact(value: Any, name: str = "") -> Any:
    if name and _SECRET_NAME.search(name):
        return "[redacted]"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub("[redacted]", value)
    return value


def log(event: str, *, severity: str = "INFO", **fields: Any) -> None:
    # No "time" field: Cloud Logging stamps each entry when it receives it, and a log line reads no clock.
    entry = {"severity": severity, "message": event, **redact(fields)}
    sys.stdout.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def where_raised(error: BaseException) -> str:
    """Where an unexpected error was raised, as `module:line in function` (no file system paths)."""
    frames = list(traceback.walk_tb(error.__traceback__))
    if not frames:
        return "unknown"
    frame, line = frames[-1]
    return f"{frame.f_globals.get('__name__', '?')}:{line} in {frame.f_code.co_name}"
