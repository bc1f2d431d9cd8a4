"""Rows, the printed table, `latest.json` and `machine.json`."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One metric. `ratio` is baseline / ours (how many times better ours is); None where that means nothing."""

    metric: str
    ours: float | None
    baseline: float | None
    target: str
    passed: bool | None
    unit: str = ""
    note: str = ""
    ratio: float | None = None
    compare: bool = True  # False where baseline / ours means nothing (counts of events, of 5xx answers)

    def __post_init__(self) -> None:
        if self.compare and self.ratio is None and self.ours and self.baseline is not None and self.ours > 0:
            self.ratio = self.baseline / self.ours

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "metric": self.metric,
            "ours": _number(self.ours),
            "baseline": _number(self.baseline),
            "ratio": _number(self.ratio),
            "target": self.target,
            "pass": self.passed,
        }
        if self.unit:
            entry["unit"] = self.unit
        if self.note:
            entry["note"] = self.note
        return entry


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 3)


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and unit not in ("ms", "s"):
        text = str(int(value))
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    header = ("metric", "ours", "baseline", "ratio", "target", "pass")
    lines = [
        (
            row.metric,
            _show(row.ours, row.unit),
            _show(row.baseline, row.unit),
            "-" if row.ratio is None else f"{row.ratio:.1f}x",
            row.target,
            {True: "PASS", False: "FAIL", None: "info"}[row.passed],
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    rule = "-+-".join("-" * width for width in widths)

    def render(cells: tuple[str, ...]) -> str:
        return " | ".join(
            cell.ljust(width) if index in (0, 4, 5) else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    out = [render(header), rule, *(render(line) for line in lines)]
    notes = [f"  [{index}] {row.metric}: {row.note}" for index, row in enumerate(rows, 1) if row.note]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_kb"] = int(line.split()[1])
                break
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  (git from PATH, like make does)
            cwd=ROOT, capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        if commit:
            info["git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def machine_line(info: dict[str, Any]) -> str:
    cpus = f"{info.get('cpu_count')} CPUs"
    if info.get("cpus_usable") not in (None, info.get("cpu_count")):
        cpus += f" ({info['cpus_usable']} usable)"
    parts = [
        info.get("platform", "?"),
        cpus,
        info.get("cpu_model", ""),
        f"Python {info.get('python')}",
        f"load {info.get('load_average')}" if info.get("load_average") else "",
        f"commit {info.get('git_commit')}" if info.get("git_commit") else "",
    ]
    return "Machine: " + "; ".join(part for part in parts if part)


def write(out_dir: Path, rows: list[Row], info: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = out_dir / "latest.json"
    machine_file = out_dir / "machine.json"
    latest.write_text(json.dumps([row.to_json() for row in rows], indent=2, allow_nan=False) + "\n")
    machine_file.write_text(json.dumps(info, indent=2) + "\n")
    return latest, machine_file
