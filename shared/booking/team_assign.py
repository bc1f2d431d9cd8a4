"""Which member a round-robin request with an Idempotency-Key books: one assignment event per request.

A team booking's ids follow from the team, the client and the key, not from the member, but Google keeps an id
unique per calendar only: two attempts of one request (the client's retry on another instance while the first is
still in flight) that pick different members (one saw the other's booking make its member busy) would each book
under the same id. So before it holds any claim, an attempt inserts the request's assignment, an event with an id
of its own (`assignment_id`) in the claims calendar of the team's first member, naming the member it will try.
The insert succeeds for exactly one attempt (Google's `409 duplicate` for the rest, who read it and follow); an
attempt whose member lost the slot moves the assignment on by a conditional write (`If-Match`), so every attempt
of the request tries the member the assignment names, and where the booking was written, the assignment names
it. The assignment is transparent and private, and never a claim (`wcbClaim` unset: the sweep leaves it alone).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from ..availability import identity_for
from ..calendar_client import CalendarClient
from ..claims import digest
from ..config import CalendarConfig, Config, TeamConfig
from ..errors import GoogleConflict, NotFound, UpstreamUnavailable
from ..events import P_TEAM, private_properties
from ..slots import Interval
from .writes import patch_if_unchanged

P_ASSIGNMENT = "wcbAssignment"  # "1" on a round-robin request's assignment
P_MEMBER = "wcbMember"  # the member the request tries now ("" before it has one)


def assignment_id(team: TeamConfig, scope: str, key: str) -> str:
    return "k" + digest("team-assignment", team.slug, scope, key)[:31]


def member_of(assignment: dict[str, Any]) -> str:
    return private_properties(assignment).get(P_MEMBER, "")


class Assignments:
    def __init__(self, config: Config, client: CalendarClient) -> None:
        self._config = config
        self._client = client

    def _home(self, team: TeamConfig) -> CalendarConfig:
        home = self._config.calendar_by_slug(team.members[0])
        if home is None:  # validated with the config
            raise NotFound(f"No bookable calendar {team.members[0]!r}.")
        return home

    def take(self, team: TeamConfig, scope: str, key: str, member: str, span: Interval) -> dict[str, Any]:
        """The request's assignment: a new one naming `member`, or the one an earlier attempt made (read by id)."""
        home = self._home(team)
        identity = identity_for(home)
        event_id = assignment_id(team, scope, key)
        body = {
            "id": event_id,
            "summary": "Team booking assignment (do not edit)",
            "start": {"dateTime": span.start.astimezone(UTC).isoformat()},
            "end": {"dateTime": span.end.astimezone(UTC).isoformat()},
            "transparency": "transparent",
            "visibility": "private",
            "extendedProperties": {"private": {P_ASSIGNMENT: "1", P_TEAM: team.slug, P_MEMBER: member}},
        }
        try:
            return self._client.insert_event(identity, home.claims_calendar_id, body)
        except GoogleConflict as conflict:
            if conflict.reason != "duplicate":
                raise
        return self._client.get_event(identity, home.claims_calendar_id, event_id)

    def move_on(self, team: TeamConfig, assignment: dict[str, Any], seen: str, member: str) -> dict[str, Any]:
        """Name `member` instead of `seen`, unless another attempt moved it on meanwhile (then follow that)."""
        home = self._home(team)

        def change(current: dict[str, Any]) -> dict[str, Any] | None:
            if member_of(current) != seen:
                return None
            return {"extendedProperties": {"private": {P_MEMBER: member}}}

        result = patch_if_unchanged(self._client, identity_for(home), home.claims_calendar_id, assignment, change)
        if result.exhausted:
            raise UpstreamUnavailable("The booking's assignment kept changing; try again.")
        return result.event
