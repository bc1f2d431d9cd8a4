"""Helpers for team booking tests: a config with a three-member round-robin team, clean member calendars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.booking_support import clear_events, confirmed_bookings

MEMBERS = {"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com"}

# Carol offers 30 minutes too, so that she can join a team of three with Alice and Bob (Thursdays 14:30-17:00 in
# Berlin are the hours all three share).
TRIO = {
    "durations = [45]": "durations = [30, 45]",
    "[sharing]\n": '[[teams]]\nslug = "trio"\nname = "Trio"\nmode = "round_robin"\n'
                   'members = ["alice", "bob", "carol"]\ndurations = [30]\n\n[sharing]\n',
}


def trio_runtime(emulator: Any, tmp_path: Path) -> Any:
    from tests.helpers.support import make_config, make_runtime

    return make_runtime(emulator, config=make_config(emulator, tmp_path / "snapshot", replace=TRIO))


def clear_members(emulator: Any) -> None:
    for calendar_id in MEMBERS.values():
        clear_events(emulator, calendar_id)


def bookings_by_member(emulator: Any) -> dict[str, list[dict[str, Any]]]:
    """Each member's confirmed bookings of this product (their own events, not Google's copies of others')."""
    return {slug: confirmed_bookings(emulator, calendar_id) for slug, calendar_id in MEMBERS.items()}


def team_body(team: str, start: Any, duration: int = 30, **extra: Any) -> dict[str, Any]:
    return {"calendar": team, "start": start.isoformat(), "duration": duration, "name": "Vera Visitor",
            "email": "vera@visitor.test", **extra}
