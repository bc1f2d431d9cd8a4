"""Builders shared by tests: a config and a runtime pointed at the running emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from shared.clock import Clock
from shared.config import Config, parse_config
from shared.runtime import Runtime, build_runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "example.toml"
SECRET = "projects/demo-project/secrets/calendar-credentials"
TEST_CLIENT_URL = "http://localhost/"  # request.url_root of Flask's test client; an accepted audience in tests
SHARING_SECRET = "projects/demo-project/secrets/sharing-credentials"


def config_text(server: Any, snapshot_dir: Path | None = None, *, replace: dict[str, str] | None = None) -> str:
    text = EXAMPLE_CONFIG.read_text().replace("http://127.0.0.1:8090", server.url)
    # Older tests send the booking token as ?token=; tests/security checks the default, which refuses it.
    text = text.replace("token_in_query = false", "token_in_query = true", 1)
    for function in ("sharing", "sync"):  # Flask's test client calls every function at http://localhost/
        own = f'audiences = ["http://127.0.0.1:8080/{function}"]'
        text = text.replace(own, f'audiences = ["http://127.0.0.1:8080/{function}", "{TEST_CLIENT_URL}"]')
    if snapshot_dir is not None:
        text = text.replace('location = "file://.local/snapshot"', f'location = "file://{snapshot_dir}"')
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} is not in the example config"
        text = text.replace(old, new)
    return text


def make_config(server: Any, snapshot_dir: Path | None = None, **kwargs: Any) -> Config:
    return parse_config(config_text(server, snapshot_dir, **kwargs), "test config")


def make_runtime(
    server: Any,
    snapshot_dir: Path | None = None,
    *,
    config: Config | None = None,
    clock: Clock | None = None,
    **kwargs: Any,
) -> Runtime:
    """A runtime on the test's pinned clock (or `clock`), which the emulator's clock agrees with."""
    from tests.helpers.pinned_time import current_clock

    return build_runtime(config or make_config(server, snapshot_dir), clock=clock or current_clock(), **kwargs)


def requests_log(server: Any, method: str | None = None) -> list[dict[str, Any]]:
    params = {"method": method} if method else None
    answer = requests.get(f"{server.url}/_emulator/requests", params=params, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return list(body["requests"] if isinstance(body, dict) else body)


def counts(server: Any) -> dict[str, int]:
    answer = requests.get(f"{server.url}/_emulator/counts", timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return dict(body.get("counts", body))


def clear_log(server: Any) -> None:
    requests.delete(f"{server.url}/_emulator/requests", timeout=10).raise_for_status()


def set_faults(server: Any, faults: list[dict[str, Any]], seed: int = 7) -> None:
    requests.put(f"{server.url}/_emulator/faults", json={"faults": faults, "seed": seed}, timeout=10).raise_for_status()


def set_latency(server: Any, latency: list[dict[str, Any]]) -> None:
    requests.put(f"{server.url}/_emulator/latency", json={"latency": latency}, timeout=10).raise_for_status()


def round_trips(server: Any, prefix: str = "calendar.") -> int:
    """HTTP round trips to the Calendar API (a batch is one; its parts are not counted again)."""
    return sum(1 for r in requests_log(server) if r["method"].startswith(prefix) and not r.get("inner"))
