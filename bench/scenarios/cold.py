"""`cold`: new `functions-framework` processes per side, Popen to the first 201 of POST /bookings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..harness import BASELINE_SOURCE, BOOKING_SOURCE, ROOT, Sizes, Stack, median, progress
from ..report import Row
from ..sides import Sides, booking_body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _functions_framework() -> list[str]:
    script = Path(sys.executable).parent / "functions-framework"
    return [str(script)] if script.exists() else [sys.executable, "-m", "functions_framework"]


@dataclass
class Cold:
    seconds: float | None  # Popen to the first 201 of POST /bookings
    listening: float | None = None  # Popen to the port accepting connections (imports and module code done)
    problem: str = ""


def _wait_listening(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.perf_counter() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.005)
    return False


def cold_start_once(stack: Stack, source: Path, body: dict[str, Any], log_dir: Path) -> Cold:
    """Seconds from Popen to the first 201 of POST /bookings, and to the port accepting connections."""
    import requests

    port = _free_port()
    # PYTHONPATH: the checkout under test, not whatever tree an editable install of the project points at (the
    # console script's own directory, not the working directory, heads its sys.path).
    env = {**os.environ, "BOOKING_CONFIG": str(stack.config_path), "NO_GCE_CHECK": "true", "PYTHONPATH": str(ROOT)}
    command = [*_functions_framework(), "--target", "booking", "--source", str(source),
               "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/bookings"
    stderr_path = log_dir / f"cold-{source.stem}-{port}.log"
    with stderr_path.open("wb") as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
        try:
            if not _wait_listening(port, process, began + 60):
                return Cold(None, problem=f"never listened (exit {process.poll()}): {stderr_path.read_text()[-300:]}")
            listening = time.perf_counter() - began
            try:
                answer = requests.post(url, json=body, timeout=30)
            except requests.RequestException as error:
                return Cold(None, listening, f"{type(error).__name__}: {stderr_path.read_text()[-300:]}")
            elapsed = time.perf_counter() - began
            if answer.status_code != 201:
                return Cold(None, listening, f"first answer was {answer.status_code}: {answer.text[:200]}")
            return Cold(elapsed, listening)
        finally:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (SIGTERM waits for a graceful one)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def byte_compile_sources() -> None:
    """Both sides' own code as bytecode beside it, as their dependencies in site-packages already are.

    Without it an environment with PYTHONDONTWRITEBYTECODE set (CI images often set it) compiles the project's
    `shared/` (about 8,000 lines) from source in every new process, while the baseline's weight is all in
    precompiled site-packages: the comparison would measure the compiler, not the function."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    sources = [ROOT / "shared", BOOKING_SOURCE.parent, BASELINE_SOURCE]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, sources)],  # noqa: S603
                   env=env, check=True, stdout=subprocess.DEVNULL)


def cold_start(sides: Sides, sizes: Sizes, slot: tuple[str, str], log_dir: Path) -> list[Row]:
    progress(f"cold start: {sizes.cold_runs} new processes per side")
    byte_compile_sources()
    stack = sides.stack
    results: dict[str, list[Cold]] = {"ours": [], "baseline": []}
    problems: list[str] = []
    for run in range(sizes.cold_runs):
        for side, source in (("ours", BOOKING_SOURCE), ("baseline", BASELINE_SOURCE)):
            stack.remove_bookings()
            cold = cold_start_once(stack, source, booking_body(slot, f"cold{side}{run}@visitor.test"), log_dir)
            if cold.seconds is None:
                problems.append(f"{side} run {run + 1}: {cold.problem}")
            results[side].append(cold)
    stack.remove_bookings()
    done = {side: [c.seconds for c in colds if c.seconds is not None] for side, colds in results.items()}
    ours = median(done["ours"]) if done["ours"] else None
    base = median(done["baseline"]) if done["baseline"] else None

    def runs(side: str) -> str:
        return ", ".join(
            f"{c.listening:.2f}+{c.seconds - c.listening:.2f}" for c in results[side]
            if c.seconds is not None and c.listening is not None
        )

    note = (f"median of {sizes.cold_runs}; Popen of `functions-framework` to the first 201 of POST /bookings, both "
            f"sides' sources byte-compiled first, "
            f"each run as listening+first request in s: ours [{runs('ours')}], baseline [{runs('baseline')}]")
    if problems:
        note += "; problems: " + " | ".join(problems)
    passed = ours is not None and base is not None and ours <= base and len(done["ours"]) == sizes.cold_runs
    return [Row("cold start to first booking (0 ms)", ours, base, "<= baseline", passed, "s", note=note)]

