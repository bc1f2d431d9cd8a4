"""`python -m devserver`: the whole local stack on one machine, against the local Google emulator.

Starts the emulator (seeded with the demo domain), points the functions at it through a config file, runs one
availability sync, and serves the three functions and the demo page behind one gateway.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from .gateway import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("EMULATOR_PORT", "8090")))
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "example.toml")
    args = parser.parse_args(argv)

    from emulator.demo import build_demo_state
    from emulator.server import EmulatorServer

    from .gateway import gateway_server

    # Both ports are taken before anything is written, so a second `make run` that fails on a busy port leaves
    # the running stack's config alone.
    emulator = EmulatorServer(port=args.emulator_port)
    server = gateway_server(args.port)
    base = f"http://127.0.0.1:{args.port}"
    emulator.emulator.replace_state(build_demo_state(emulator.url))
    emulator.start()

    config_path = render_config(args.config, emulator.url, base)
    os.environ["BOOKING_CONFIG"] = str(config_path)
    os.environ.setdefault("NO_GCE_CHECK", "true")
    sync_note = first_sync(base, emulator.url)
    print(  # noqa: T201  (the local stack tells the person who started it where things are)
        f"""
Local Google emulator  {emulator.url}   (control API: {emulator.url}/_emulator/)
Booking page           {base}/
Booking function       {base}/booking/calendars
Sharing function       {base}/sharing/shares
Sync function          {base}/sync/
{sync_note}
Config in use          {config_path.relative_to(ROOT)}   (also for: .venv/bin/python -m shared.doctor --config ...)
Admin token for the sharing function:
  curl -s -X POST {emulator.url}/_emulator/id-token -H 'Content-Type: application/json' \\
       -d '{{"email": "admin@example.com", "audience": "{base}/sharing"}}'
Press Ctrl-C to stop.""",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    emulator.stop()
    return 0


# The ports the example config is written for; `make run` serves on others when PORT/EMULATOR_PORT say so.
TEMPLATE_PORT, TEMPLATE_EMULATOR_PORT = 8080, 8090
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_CORS_LINE = re.compile(r"^cors_origins\s*=\s*\[[^\]]*\]", re.M)


def render_config(template: Path, emulator_url: str, base: str, target: Path | None = None) -> Path:
    """The config with the emulator's and the gateway's URLs at the ports really used.

    Every loopback URL of the template (`127.0.0.1` and `localhost`) is moved to the port in use, and
    `[booking] cors_origins` lists the page's origin under both host names, so the page works whichever of the two
    the browser was given."""
    port, emulator_port = urlsplit(base).port, urlsplit(emulator_url).port
    text = template.read_text()
    for host in LOOPBACK_HOSTS:
        text = text.replace(f"http://{host}:{TEMPLATE_EMULATOR_PORT}", f"http://{host}:{emulator_port}")
        text = text.replace(f"http://{host}:{TEMPLATE_PORT}", f"http://{host}:{port}")
    text = _with_page_origins(text, [f"http://{host}:{port}" for host in LOOPBACK_HOSTS])
    target = target or ROOT / ".local" / "config.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _with_page_origins(text: str, page_origins: list[str]) -> str:
    """`text` whose `[booking] cors_origins` holds `page_origins` too (the template's own origins kept first)."""
    listed = list(tomllib.loads(text).get("booking", {}).get("cors_origins", []))
    missing = [origin for origin in page_origins if origin not in listed]
    if not missing:
        return text
    line = f"cors_origins = {json.dumps(listed + missing)}"  # a TOML array of plain strings is also JSON
    if _CORS_LINE.search(text):
        return _CORS_LINE.sub(lambda _: line, text, count=1)
    if re.search(r"^\[booking\]\s*$", text, re.M):
        return re.sub(r"^\[booking\]\s*$", lambda m: f"{m.group(0)}\n{line}", text, count=1, flags=re.M)
    return f"{text.rstrip()}\n\n[booking]\n{line}\n"


def first_sync(base: str, emulator_url: str) -> str:
    """Run the sync once so that `/slots` is served from a snapshot from the start."""
    functions_dir = ROOT / "functions" / "sync" / "main.py"
    if not functions_dir.exists():
        return "Sync                   (not available yet)"
    import requests

    try:
        token = requests.post(
            f"{emulator_url}/_emulator/id-token",
            json={"email": "scheduler@demo-project.iam.gserviceaccount.com", "audience": f"{base}/sync"},
            timeout=10,
        ).json()["token"]
        from werkzeug.test import Client

        from .gateway import function_app

        answer = Client(function_app("sync")).post(
            "/", headers={"Authorization": f"Bearer {token}"}, base_url=f"{base}/sync"
        )
        body = answer.get_json(silent=True) or {}
        summary = f"{body.get('calendars')} calendars, {body.get('freebusyCalls')} free/busy calls" if body else ""
        return f"First sync             {answer.status_code} {summary}"
    except Exception as error:  # the stack still serves live availability without a snapshot
        return f"First sync             failed ({type(error).__name__}); /slots answers live"


if __name__ == "__main__":
    sys.exit(main())
