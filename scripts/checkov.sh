#!/usr/bin/env bash
# checkov over infra/ with the project's custom policies (infra/policies, CKV_WCB_*), offline.
#
# checkov lives in its own venv, .checkov-venv: its dependency bc-python-hcl2 installs a module also named `hcl2`
# that would shadow python-hcl2 in the project venv. The venv is built on first use; that pip install is the
# only step that needs the network. checkov itself then runs with --skip-download and no update check.
#
#   scripts/checkov.sh                      scan infra/ (compact, failures only); exit 1 on any failed check
#   scripts/checkov.sh -o json              any arguments replace the default "--compact --quiet"
#   CHECKOV_DIR=infra/policies/tests scripts/checkov.sh --check CKV_WCB_1 -o json
#                                           scan another directory (the policy fixtures)
#
# Exit status: checkov's (0 = no failed check, 1 = failed checks), or 2 when the venv cannot be built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${CHECKOV_VENV:-$ROOT/.checkov-venv}"
SPEC='checkov>=3.2,<4'
SCAN_DIR="${CHECKOV_DIR:-infra}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
  if [[ -x "$VENV/bin/checkov" && -f "$VENV/.installed" ]]; then
    return 0
  fi
  echo "checkov.sh: installing $SPEC into $VENV (first run only) ..." >&2
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" >&2 \
    || ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SPEC" >&2; then
    echo "checkov.sh: could not build $VENV (is PyPI reachable?)" >&2
    rm -rf "$VENV"
    return 2
  fi
  touch "$VENV/.installed"
}

# Parallel callers (pytest-xdist workers) must not build the venv twice at once.
LOCK="${TMPDIR:-/tmp}/checkov-venv-$(printf '%s' "$VENV" | cksum | cut -d' ' -f1).lock"
exec 9>"$LOCK"
flock 9
ensure_venv || exit 2
flock -u 9
exec 9>&-

args=(
  --directory "$SCAN_DIR"
  --framework terraform
  --skip-download
  --external-checks-dir infra/policies
)
# The policy fixtures are deliberately bad: never part of a scan of the module itself.
if [[ -z "${CHECKOV_DIR:-}" ]]; then
  args+=(--skip-path 'infra/policies/tests')
fi
if [[ $# -eq 0 ]]; then
  set -- --compact --quiet
fi

export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
exec "$VENV/bin/checkov" "${args[@]}" "$@"
