#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (tests/browser/test_browser.py), unless it is already there.
#
# Playwright's own browser download cannot be used here; the tests drive /usr/bin/chromium instead
# (`executable_path`). Idempotent: when the browser is present this returns at once without touching apt.
#
#   scripts/install-browser.sh              install if missing (apt-get, via sudo when not root)
#   CHROMIUM=/path/to/chromium scripts/install-browser.sh
#                                           check another binary (the tests' default is /usr/bin/chromium)
#
# Exit status: 0 when the browser is usable afterwards, 1 with a message on stderr otherwise.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

fail() {
  echo "install-browser.sh: $*" >&2
  exit 1
}

usable() {
  [[ -x "$CHROMIUM" ]]
}

if usable; then
  exit 0
fi

command -v apt-get >/dev/null 2>&1 \
  || fail "$CHROMIUM is missing and apt-get is not available; install Chromium yourself (the browser tests need it)."

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "$CHROMIUM is missing; run this script as root or install sudo."
  sudo -n true 2>/dev/null \
    || fail "$CHROMIUM is missing and installing it needs root: run 'sudo $0' once (sudo asked for a password)."
  SUDO=(sudo -n)
fi

# Parallel callers must not run apt twice at once (apt would fail on its own lock).
LOCK="${TMPDIR:-/tmp}/install-browser-$(id -u).lock"
exec 9>"$LOCK"
flock 9
if usable; then  # another caller installed it while we waited
  exit 0
fi

echo "install-browser.sh: installing Debian's chromium (first run only) ..." >&2
LOG="$(mktemp "${TMPDIR:-/tmp}/install-browser.XXXXXX.log")"
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -qq >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get update failed (is the Debian mirror reachable?); full log: $LOG"
fi
if ! "${SUDO[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=120 chromium >>"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get install chromium failed; full log: $LOG"
fi

usable || fail "apt-get reported success but $CHROMIUM is still missing."
rm -f "$LOG"
echo "install-browser.sh: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed." >&2
