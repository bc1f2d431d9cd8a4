"""`make bench` smoke test: the harness runs end to end with tiny sizes and writes the JSON it promises.

Timings at these sizes mean nothing (and the machine may be busy), so only the shape of the output and the
numbers that do not depend on speed are checked: Google calls per booking, the race's single winner, zero
Google calls for `/slots` from a snapshot, ceil(N/50) free/busy calls for the sync.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers.support import ROOT

KEYS = {"metric", "ours", "baseline", "ratio", "target", "pass"}
OPTIONAL = {"unit", "note"}


def _row(rows: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    matches = [row for row in rows if row["metric"].startswith(prefix)]
    assert len(matches) == 1, f"expected one row starting {prefix!r}: {[r['metric'] for r in rows]}"
    return matches[0]


def test_quick_bench_runs_and_writes_valid_json(tmp_path: Path) -> None:
    env = {**os.environ, "NO_GCE_CHECK": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,  # a hang guard, not a speed target
    )
    assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-4000:]
    assert "Machine:" in done.stdout and "| pass" in done.stdout

    rows = json.loads((tmp_path / "latest.json").read_text())
    assert isinstance(rows, list) and len(rows) >= 15
    for row in rows:
        assert KEYS <= set(row) <= KEYS | OPTIONAL, row
        assert isinstance(row["metric"], str) and isinstance(row["target"], str)
        assert row["pass"] in (True, False, None)
        for key in ("ours", "baseline", "ratio"):
            assert row[key] is None or isinstance(row[key], int | float), row
        assert row["metric"] in done.stdout
    machine = json.loads((tmp_path / "machine.json").read_text())
    assert {"platform", "cpu_count", "python"} <= set(machine)

    assert _row(rows, "Google round trips per booking")["ours"] <= 2
    assert _row(rows, "token mints per booking")["ours"] == 0
    assert _row(rows, "secret reads per booking")["ours"] == 0
    assert _row(rows, "GET /slots Google calls")["ours"] == 0
    assert _row(rows, "team slots Google calls per request")["ours"] == 0  # teams from the snapshot too
    assert _row(rows, "team slots, 20 members, round robin")["ours"] is not None
    race = _row(rows, "8-way race: events in Google")
    assert race["ours"] == 1 and race["pass"] is True, race
    assert _row(rows, "8-way race: 5xx answers")["ours"] == 0
    assert _row(rows, "sync freeBusy calls")["ours"] == 2  # 60 calendars: ceil(60 / 50)
    for metric in ("warm booking p50 @ 0 ms", "cold start", "slot computation", "GET /slots p50"):
        assert _row(rows, metric)["ours"] is not None
    # One gunicorn instance under locust: counts that do not depend on speed.
    assert _row(rows, "load: GET /slots errors")["ours"] == 0
    for metric in ("load mixed: 5xx answers", "load mixed: double bookings", "load mixed: 201s not confirmed"):
        assert _row(rows, metric)["ours"] == 0, metric
    assert _row(rows, "load mixed: 201s not confirmed")["pass"] is True  # some 201s were kept, all confirmed
    assert _row(rows, "scale: freeBusy calls")["ours"] == 4  # 200 calendars: ceil(200 / 50)
    assert _row(rows, "scale: GET /slots, 1 of")["ours"] is not None
    # Per-day counts: the first run lists every calendar with busy time (200, within the budget of 300); a run
    # after nothing changed lists none; one after 100 calendars changed lists those.
    notes = {row["metric"].rsplit("(", 1)[-1]: row.get("note", "") for row in rows if row["metric"].startswith(
        "scale: sync ")}
    assert "200 calendars' bookings listed" in notes["first run, no snapshot)"]
    assert " 0 calendars' bookings listed" in notes["steady, nothing changed)"]
    assert "100 calendars' bookings listed" in notes["steady, 100 calendars changed)"]
    assert _row(rows, "warm booking p50 @ 20 ms vs 2 round trips")["ours"] is not None
