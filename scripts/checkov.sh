#!/usr/bin/env bash
# Run checkov over infra/ with the project's custom policies (infra/policies/), offline.
#
# checkov lives in its own venv (.checkov-venv): its dependency bc-python-hcl2 installs a module also named
# `hcl2` that would shadow python-hcl2 in the project venv. The venv is built on first use (the only step that
# needs the network: pip from PyPI); afterwards checkov runs with --skip-download and no update check.
#
# Usage: scripts/checkov.sh [extra checkov args...]   e.g. scripts/checkov.sh -o json
#        CHECKOV_DIR=path scripts/checkov.sh ...       scan another directory (policy tests use this)
# Exits non-zero when any check fails or when the venv cannot be built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.checkov-venv}"
SPEC='checkov>=3.2,<4'
SCAN_DIR="${CHECKOV_DIR:-$ROOT/infra}"

ensure_venv() {
  if [[ -x "$VENV/bin/checkov" && -f "$VENV/.installed" ]]; then
    return 0
  fi
  echo "checkov.sh: building $VENV ($SPEC) ..." >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SPEC" >&2
  touch "$VENV/.installed"
}

# Serialise venv creation: parallel test workers (pytest-xdist) may call this script at the same time.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
ensure_venv
flock -u 9

export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
export BC_SKIP_MAPPING=TRUE
exec "$VENV/bin/checkov" \
  --directory "$SCAN_DIR" \
  --framework terraform \
  --skip-download \
  --external-checks-dir "$ROOT/infra/policies" \
  --skip-path 'policies/tests' \
  --compact \
  --quiet \
  "$@"
