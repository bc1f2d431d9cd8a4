"""`booking`: warm bookings, ours against the baseline at 0 ms and at a latency, with the Google calls they make."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..harness import LATENCY_METHODS, Calls, Sizes, median, percentile, progress, quiet
from ..report import Row
from ..sides import Sides, booking_body


@dataclass
class Phase:
    timings: list[float]
    statuses: Counter[int]
    calls: Calls
    count: int

    @property
    def ok(self) -> bool:
        return self.statuses.get(201, 0) == self.count

    def per_booking(self, attribute: str) -> float:
        return float(getattr(self.calls, attribute)) / self.count


def run_pair(sides: Sides, slots: list[tuple[str, str]], latency_ms: float) -> tuple[Phase, Phase]:
    """Each slot booked by both sides in turn (who goes first alternates), the calendars reset after each
    booking, so that a busier moment of the machine hits both sides alike. Returns (ours, baseline)."""
    stack = sides.stack
    clients = {"ours": sides.ours, "baseline": sides.baseline}
    timings: dict[str, list[float]] = {side: [] for side in clients}
    statuses: dict[str, Counter[int]] = {side: Counter() for side in clients}
    entries: dict[str, list[dict[str, Any]]] = {side: [] for side in clients}
    stack.remove_bookings()
    stack.set_latency(latency_ms)
    try:
        with quiet():
            for index, slot in enumerate(slots):
                order = ("ours", "baseline") if index % 2 == 0 else ("baseline", "ours")
                for side in order:
                    body = booking_body(slot, f"{side[0]}{int(latency_ms)}x{index}@visitor.test")
                    stack.clear_log()
                    began = time.perf_counter()
                    answer = clients[side].post("/bookings", json=body)
                    timings[side].append((time.perf_counter() - began) * 1000)
                    statuses[side][answer.status_code] += 1
                    entries[side] += stack.log()
                    stack.remove_bookings()
    finally:
        stack.set_latency(0)
    ours, base = (Phase(timings[s], statuses[s], Calls.of(entries[s]), len(slots)) for s in ("ours", "baseline"))
    return ours, base


def status_note(phase: Phase, side: str) -> str:
    if phase.ok:
        return ""
    return f"{side}: {dict(phase.statuses)} instead of {phase.count} x 201"

def warm_booking(sides: Sides, sizes: Sizes, slots: list[tuple[str, str]]) -> list[Row]:
    rows: list[Row] = []
    measured = slots[: sizes.bookings]
    for latency in (0.0, sizes.latency_ms):
        progress(f"warm bookings at {latency:g} ms: {len(measured)} per side")
        ours, base = run_pair(sides, measured, latency)
        notes = "; ".join(n for n in (status_note(ours, "ours"), status_note(base, "baseline")) if n)
        need = 5.0 if latency == 0 else 2.0
        p50 = Row(
            f"warm booking p50 @ {latency:g} ms",
            median(ours.timings), median(base.timings), f">= {need:g}x lower", None, "ms",
            note=notes or (f"{len(measured)} bookings per side on the same distinct free slots of alice, bob and "
                           "carol, the sides alternating slot by slot; both functions called through "
                           "functions-framework's app and werkzeug's test client; latency on "
                           f"{', '.join(LATENCY_METHODS)}"),
        )
        p50.passed = ours.ok and base.ok and p50.ratio is not None and p50.ratio >= need
        rows.append(p50)
        rows.append(Row(
            f"warm booking p95 @ {latency:g} ms",
            percentile(ours.timings, 0.95), percentile(base.timings, 0.95), "(no target)", None, "ms",
        ))
        if latency == 0:
            rows += call_rows(ours, base)
            rows += capped_day_rows(sides, slots)
    return rows


def _snapshot_refreshes(entries: list[dict[str, Any]]) -> int:
    """Batches in a request log that carry a freeBusy query (the availability view's refresh, not the booking)."""
    count, parts = 0, []
    for entry in entries:
        if entry.get("inner"):
            parts.append(entry["method"])
            continue
        if "calendar.freebusy.query" in parts or entry["method"] == "calendar.freebusy.query":
            count += 1
        parts = []
    return count


def capped_day_rows(sides: Sides, slots: list[tuple[str, str]]) -> list[Row]:
    """The booking's cost beyond the happy path (shared/booking.py, "Cost"): with a per-day cap, a later booking
    the same day finds the day's tokens taken (released by the first) and takes one over; a booking whose cell is
    held by a live booking reads the claim and its holder before its 409."""
    stack = sides.stack
    by_day: dict[tuple[str, str], list[str]] = {}
    for slug, start in slots:
        by_day.setdefault((slug, start[:10]), []).append(start)
    pair = next(((slug, starts) for (slug, _), starts in by_day.items() if len(starts) >= 2), None)
    if pair is None:
        return [Row("Google round trips, a later booking on a capped day", None, None, "<= 5", None, "",
                    note="no two free slots of one calendar on one day", compare=False)]
    slug, starts = pair
    rows: list[Row] = []
    stack.remove_bookings()
    with quiet():
        first = sides.ours.post("/bookings", json=booking_body((slug, starts[0]), "cap-first@visitor.test"))
        stack.clear_log()
        later = sides.ours.post("/bookings", json=booking_body((slug, starts[1]), "cap-later@visitor.test"))
        later_log = stack.log()
        later_calls = Calls.of(later_log)
        refresh = _snapshot_refreshes(later_log)
        stack.clear_log()
        taken = sides.ours.post("/bookings", json=booking_body((slug, starts[0]), "cap-taken@visitor.test"))
        taken_calls = stack.calls()
    stack.remove_bookings()
    ok = first.status_code == later.status_code == 201
    own = later_calls.round_trips - refresh
    rows.append(Row(
        "Google round trips, a later booking on a capped day", float(own), None, "<= 5",
        ok and own <= 5, "", compare=False,
        note=(f"{slug} on {starts[0][:10]}, its second booking that day (max_per_day): 2 round trips as on the "
              "happy path, plus 3 to take over a day token the first booking released (read the tokens, read "
              f"their holders, one conditional write); {later_calls.methods}, of which {refresh} the pre-check's "
              "refresh of this instance's view (freeBusy), not counted"),
    ))
    rows.append(Row(
        "Google round trips, a booking refused by a held claim (409)", float(taken_calls.round_trips), None,
        "<= 4", taken.status_code == 409 and taken_calls.round_trips <= 4, "", compare=False,
        note=(f"the same slot again (answered {taken.status_code}): one batch of its claims and the live check, "
              "which sees the booking; when the live read lags behind it, the held claims are read with their "
              f"holder (2 more) and what it took released (1 more); {taken_calls.methods}"),
    ))
    return rows


def call_rows(ours: Phase, base: Phase) -> list[Row]:
    trips = Row(
        "Google round trips per booking (warm)", ours.per_booking("round_trips"), base.per_booking("round_trips"),
        "<= 2", ours.ok and ours.per_booking("round_trips") <= 2, "",
        note=(f"{ours.count} bookings per side; ours {ours.calls.methods}; baseline {base.calls.methods} "
              "(from the emulator's request log; a batch counts once, its parts not again)"),
    )
    mints = Row("token mints per booking (warm)", ours.per_booking("token_mints"), base.per_booking("token_mints"),
                "0", ours.calls.token_mints == 0, "")
    secrets = Row("secret reads per booking (warm)", ours.per_booking("secret_reads"),
                  base.per_booking("secret_reads"), "0", ours.calls.secret_reads == 0, "")
    return [trips, mints, secrets]

