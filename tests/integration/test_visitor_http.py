"""What a visitor's browser and a developer on `make run` meet at the HTTP edge: CORS origins for the ports in use
and refused origins explained in the log, date errors that name the format, and JSON for a missing slash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devserver.__main__ import render_config
from shared import http
from shared.config import parse_config
from tests.helpers.support import EXAMPLE_CONFIG

# --- make run: CORS origins for the ports in use ---------------------------------------------------------------


def test_make_run_on_other_ports_allows_the_page_under_both_host_names(tmp_path: Path) -> None:
    rendered = render_config(EXAMPLE_CONFIG, "http://127.0.0.1:9190", "http://127.0.0.1:9180", tmp_path / "c.toml")
    text = rendered.read_text()
    config = parse_config(text, "rendered")
    assert set(config.booking.cors_origins) == {"http://127.0.0.1:9180", "http://localhost:9180"}
    assert config.google is not None and config.google.emulator_url == "http://127.0.0.1:9190"
    assert config.booking.manage_url == "http://127.0.0.1:9180/"  # the invitation's links open this page
    assert ":8080" not in text and ":8090" not in text, "a URL still points at the template's ports"


def test_make_run_adds_the_page_origins_a_template_lacks(tmp_path: Path) -> None:
    template = tmp_path / "template.toml"
    example = EXAMPLE_CONFIG.read_text()
    template.write_text(example.replace(
        'cors_origins = ["http://127.0.0.1:8080", "http://localhost:8080"]', 'cors_origins = ["https://www.example.org"]'
    ))
    rendered = render_config(template, "http://127.0.0.1:8090", "http://127.0.0.1:8081", tmp_path / "c.toml")
    config = parse_config(rendered.read_text(), "rendered")
    assert config.booking.cors_origins == ("https://www.example.org", "http://127.0.0.1:8081", "http://localhost:8081")

    template.write_text(example.replace('cors_origins = ["http://127.0.0.1:8080", "http://localhost:8080"]\n', ""))
    rendered = render_config(template, "http://127.0.0.1:8090", "http://127.0.0.1:8081", tmp_path / "c.toml")
    assert parse_config(rendered.read_text()).booking.cors_origins == ("http://127.0.0.1:8081", "http://localhost:8081")


# --- a refused origin is logged once, with the key to change ---------------------------------------------------


@pytest.fixture
def refused(monkeypatch: pytest.MonkeyPatch) -> http.RefusedOrigins:
    fresh = http.RefusedOrigins(limit=3)
    monkeypatch.setattr(http, "REFUSED_ORIGINS", fresh)
    return fresh


def _log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = []
    for line in capsys.readouterr().out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return [line for line in lines if str(line.get("message", "")).startswith("CORS")]


def test_refused_origin_is_logged_once_with_the_config_key(
    booking_client: Any, refused: http.RefusedOrigins, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for _ in range(3):
        preflight = booking_client.options("/bookings", headers={"Origin": "http://localhost:9999"})
        assert preflight.status_code == 204 and "Access-Control-Allow-Origin" not in preflight.headers
    booking_client.get("/calendars", headers={"Origin": "http://localhost:9999"})
    lines = _log_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0]["severity"] == "WARNING" and lines[0]["origin"] == "http://localhost:9999"
    assert '"http://localhost:9999"' in lines[0]["fix"] and "[booking] cors_origins" in lines[0]["fix"]

    allowed = booking_client.options("/bookings", headers={"Origin": "http://localhost:8080"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    same_origin = booking_client.post("/bookings", json={}, headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 400  # the test client's own host: same-origin needs no CORS
    assert _log_lines(capsys) == [], "an allowed or same-origin caller was logged as refused"


def test_refused_origins_log_is_bounded(
    booking_client: Any, refused: http.RefusedOrigins, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for number in range(10):
        booking_client.options("/bookings", headers={"Origin": f"https://site{number}.test"})
    lines = _log_lines(capsys)
    assert [line.get("origin") for line in lines] == ["https://site0.test", "https://site1.test", "https://site2.test",
                                                      None]
    assert "no further ones" in lines[-1]["message"]


# --- date and time errors name the format expected -------------------------------------------------------------

DATE_EXPECTED = "YYYY-MM-DD, e.g. 2026-12-09"
DATETIME_EXPECTED = "RFC 3339 with offset, e.g. 2026-12-09T10:00:00+01:00"


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("from=07/12/2026&to=2026-12-10", "from", "invalid character in year"),
        ("from=2026-12-09&to=2026-13-01", "to", "month value is outside expected range"),
        ("from=2026-12-09T10:00&to=2026-12-10", "from", "a date without a time"),
    ],
)
def test_slots_date_error_names_the_format(booking_client: Any, query: str, field: str, reason: str) -> None:
    response = booking_client.get(f"/slots?calendar=alice&duration=30&{query}")
    assert response.status_code == 400 and response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert list(error["details"]["fields"]) == [field]
    assert DATE_EXPECTED in error["details"]["fields"][field] and reason in error["details"]["fields"][field]
    assert f"{field} (a date as {DATE_EXPECTED}" in error["message"]


@pytest.mark.parametrize(
    ("start", "reason"), [("2026-12-09", "the time and offset are missing"),
                          ("2026-12-09T10:00:00", "the offset is missing"),
                          ("tomorrow at ten", "")],
)
def test_booking_start_error_names_the_format(booking_client: Any, start: str, reason: str) -> None:
    body = {"calendar": "alice", "start": start, "duration": 30, "name": "Vera", "email": "vera@visitor.test"}
    for response in (booking_client.post("/bookings", json=body),
                     booking_client.patch("/bookings/abcde", json={"start": start})):
        assert response.status_code == 400 and response.is_json
        error = response.get_json()["error"]
        assert list(error["details"]["fields"]) == ["start"], error
        expected = error["details"]["fields"]["start"]
        assert DATETIME_EXPECTED in expected and reason in expected
        assert DATETIME_EXPECTED in error["message"]


def test_date_only_booking_start_says_the_time_and_offset_are_missing(booking_client: Any) -> None:
    body = {"calendar": "alice", "start": "2026-12-09", "duration": 30, "name": "Vera", "email": "vera@visitor.test"}
    response = booking_client.post("/bookings", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["fields"]["start"] == (
        "a date and time in RFC 3339 with offset, e.g. 2026-12-09T10:00:00+01:00; the time and offset are missing"
    )


# --- every function answers JSON for a missing trailing slash --------------------------------------------------


def _direct(app: Any, method: str, path_info: str) -> tuple[int, dict[str, str], bytes]:
    """A request to a function's own app (what functions-framework serves) mounted at /fn, with this PATH_INFO."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(path="/fn/", method=method).get_environ()
    environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/fn", path_info
    body, status, headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), dict(headers), b"".join(body)


