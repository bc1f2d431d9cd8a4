"""The command line of `python -m shared.doctor`: flags, output (lines or JSON) and the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import run_doctor
from .base import _VERSION_HINT, FUNCTIONS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.doctor",
        description="Check a deployment's credentials secret, key and domain-wide delegation, one line per check.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the booking config TOML the functions use")
    parser.add_argument(
        "--secret",
        default=None,
        help="credentials secret version projects/P/secrets/S/versions/N, as the functions get it in "
        f"CREDENTIALS_SECRET ({_VERSION_HINT}); default: credentials.secret of the config",
    )
    parser.add_argument(
        "--functions",
        default=",".join(FUNCTIONS),
        help="comma-separated deployed functions whose scopes to check (default: booking,sharing,sync)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    args = parser.parse_args(argv)
    functions = tuple(name.strip() for name in args.functions.split(",") if name.strip())
    unknown = [name for name in functions if name not in FUNCTIONS]
    if unknown or not functions:
        parser.error(f"--functions takes names from {', '.join(FUNCTIONS)}; got {args.functions!r}")
    report = run_doctor(args.config, secret=args.secret, functions=functions)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.render())
    sys.stdout.flush()
    return 0 if report.ok else 1
