"""References to resources and data sources that the module does not declare.

`terraform validate` would refuse them; it cannot run without the provider, so this reads the expressions'
text: a reference is `<type>.<name>` or `data.<type>.<name>` where <type> is a type the schema knows or the
module declares. Literal strings (no `${`) are not expressions and are not read; moved blocks name old
addresses on purpose (see check._check_moved).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tfschema.hcl import Block

_REFERENCE = re.compile(r"(?<![\w.\-\"])(data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")
_READ = {"resource", "data", "output", "locals", "module", "provider", "check"}


def undeclared(blocks: list[Block], known_types: set[str]) -> Iterator[tuple[Block, int, str]]:
    """(top-level block, line, reference) for each reference to an undeclared resource or data source."""
    declared = {
        (b.type, b.labels[0], b.labels[1]) for b in blocks if b.type in ("resource", "data") and len(b.labels) == 2
    }
    types = known_types | {type_ for _, type_, _ in declared}
    for block in blocks:
        if block.type in _READ:
            for line, reference in _in_block(block, declared, types):
                yield block, line, reference


def _in_block(block: Block, declared: set[tuple[str, str, str]], types: set[str]) -> Iterator[tuple[int, str]]:
    for argument in block.arguments.values():
        for text in _strings(argument.value):
            if "${" not in text:
                continue
            for match in _REFERENCE.finditer(text):
                kind = "data" if match.group(1) else "resource"
                type_, name = match.group(2), match.group(3)
                if type_ in types and (kind, type_, name) not in declared:
                    yield argument.line, match.group(0)
    for child in block.blocks:
        yield from _in_block(child, declared, types)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
