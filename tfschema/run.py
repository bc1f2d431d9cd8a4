"""Checking directories with the pinned schemas, each loaded once and only when a block needs it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tfschema import manifest
from tfschema.check import Report, check_modules
from tfschema.packages import ROOT, package_for


def default_directories() -> list[Path]:
    """infra/ and each example that uses it."""
    infra = ROOT / "infra"
    return [infra, *sorted(p for p in (infra / "examples").iterdir() if p.is_dir() and any(p.glob("*.tf")))]


class Schemas:
    """Provider source -> schema, loaded on first use; None for providers with no pinned package."""

    def __init__(self) -> None:
        self.loaded: dict[str, manifest.Schema] = {}

    def __call__(self, source: str) -> manifest.Schema | None:
        package = package_for(source)
        if package is None:
            return None
        if package.source not in self.loaded:
            self.loaded[package.source] = manifest.load(package)
        return self.loaded[package.source]


def check(directories: Iterable[Path], schemas: Schemas | None = None) -> tuple[Report, Schemas]:
    schemas = schemas or Schemas()
    return check_modules(directories, schemas), schemas


def summary(report: Report, schemas: Schemas) -> str:
    checked = ", ".join(f"{n} {kind}" for kind, n in sorted(report.checked.items())) or "nothing"
    against = "; ".join(s.describe() for s in schemas.loaded.values()) or "no schema"
    lines = [f"tfschema: checked {checked} against {against}: {len(report.problems)} problem(s)"]
    for source, n in sorted(report.skipped.items()):
        lines.append(f"tfschema: skipped {n} block(s) of {source}: no schema package is pinned for it")
    return "\n".join(lines)
