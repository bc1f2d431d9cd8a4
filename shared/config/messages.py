"""The first pass's problems in the file's words: pydantic's errors as paths (``calendars[1].hours.mon[0]``) and
what is expected there, unknown keys with the keys that table accepts, and the order the README lists them in."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import date, time
from typing import Annotated, Final

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .problems import ConfigProblem
from .root import Config

_EXPECTED_BY_TYPE: Final = {
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected an array",
    "list_type": "expected an array",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dataclass_type": "expected a table",
    "dict_type": "expected a table",
    "mapping_type": "expected a table",
    "missing": "missing; this key is required",
}


def problem_from_error(error: ErrorDetails) -> ConfigProblem:
    loc = list(error["loc"])
    if loc and loc[-1] == "[key]":  # a bad key of a table, e.g. an override date
        loc.pop()
    path = _format_path(loc)
    kind = error["type"]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # the latter: a key a dataclass lacks
        return ConfigProblem(path, _unknown_key_message(loc))
    message = _EXPECTED_BY_TYPE.get(kind) or _constraint_message(error)
    if kind != "missing" and not isinstance(error["input"], dict):
        message += f", got {_toml_repr(error['input'])}"
    return ConfigProblem(path, message)


def _constraint_message(error: ErrorDetails) -> str:
    ctx = error.get("ctx", {})
    kind = error["type"]
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"expected a number {bounds[kind]} {limit}"
    if kind == "literal_error":
        return "expected one of " + str(ctx["expected"]).replace("'", '"')
    if kind in ("too_short", "string_too_short"):
        unit = "item" if kind == "too_short" else "character"
        return f"expected at least {ctx['min_length']} {unit}{'s' if ctx['min_length'] != 1 else ''}"
    if kind in ("too_long", "string_too_long"):
        unit = "items" if kind == "too_long" else "characters"
        return f"expected at most {ctx['max_length']} {unit}"
    message = error["msg"].removeprefix("Value error, ")
    return message.replace("Input should be", "expected", 1)


def _unknown_key_message(loc: Sequence[int | str]) -> str:
    key = str(loc[-1])
    allowed = _allowed_keys(loc[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f"unknown key; {hint}expected one of: {', '.join(allowed)}"


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """The keys the table at ``loc`` accepts, found by following the model annotations."""
    annotation: object = Config
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            field = annotation.model_fields.get(part)
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (tuple, Mapping) and typing.get_args(annotation):
            annotation = typing.get_args(annotation)[-1 if isinstance(part, str) else 0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    if isinstance(annotation, type) and is_dataclass(annotation):
        return [item.name for item in fields(annotation)]
    return []


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (types.UnionType, typing.Union):
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        else:
            return annotation


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _format_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            path += f".{key}" if path else key
    return path


def _toml_repr(value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


_SECTIONS: Final = list(Config.model_fields)


def file_order(problem: ConfigProblem) -> tuple[int, int]:
    """Sort by section as the README lists them, then by calendar (or team) index; stable otherwise."""
    section = re.match(r"[A-Za-z0-9_-]*", problem.path)
    index = re.match(r"(?:calendars|teams)\[(\d+)\]", problem.path)
    name = section.group(0) if section else ""
    position = _SECTIONS.index(name) if name in _SECTIONS else -1
    return (position, int(index.group(1)) if index else -1)
