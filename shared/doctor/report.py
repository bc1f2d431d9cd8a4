"""The doctor's report: one `Check` per line, PASS, FAIL or SKIP, rendered as lines or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["PASS", "FAIL", "SKIP"]



@dataclass(frozen=True)
class Check:
    """One check's outcome: a stable id, a human label, what was found, and how to fix a failure."""

    id: str
    label: str
    status: Status
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "label": self.label, "status": self.status, "summary": self.summary}
        if self.fix:
            body["fix"] = self.fix
        if self.details:
            body["details"] = self.details
        return body


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.status == "PASS" for check in self.checks)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def get(self, check_id: str) -> Check | None:
        return next((check for check in self.checks if check.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        counted = {status: sum(1 for c in self.checks if c.status == status) for status in ("PASS", "FAIL", "SKIP")}
        return {"ok": self.ok, "counts": counted, "checks": [check.to_json() for check in self.checks]}

    def render(self) -> str:
        width = max((len(check.label) for check in self.checks), default=0) + 2
        lines: list[str] = []
        for check in self.checks:
            lines.append(f"{check.status}  {check.label.ljust(width)}{check.summary}")
            if check.fix:
                fix_lines = check.fix.splitlines()
                lines.append(f"      fix: {fix_lines[0]}")
                lines.extend(f"           {line}" for line in fix_lines[1:])
        passed = sum(1 for check in self.checks if check.status == "PASS")
        if self.ok:
            lines.append(f"doctor: all {passed} checks passed")
        else:
            failed = sum(1 for check in self.checks if check.status == "FAIL")
            skipped = len(self.checks) - passed - failed
            tail = f", {skipped} skipped" if skipped else ""
            total = len(self.checks)
            lines.append(f"doctor: {failed} of {total} checks failed{tail}; fix them in order, then run again")
        return "\n".join(lines) + "\n"
