"""python -m tfschema [--fetch] [DIR ...]: check Terraform modules against the pinned provider schemas.

With no DIR: infra/ and each of infra/examples/*. --fetch brings the schema packages into the cache first
(the only step that needs the network). Exit status: 0 with no problem, 1 with problems, 2 when a schema is
missing or cannot be fetched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfschema import manifest
from tfschema.check import iter_sorted
from tfschema.manifest import ManifestMissing
from tfschema.packages import PACKAGES, ROOT, FetchError, fetch
from tfschema.run import check, default_directories, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfschema", description=__doc__.splitlines()[0])
    parser.add_argument("--fetch", action="store_true", help="fetch the pinned schema packages first")
    parser.add_argument("--fetch-only", action="store_true", help="fetch the schema packages and check nothing")
    parser.add_argument("directories", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.fetch or args.fetch_only:
        try:
            for package in PACKAGES:
                if fetch(package):
                    print(f"tfschema: fetched {package.npm}@{package.version}", file=sys.stderr)
                manifest.load(package)  # derives the compact schema now, not in the first test
        except FetchError as exc:
            print(f"tfschema: {exc}", file=sys.stderr)
            return 2
        if args.fetch_only:
            return 0
    try:
        report, schemas = check(args.directories or default_directories())
    except ManifestMissing as exc:
        print(f"tfschema: {exc}", file=sys.stderr)
        return 2
    for problem in iter_sorted(report.problems):
        print(problem.render(ROOT))
    print(summary(report, schemas))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
