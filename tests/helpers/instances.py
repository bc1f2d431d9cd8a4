"""Booking functions in processes of their own, as production runs them: for races across instances and crashes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.helpers.pinned_time import current_clock
from tests.helpers.support import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_instances(count: int, config_path: Path) -> list[tuple[subprocess.Popen[bytes], str]]:
    """`count` booking functions served by functions-framework in processes of their own, each on a free port and
    answering `/calendars`: (process, base URL) pairs."""
    # Each instance runs on the test's pinned clock (as of its start), which the emulator's clock agrees with.
    env = {**os.environ, "BOOKING_CONFIG": str(config_path), "NO_GCE_CHECK": "true", "PYTHONUNBUFFERED": "1",
           "BOOKING_CLOCK": current_clock().now().isoformat()}
    instances = []
    for _ in range(count):
        port = free_port()
        command = [sys.executable, "-m", "functions_framework", "--target", "booking",
                   "--source", str(ROOT / "functions" / "booking" / "main.py"), "--port", str(port)]
        # Own session: a test that kills an instance kills its whole process group, gunicorn's worker too.
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        instances.append((process, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + 30
    for process, url in instances:
        while True:
            try:
                if requests.get(f"{url}/calendars", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
            assert time.monotonic() < deadline, "instance did not start"
            time.sleep(0.1)
    return instances