@pytest.mark.parametrize(("name", "method", "status"), [("sync", "POST", 401), ("booking", "GET", 404),
                                                        ("sharing", "GET", 404)])
def test_every_function_answers_json_without_the_trailing_slash(
    installed_runtime: Any, name: str, method: str, status: int
) -> None:
    from werkzeug.test import Client

    from devserver.gateway import gateway_app
    from tests.helpers.function_app import function_app

    app = function_app(name)
    answers = {path: _direct(app, method, path) for path in ("", "/", "//")}
    gateway = Client(gateway_app((name,)))
    for path in (f"/{name}", f"/{name}/", f"/{name}//"):
        response = gateway.open(path, method=method)
        answers[f"gateway {path}"] = (response.status_code, dict(response.headers), response.data)
    for where, (code, headers, body) in answers.items():
        assert code == status, (where, code, body[:200])
        assert headers["Content-Type"] == "application/json", (where, headers)
        assert "error" in json.loads(body), where
    assert json.loads(answers[f"gateway /{name}"][2]) == json.loads(answers["/"][2])  # the same request


def test_calendars_report_the_booking_horizon_for_month_navigation(booking_client: Any) -> None:
    from tests.helpers.booking_support import assert_matches_openapi

    response = booking_client.get("/calendars")
    assert_matches_openapi(response, "/calendars", "GET")
    horizons = {c["id"]: c["horizonDays"] for c in response.get_json()["calendars"]}
    # [booking] horizon_days of the example config, for its teams too
    assert horizons == {"alice": 60, "bob": 60, "carol": 60, "sales": 60, "review": 60}
