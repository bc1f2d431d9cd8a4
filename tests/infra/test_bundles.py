"""Each deployable bundle works on its own: unpacked into an empty folder, its `requirements.txt` installed into a
fresh virtual environment (from the package index, nothing else), served by that environment's `functions-framework`
command exactly as Cloud Functions runs it, and exercised against the emulator.

This is what `make package` hands to Terraform, so a missing file in `shared/`, an undeclared dependency or a pin that
does not install fails here rather than in Cloud Build. Also: every pin is exact, satisfies pyproject's ranges, and
resolves to binary wheels for CPython 3.12 (the python312 runtime).
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.clients import id_token
from tests.helpers.pinned_time import current_clock
from tests.helpers.support import ROOT, SECRET, config_text

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.timeout(600)]

FUNCTIONS = ("booking", "sharing", "sync")
PRESENT = tuple(name for name in FUNCTIONS if (ROOT / "functions" / name / "main.py").is_file())
PIP_TIMEOUT = 420


def _pip(*args: str | Path, python: Path | str = sys.executable) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(python), "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"pip {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundles, built by the packaging step Terraform relies on (`make package` runs the same script)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "package.py"), "--out", str(out), *PRESENT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "bundles.json").read_text())
    assert sorted(manifest) == sorted(PRESENT)
    return out


def _requirements(dist: Path, name: str) -> str:
    with zipfile.ZipFile(dist / f"{name}.zip") as bundle:
        return bundle.read("requirements.txt").decode("utf-8")


class _Venvs:
    """One fresh virtual environment per distinct requirements.txt, each built once per test module."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.built: dict[str, Path] = {}
        self.seconds: dict[str, float] = {}

    def for_requirements(self, text: str) -> Path:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if digest not in self.built:
            started = time.monotonic()
            venv = self.base / f"venv-{digest}"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            requirements = self.base / f"requirements-{digest}.txt"
            requirements.write_text(text, encoding="utf-8")
            _pip("install", "--quiet", "-r", requirements, python=venv / "bin" / "python")
            self.built[digest] = venv
            self.seconds[digest] = time.monotonic() - started
        return self.built[digest]


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> _Venvs:
    return _Venvs(tmp_path_factory.mktemp("venvs"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Served:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def serve(emulator: Any, dist: Path, venvs: _Venvs, tmp_path: Path) -> Iterator[Any]:
    """`serve(name)` unpacks that bundle, installs its requirements and runs `functions-framework` on it."""
    started: list[_Served] = []
    snapshot = tmp_path / "snapshot"
    config = tmp_path / "booking.toml"
    config.write_text(config_text(emulator, snapshot), encoding="utf-8")

    def start(name: str) -> _Served:
        source = tmp_path / f"{name}-src"
        with zipfile.ZipFile(dist / f"{name}.zip") as bundle:
            bundle.extractall(source)
        venv = venvs.for_requirements((source / "requirements.txt").read_text(encoding="utf-8"))
        # Only the bundle's own code is importable: the fresh venv knows nothing of this repository.
        found = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import shared, main; print(shared.__file__)"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "NO_GCE_CHECK": "true"},
            check=False,
        )
        assert found.returncode == 0, found.stderr
        assert Path(found.stdout.strip()).is_relative_to(source)

        port = _free_port()
        log = tmp_path / f"{name}.log"
        env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BOOKING_CONFIG": str(config),
            "CREDENTIALS_SECRET": f"{SECRET}/versions/1",
            "NO_GCE_CHECK": "true",
            "BOOKING_CLOCK": current_clock().now().isoformat(),  # agree with the pinned emulator
        }
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(venv / "bin" / "functions-framework"), "--target", name, "--source", "main.py",
                 "--port", str(port), "--host", "127.0.0.1"],
                cwd=source,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served = _Served(f"http://127.0.0.1:{port}", process, log)
        started.append(served)
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"functions-framework exited:\n{served.output()}"
            try:
                requests.get(served.url + "/", timeout=2)
                return served
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"functions-framework did not listen:\n{served.output()}"
                time.sleep(0.1)

    yield start
    for served in started:
        served.process.terminate()
        try:
            served.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(timeout=10)


def test_no_bundle_ships_the_doctor(dist: Path) -> None:
    """`python -m shared.doctor` is the operator's tool, run from a checkout; no function imports it, so no bundle
    carries it (each bundle still imports and serves: the tests below)."""
    for name in PRESENT:
        with zipfile.ZipFile(dist / f"{name}.zip") as bundle:
            names = bundle.namelist()
        assert "shared/__init__.py" in names and "main.py" in names, name
        shipped = [entry for entry in names if entry.startswith(("shared/doctor/", "shared/doctor."))]
        assert shipped == [], f"{name}.zip ships the doctor: {shipped}"


# --- the requirements ------------------------------------------------------------------------------------------


