"""Helpers for the browser tests: Debian's chromium driven by Playwright, and the local stack on free ports.

Playwright's own browser download cannot work here (no network in tests, and its builds are not Debian's), so the
tests launch `/usr/bin/chromium`, which `scripts/install-browser.sh` installs (`make test` runs it first).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "run scripts/install-browser.sh (the test set-up of `make test` does this)"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The innermost focused element, through shadow roots: what a keyboard user is on.
DEEP_FOCUS_JS = """() => {
  let element = document.activeElement;
  while (element && element.shadowRoot && element.shadowRoot.activeElement) {
    element = element.shadowRoot.activeElement;
  }
  if (!element) return null;
  return {
    tag: element.tagName.toLowerCase(),
    id: element.id || null,
    type: element.getAttribute('type'),
    name: element.getAttribute('name'),
    value: element.value ?? null,
    className: element.className || '',
    start: element.dataset ? element.dataset.start ?? null : null,
    date: element.dataset ? element.dataset.date ?? null : null,
    text: (element.textContent || '').trim(),
  };
}"""


def require_chromium() -> None:
    """Fail (never skip) with a clear message when the browser is not there."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: {INSTALL_HINT}.", pytrace=False)


@contextmanager
def launched_browser() -> Iterator[Any]:
    require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The playwright Python package is missing: pip install -e '.[test]'.", pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        except Exception as error:
            pytest.fail(f"{CHROMIUM} did not start ({error}); {INSTALL_HINT}.", pytrace=False)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Gateway:
    """The local gateway (booking function + demo page) served by werkzeug on a free port, in a thread."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_gateway(functions: tuple[str, ...] = ("booking",)) -> Gateway:
    """`devserver.gateway.gateway_server()` with just the functions the page needs, as `make run` serves it."""
    from devserver.gateway import gateway_server

    server = gateway_server(0, functions)
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    return Gateway(f"http://127.0.0.1:{server.server_port}", server, thread)


def calendar_events(emulator: Any, calendar_id: str) -> list[dict[str, Any]]:
    """Every event of one emulated calendar, cancelled ones included (read straight from the emulator's state)."""
    return [dict(event) for event in list(emulator.emulator.state.calendars[calendar_id].events.values())]


def events_starting_at(
    emulator: Any, calendar_id: str, start: str, *, status: str = "confirmed"
) -> list[dict[str, Any]]:
    """The events of a calendar that start at `start` (any offset) with that status; booking claims aside."""
    moment = datetime.fromisoformat(start)
    found = []
    for event in calendar_events(emulator, calendar_id):
        if ((event.get("extendedProperties") or {}).get("private") or {}).get("wcbClaim") == "1":
            continue
        when = (event.get("start") or {}).get("dateTime")
        if when and datetime.fromisoformat(when) == moment and event.get("status", "confirmed") == status:
            found.append(event)
    return found


AXE_INSTALL_HINT = "run `make axe` (`make test` does this; it needs npm once)"


def _pinned_axe_version() -> str:
    import re

    pinned = re.search(r"^AXE_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert pinned, "the Makefile no longer pins AXE_VERSION"
    return pinned.group(1)


AXE_DIR = ROOT / ".cache" / f"axe-core@{_pinned_axe_version()}"


def axe_source() -> str:
    """axe-core's script, at the exact version the Makefile pins (installed from npm into a git-ignored cache).

    Missing or another version fails the test (never skips) with how to install it."""
    import json

    pinned = _pinned_axe_version()
    where = AXE_DIR.relative_to(ROOT) if AXE_DIR.is_relative_to(ROOT) else AXE_DIR
    script, manifest = AXE_DIR / "axe.min.js", AXE_DIR / "package.json"
    if not script.is_file() or not manifest.is_file():
        pytest.fail(f"axe-core {pinned} is not installed in {where}: {AXE_INSTALL_HINT}.",
                    pytrace=False)
    installed = json.loads(manifest.read_text()).get("version")
    if installed != pinned:
        pytest.fail(f"{where} holds axe-core {installed}, not {pinned}: {AXE_INSTALL_HINT}.",
                    pytrace=False)
    return script.read_text()
