"""The booking configuration: one TOML file, validated at start-up, every problem reported at once.

``load_config(path)`` / ``parse_config(text)`` return a frozen :class:`Config` or raise one
:class:`ConfigError` listing each problem with its place in the file (``calendars[1].hours.mon[0]``) and what
is expected there. Unknown keys are errors, so a typo is never silently ignored. Every key is documented in
``config/README.md``. This module never reads the environment; entry points pass the path in.

Validation runs in two passes whose problems are reported together: pydantic checks each value where it
stands (types, ranges, formats), then :mod:`shared.config.relations` checks rules that relate several keys (unique
slugs, ``act_as`` for delegated calendars, ``owner`` only with ``allow_owner`` or ``owner_scopes``, sharing
inside the company's domains unless ``allow_outside_domain``, notice shorter than horizon, and the teams' rules in
:mod:`shared.config.teams`) on the raw TOML data, so they are reported even when other values are wrong.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from .calendars import BookingConfig, CalendarConfig, MeetingType, TeamConfig, WeeklyHours
from .messages import file_order, problem_from_error
from .problems import ConfigError, ConfigProblem
from .relations import relation_problems
from .root import Config
from .services import (
    BotCheckConfig,
    CredentialsConfig,
    GoogleConfig,
    IdentityConfig,
    LimitsConfig,
    SharingConfig,
    SnapshotConfig,
    SyncConfig,
)

__all__ = [
    "BookingConfig",
    "BotCheckConfig",
    "CalendarConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "CredentialsConfig",
    "GoogleConfig",
    "IdentityConfig",
    "LimitsConfig",
    "MeetingType",
    "SharingConfig",
    "SnapshotConfig",
    "SyncConfig",
    "TeamConfig",
    "WeeklyHours",
    "load_config",
    "parse_config",
]


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML config file. Raises :class:`ConfigError` (also for unreadable files)."""
    source = os.fspath(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(source, [ConfigProblem("", f"cannot read the file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigProblem("", "expected UTF-8 text (TOML files are UTF-8)")]) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate TOML text; ``source`` names it in the error message."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigProblem("", f"not valid TOML: {exc}")]) from None
    related = list(relation_problems(data))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        value_problems = [problem_from_error(error) for error in exc.errors(include_url=False)]
        raise ConfigError(source, sorted([*value_problems, *related], key=file_order)) from None
    if related:
        raise ConfigError(source, sorted(related, key=file_order))
    return config
