"""Locust users for `bench/load.py`, run by `locust --headless` in a process of its own (locust patches the
standard library with gevent on import, so nothing else of the bench imports this file).

Only the public HTTP API is used, so the mixed run keeps working whatever the booking internals become.
`LOAD_PLAN` names a JSON file written by bench/load.py:
    {"scenario": "slots" | "mixed", "rate": total requests/s offered (slots), "queries": [GET /slots params],
     "pool": [booking bodies: few free slots, so that users race for the same ones], "out": result path}
bench/load.py names the user class to run (`SlotsUser` or `Visitor`). At the end every status per request
kind, each 201's booking id and token and each booking cancelled (200 on DELETE) are written to `out` as JSON;
bench/load.py reads each kept booking back and checks the emulator's `/_emulator/state` for double bookings.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)
CREATED: list[dict[str, str]] = []  # {"id", "token", "calendar", "start"} of every 201
CANCELLED: list[str] = []
USERS = max(1, int(os.environ.get("LOAD_USERS", "1")))


def _record(kind: str, response: Any) -> None:
    STATUSES[kind][int(response.status_code)] += 1


class SlotsUser(FastHttpUser):
    """Reads slots from the snapshot; the whole crowd offers `rate` requests/s (each user rate/users)."""

    wait_time = constant_throughput(float(PLAN.get("rate", 100)) / USERS)

    @task
    def slots(self) -> None:
        with self.client.get("/slots", params=random.choice(PLAN["queries"]), name="GET /slots",
                             catch_response=True) as response:
            _record("slots", response)
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


class Visitor(FastHttpUser):
    """Looks at slots, books one of a few popular slots (racing the others), sometimes cancels its own."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.mine: list[tuple[str, str]] = []  # (booking id, token)
        self.number = random.randrange(10**9)

    @task(3)
    def slots(self) -> None:
        with self.client.get("/slots", params=random.choice(PLAN["queries"]), name="GET /slots",
                             catch_response=True) as response:
            _record("slots", response)
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")

    @task(4)
    def book(self) -> None:
        self.number += 1
        body = {**random.choice(PLAN["pool"]), "email": f"v{self.number}@visitor.test", "name": "Vera Visitor"}
        with self.client.post("/bookings", json=body, name="POST /bookings", catch_response=True) as response:
            _record("book", response)
            if response.status_code == 201:
                answer = response.json()
                CREATED.append({"id": answer["booking"]["id"], "token": answer["token"],
                                "calendar": body["calendar"], "start": body["start"]})
                self.mine.append((answer["booking"]["id"], answer["token"]))
                response.success()
            elif response.status_code == 409:  # someone else got the slot first: the right answer to a race
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")

    @task(1)
    def cancel(self) -> None:
        if not self.mine:
            return
        booking_id, token = self.mine.pop(random.randrange(len(self.mine)))
        with self.client.delete(f"/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"},
                                name="DELETE /bookings/{id}", catch_response=True) as response:
            _record("cancel", response)
            if response.status_code == 200:
                CANCELLED.append(booking_id)
            else:
                response.failure(f"HTTP {response.status_code}")


@events.test_stop.add_listener  # type: ignore[untyped-decorator]  # locust is untyped
def _write(**_: Any) -> None:
    result = {"statuses": {kind: dict(counts) for kind, counts in STATUSES.items()},
              "created": CREATED, "cancelled": CANCELLED}
    Path(PLAN["out"]).write_text(json.dumps(result))
