"""One instance, served the production way (functions-framework's gunicorn, threaded), takes a crowd at once.

80 requests reach one new instance together: 40 bookings of distinct free slots on alice, bob and carol and 40
`GET /slots`. Every answer must be right, and what the threads share must have been built once: one read of each
secret and one token per identity (3), not one per request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.helpers.booking_support import confirmed_bookings, workday
from tests.helpers.support import ROOT, clear_log, config_text, requests_log, set_latency

CALENDARS = {"alice": ("alice@example.com", 30), "bob": ("bob@example.com", 30), "carol": ("carol@example.com", 45)}
BOOKINGS = 40
CONCURRENT = 80


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_slots(client: Any) -> list[tuple[str, str]]:
    """Free slots (slug, start), at most three a day per calendar and 75 minutes apart: clear of the buffers and
    of the per-day cap, so that every one of them can be booked whatever the others do."""
    first = workday()
    chosen: dict[str, list[str]] = {}
    for slug, (_, duration) in CALENDARS.items():
        answer = client.get("/slots", query_string={
            "calendar": slug, "from": first.isoformat(), "to": (first + timedelta(days=20)).isoformat(),
            "duration": duration,
        })
        assert answer.status_code == 200, answer.get_json()
        per_day: Counter[str] = Counter()
        last: datetime | None = None
        chosen[slug] = []
        for slot in answer.get_json()["slots"]:
            start = datetime.fromisoformat(slot["start"])
            if per_day[start.date().isoformat()] >= 3 or (last is not None and start - last < timedelta(minutes=75)):
                continue
            chosen[slug].append(slot["start"])
            per_day[start.date().isoformat()] += 1
            last = start
    mixed = [(slug, starts[i]) for i in range(max(map(len, chosen.values()))) for slug, starts in chosen.items()
             if i < len(starts)]
    assert len(mixed) >= BOOKINGS
    return mixed[:BOOKINGS]


def _start_instance(config_path: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.helpers.pinned_time import current_clock

    port = _free_port()
    env = {**os.environ, "BOOKING_CONFIG": str(config_path), "NO_GCE_CHECK": "true",
           "BOOKING_CLOCK": current_clock().now().isoformat(), "THREADS": str(CONCURRENT), "WORKERS": "1"}
    command = [sys.executable, "-m", "functions_framework", "--target", "booking",
               "--source", str(ROOT / "functions" / "booking" / "main.py"), "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the instance did not start listening"
        time.sleep(0.05)


def test_eighty_concurrent_requests_into_one_gunicorn_instance(
    booking_client: Any, emulator: Any, tmp_path: Path
) -> None:
    slots = _free_slots(booking_client)  # in this process, with its own runtime: the instance below starts cold
    config_path = tmp_path / "booking.toml"
    config_path.write_text(config_text(emulator, tmp_path / "snapshot"))
    process, url = _start_instance(config_path, tmp_path / "instance.log")
    clear_log(emulator)
    # Google answers slowly enough that the requests are in flight together, each thread waiting on its own.
    set_latency(emulator, [{"method": m, "ms": 20} for m in ("calendar.*", "oauth2.token", "secretmanager.*")])
    barrier = threading.Barrier(CONCURRENT)
    first = workday()

    def one(index: int) -> tuple[str, int, dict[str, Any], str]:
        with requests.Session() as session:
            barrier.wait()
            if index < BOOKINGS:
                slug, start = slots[index]
                body = {"calendar": slug, "start": start, "duration": CALENDARS[slug][1], "name": "Vera Visitor",
                        "email": f"visitor{index}@visitor.test"}
                answer = session.post(f"{url}/bookings", json=body, timeout=60)
            else:
                slug = list(CALENDARS)[index % 3]
                params = {"calendar": slug, "from": first.isoformat(), "to": (first + timedelta(days=6)).isoformat(),
                          "duration": str(CALENDARS[slug][1])}
                answer = session.get(f"{url}/slots", params=params, timeout=60)
            return slug, answer.status_code, answer.json(), answer.headers.get("Server", "")

    try:
        with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
            results = list(pool.map(one, range(CONCURRENT)))
    finally:
        set_latency(emulator, [])
        process.send_signal(2)
        process.wait(timeout=20)

    log = [entry for entry in requests_log(emulator) if not entry.get("inner")]
    bookings, slot_answers = results[:BOOKINGS], results[BOOKINGS:]
    assert all("gunicorn" in server.lower() for *_, server in results)  # the production server, not werkzeug's
    assert [status for _, status, _, _ in bookings] == [201] * BOOKINGS, [b for b in bookings if b[1] != 201][:3]
    for (slug, start), (_, _, body, _) in zip(slots, bookings, strict=True):
        assert body["booking"]["calendar"] == slug
        assert datetime.fromisoformat(body["booking"]["start"]) == datetime.fromisoformat(start)
        assert body["token"]
    assert all(status == 200 and isinstance(body["slots"], list) for _, status, body, _ in slot_answers)
    booked = {body["booking"]["id"] for _, _, body, _ in bookings}
    in_google = [e["id"] for cid, _ in CALENDARS.values() for e in confirmed_bookings(emulator, cid)]
    assert sorted(in_google) == sorted(booked)  # each booking exactly once, no stray event
    methods = Counter(entry["method"] for entry in log)
    assert methods["oauth2.token"] == len(CALENDARS), methods  # one mint per identity, not one per request
    secret_reads = Counter(entry.get("path", "") for entry in log if entry["method"].startswith("secretmanager."))
    assert sum(secret_reads.values()) == 2, secret_reads  # the credentials and the token key, each read once
