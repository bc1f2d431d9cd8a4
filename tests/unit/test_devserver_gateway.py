"""The local gateway's access log names paths only: a query string (a `?token=`) never reaches it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import requests

from devserver.gateway import gateway_server


def test_the_access_log_leaves_out_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    server = gateway_server(0, functions=())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            answer = requests.get(f"http://127.0.0.1:{server.port}/index.html?token=secret-value&x=1", timeout=5)
    finally:
        server.shutdown()
        thread.join(5)
    logged: list[Any] = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert answer.status_code in (200, 404)
    assert any("GET /index.html " in line for line in logged), logged
    assert not any("secret-value" in line or "?" in line for line in logged), logged
