"""Suite-wide guards, the pinned clock and the emulator fixtures.

Tests never reach the network: an audit hook (`tests.helpers.network_guard`) refuses every non-loopback connection
and name lookup, so a stray call to a real Google host fails loudly instead of hanging or leaking.

Tests never read the machine's date: each runs on a pinned day (`tests.helpers.pinned_time`), the same instant on the
functions' clock and on the emulator's. Tests marked `every_day` run once on each pinned day.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.network_guard import network_guard

# google.auth.default() would probe the metadata server three times without this (exact lowercase string).
os.environ["NO_GCE_CHECK"] = "true"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)

sys.addaudithook(network_guard)


def pytest_report_header() -> str:
    from tests.helpers.pinned_time import suite_day

    return f"pinned day: {suite_day().isoformat()} (set WCB_TODAY to run as of another day)"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("every_day") and "pinned_day" in metafunc.fixturenames:
        from tests.helpers.pinned_time import PINNED_DAYS

        metafunc.parametrize("pinned_day", list(PINNED_DAYS.values()), ids=list(PINNED_DAYS), indirect=True)


@pytest.fixture
def pinned_day(request: pytest.FixtureRequest) -> Any:
    """The instant this test runs at: its `every_day` parameter, else the suite's day."""
    from tests.helpers.pinned_time import suite_day

    return getattr(request, "param", None) or suite_day()


@pytest.fixture(autouse=True)
def pinned_clock(pinned_day: Any) -> Iterator[Any]:
    """Pin both clocks to the test's day: the functions' (`tests.helpers.pinned_time.current_clock()`) and the
    emulator's."""
    from emulator.clock import CLOCK
    from shared.clock import PinnedClock
    from tests.helpers.pinned_time import install

    clock = PinnedClock(pinned_day)
    install(clock)
    CLOCK.pin(pinned_day.timestamp(), frozen=False)
    yield clock
    CLOCK.reset()


@pytest.fixture
def machine_time(pinned_clock: Any) -> None:
    """For tests whose verifier is a client library judging time by the machine's clock (google-auth's
    `verify_token`, PyJWT), which no test can pin: the emulator follows the machine instead of the pinned day."""
    from emulator.clock import CLOCK

    CLOCK.reset()


def _bind_emulator() -> Any:
    """The session's emulator, bound now so that google-auth can be told where its metadata server is.

    google-auth reads GCE_METADATA_HOST once, when `google.auth.compute_engine._metadata` is first imported
    (GCE_METADATA_IP, the ping address, on every ping), so it is set before any test module imports google-auth.
    """
    from emulator.server import EmulatorServer

    server = EmulatorServer()
    os.environ["GCE_METADATA_HOST"] = f"{server.host}:{server.port}"
    os.environ["GCE_METADATA_IP"] = f"{server.host}:{server.port}"
    return server


_SERVER = _bind_emulator()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Any]:
    server = _SERVER.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: Any, pinned_clock: Any) -> Any:
    """The running emulator, reset to a fresh demo domain for each test."""
    from emulator.demo import build_demo_state

    emulator_server.emulator.replace_state(build_demo_state(emulator_server.url))
    return emulator_server


@pytest.fixture(autouse=True, scope="session")
def _no_backoff_sleeps() -> Iterator[None]:
    """stamina's testing switch: retries happen, the waits between them do not (the deadline test turns it off)."""
    import stamina

    stamina.set_testing(True, attempts=6, cap=True)
    yield
    stamina.set_testing(False)


@pytest.fixture
def runtime(emulator: Any, tmp_path: Any) -> Any:
    """A runtime (config, secrets, credentials, Calendar client) pointed at the fresh demo emulator."""
    from tests.helpers.support import make_runtime

    return make_runtime(emulator, tmp_path / "snapshot")


@pytest.fixture
def installed_runtime(runtime: Any) -> Iterator[Any]:
    """`runtime`, installed as the instance's runtime for the in-process functions."""
    from shared.runtime import set_runtime

    set_runtime(runtime)
    yield runtime
    set_runtime(None)


@pytest.fixture
def booking_client(installed_runtime: Any) -> Any:
    from tests.helpers.function_app import function_app

    return function_app("booking").test_client()


# --- the browser tests' chromium and gateway (tests/helpers/browser_support.py), one of each per test module -----
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.helpers.browser_support import launched_browser

    with launched_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def gateway() -> Iterator[Any]:
    from tests.helpers.browser_support import serve_gateway

    gateway = serve_gateway()
    yield gateway
    gateway.stop()
