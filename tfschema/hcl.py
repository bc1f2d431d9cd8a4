"""Terraform files as a tree of blocks and arguments, each with its line.

python-hcl2's dict form (hcl2.loads) drops line numbers, so this walks the rule tree hcl2.parses builds; its
nodes keep lark's position metadata (`_meta`, which hcl2's own query views read the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule

_TEXT = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)


@dataclass(frozen=True)
class Argument:
    name: str
    line: int
    value: Any  # python-hcl2's serialised form: literals as Python values, expressions as "${...}" text


@dataclass
class Block:
    type: str
    labels: tuple[str, ...]
    path: Path
    line: int
    arguments: dict[str, Argument] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def children(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]

    def expression(self, name: str) -> str | None:
        """An argument's value as expression text, without the ${...} of a lone interpolation."""
        argument = self.arguments.get(name)
        if argument is None:
            return None
        text = str(argument.value)
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            return text[2:-1]
        return text


def parse_file(path: Path) -> list[Block]:
    """The top-level blocks of one .tf file."""
    start = hcl2.parses(path.read_text(encoding="utf-8"), discard_comments=True)
    top = _body(start.body, path, "file", (), 1)
    return top.blocks


def parse_module(directory: Path) -> list[Block]:
    """The top-level blocks of every .tf file of a module directory, in file order."""
    return [block for path in sorted(directory.glob("*.tf")) for block in parse_file(path)]


def _line(rule: Any, default: int) -> int:
    meta = getattr(rule, "_meta", None)
    line = getattr(meta, "line", None)
    return line if isinstance(line, int) else default


def _body(body: BodyRule, path: Path, type_: str, labels: tuple[str, ...], line: int) -> Block:
    block = Block(type_, labels, path, line)
    for child in body.children:
        if isinstance(child, AttributeRule):
            name = str(child.identifier.serialize(_TEXT))
            block.arguments[name] = Argument(name, _line(child, line), child.expression.serialize(_TEXT))
        elif isinstance(child, BlockRule):
            names = [str(label.serialize(_TEXT)) for label in child.labels]
            block.blocks.append(_body(child.body, path, names[0], tuple(names[1:]), _line(child, line)))
    return block
