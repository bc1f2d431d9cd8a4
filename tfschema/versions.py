"""Whether a provider version meets a required_providers version constraint (">= 5.26, < 7", "~> 6.0")."""

from __future__ import annotations

import re

_TERM = re.compile(r"^\s*(>=|<=|!=|~>|>|<|=)?\s*v?(\d+(?:\.\d+)*)\s*$")


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def satisfies(version: str, constraint: str) -> bool | None:
    """True or False; None when the constraint is not one this reads (pre-releases, odd syntax)."""
    have = _parts(version)
    for term in constraint.split(","):
        match = _TERM.match(term)
        if match is None:
            return None
        op, want_text = match.group(1) or "=", match.group(2)
        want = _parts(want_text)
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if op == "~>":
            # ~> 6.1 allows 6.x >= 6.1; ~> 6.1.2 allows 6.1.x >= 6.1.2: all but the last given part are fixed.
            fixed = len(want) - 1 if len(want) > 1 else 1
            ok = a >= b and have[:fixed] == want[:fixed]
        else:
            ok = {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
        if not ok:
            return False
    return True