def _pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version and not any(c in version for c in "<>=!~*,; "), f"not an exact pin: {raw!r}"
        pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_every_bundle_pins_exact_versions_within_pyprojects_ranges(dist: Path) -> None:
    from packaging.requirements import Requirement

    texts = {name: _requirements(dist, name) for name in PRESENT}
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name, text in texts.items():
        pins = _pins(text)
        for dependency in dependencies:
            requirement = Requirement(dependency)
            key = requirement.name.lower().replace("_", "-")
            assert key in pins, f"{name}: {requirement.name} is a runtime dependency but not pinned"
            assert requirement.specifier.contains(pins[key]), f"{name}: {key}=={pins[key]} outside {requirement}"


def test_pins_resolve_to_wheels_for_python312(dist: Path, tmp_path: Path) -> None:
    """Cloud Functions' python312 runtime (Ubuntu 22.04, glibc 2.35) installs the same set, all from wheels."""
    for text in {_requirements(dist, name) for name in PRESENT}:
        requirements = tmp_path / "requirements.txt"
        requirements.write_text(text, encoding="utf-8")
        report = tmp_path / "report.json"
        _pip(
            "install", "--dry-run", "--quiet", "--ignore-installed", "--report", report,
            "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--only-binary=:all:",
            "--platform", "manylinux_2_35_x86_64", "--platform", "manylinux_2_28_x86_64",
            "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
            "--target", tmp_path / "target", "-r", requirements,
        )  # fmt: skip
        installed = {
            item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]
        }
        assert installed == _pins(text), "python 3.12 would install something other than the pins"


# --- each bundle, served and used --------------------------------------------------------------------------------


def _free_slots(url: str) -> list[dict[str, str]]:
    first = current_clock().now().date() + timedelta(days=7)
    answer = requests.get(
        f"{url}/slots",
        params={"calendar": "alice", "from": first.isoformat(), "to": (first + timedelta(days=7)).isoformat(),
                "duration": "30"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    slots = [dict(slot) for slot in answer.json()["slots"]]
    assert slots, "alice has no free 30-minute slot in a week"
    return slots


@pytest.mark.skipif("booking" not in PRESENT, reason="functions/booking/main.py does not exist yet")
def test_booking_bundle_books_against_the_emulator(emulator: Any, serve: Any) -> None:
    served = serve("booking")
    calendars = requests.get(f"{served.url}/calendars", timeout=30)
    assert calendars.status_code == 200, served.output()
    listed = [(entry["id"], entry["kind"]) for entry in calendars.json()["calendars"]]
    assert listed == [("alice", "calendar"), ("bob", "calendar"), ("carol", "calendar"), ("sales", "team"),
                      ("review", "team")]  # the example config's calendars, then its teams

    slot = _free_slots(served.url)[0]
    body = {"calendar": "alice", "start": slot["start"], "duration": 30, "name": "Bundle Test",
            "email": "visitor@example.org"}
    answer = requests.post(f"{served.url}/bookings", json=body, timeout=30)
    assert answer.status_code == 201, answer.text + served.output()
    booking = answer.json()["booking"]
    assert booking["status"] == "confirmed"
    assert answer.json()["token"]

    wanted = datetime.fromisoformat(slot["start"]).astimezone(UTC)
    state = emulator.emulator.state
    with state.lock:
        events = [
            event for event in state.calendars["alice@example.com"].events.values()
            if event.get("status") == "confirmed"
            and event.get("extendedProperties", {}).get("private", {}).get("wcbBooking") == "1"
            and datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00")) == wanted
        ]
    assert len(events) == 1, "the booking is not in alice's calendar"
    assert "Bundle Test" in json.dumps(events[0])


@pytest.mark.skipif("sharing" not in PRESENT, reason="functions/sharing/main.py does not exist yet")
def test_sharing_bundle_shares_against_the_emulator(emulator: Any, serve: Any) -> None:
    served = serve("sharing")
    token = id_token(emulator, "admin@example.com", audience="http://127.0.0.1:8080/sharing")  # as configured
    body = {"calendar": "alice@example.com", "owner": "alice@example.com",
            "scope": {"type": "user", "value": "carol@example.com"}, "role": "reader"}
    answer = requests.post(f"{served.url}/shares", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 201, answer.text + served.output()
    assert answer.json()["rule"]["role"] == "reader"
    state = emulator.emulator.state
    with state.lock:
        rules = list(state.calendars["alice@example.com"].acl.values())
        assert any(rule.scope_value == "carol@example.com" and rule.role == "reader" for rule in rules)

    refused = requests.post(f"{served.url}/shares", json=body, timeout=30)
    assert refused.status_code == 401


@pytest.mark.skipif("sync" not in PRESENT, reason="functions/sync/main.py does not exist yet")
def test_sync_bundle_syncs_against_the_emulator(emulator: Any, serve: Any, tmp_path: Path) -> None:
    served = serve("sync")
    token = id_token(emulator, "scheduler@demo-project.iam.gserviceaccount.com", audience="http://127.0.0.1:8080/sync")
    answer = requests.post(f"{served.url}/", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text + served.output()
    assert answer.json()["calendars"] == 3
    snapshot = tmp_path / "snapshot" / "availability.json"
    assert snapshot.is_file(), "the sync wrote no snapshot"
    assert sorted(json.loads(snapshot.read_bytes())["calendars"]) == ["alice", "bob", "carol"]

    refused = requests.post(f"{served.url}/", timeout=30)
    assert refused.status_code == 401

