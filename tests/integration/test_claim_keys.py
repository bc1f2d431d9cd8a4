"""Which claims a booking still needs (`claims.keys_needed`), and who counts as a live holder: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.claims import P_DAY_TOKEN, cells_for, day_tokens, holder_is_live, keys_needed
from shared.slots import Interval, SlotRules

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2031, 3, 4)
RULES = SlotRules(timezone=BERLIN, weekly_hours={}, step=timedelta(minutes=15), buffer_after=timedelta(minutes=10),
                  max_per_day=3)
TOKENS = [token.key for token in day_tokens(DAY, 3, BERLIN)]


def _booking(**private: str) -> dict[str, Any]:
    start = datetime.combine(DAY, time(10), BERLIN)
    return {
        "id": "b1", "status": "confirmed",
        "start": {"dateTime": start.isoformat()}, "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "extendedProperties": {"private": {"wcbBooking": "1", **private}},
    }


def test_a_booking_that_records_its_day_token_needs_that_token_only() -> None:
    start = datetime.combine(DAY, time(10), BERLIN)
    cells = {cell.key for cell in cells_for(Interval(start, start + timedelta(minutes=30)), timedelta(minutes=10),
                                              BERLIN, timedelta(minutes=15))}
    assert len(cells) == 3  # [10:00, 10:40) touches three 15-minute cells
    assert keys_needed(_booking(**{P_DAY_TOKEN: TOKENS[1]}), BERLIN, RULES) == cells | {TOKENS[1]}


def test_a_booking_from_before_the_record_needs_any_token_of_its_day() -> None:
    assert set(TOKENS) <= keys_needed(_booking(), BERLIN, RULES)


def test_a_token_recorded_for_another_day_counts_for_none() -> None:
    other = [token.key for token in day_tokens(DAY + timedelta(days=1), 3, BERLIN)]
    needed = keys_needed(_booking(**{P_DAY_TOKEN: other[0]}), BERLIN, RULES)
    assert not needed & (set(TOKENS) | set(other))


def _live(booking: dict[str, Any] | None, key: str) -> bool:
    claim = {"extendedProperties": {"private": {"wcbHeldAt": datetime(2031, 3, 1, tzinfo=UTC).isoformat()}}}
    return holder_is_live(claim, booking, now=datetime(2031, 3, 1, 0, 5, tzinfo=UTC), ttl=timedelta(minutes=15),
                          key=key, keys_of=lambda event: keys_needed(event, BERLIN, RULES))


def test_a_surplus_token_of_a_confirmed_booking_is_not_live_but_its_own_is() -> None:
    booking = _booking(**{P_DAY_TOKEN: TOKENS[0]})
    assert _live(booking, TOKENS[0]) and not _live(booking, TOKENS[2])


def test_the_placeholder_withdrawing_a_moves_booking_holds_nothing_even_before_it_is_cancelled() -> None:
    placeholder = {**_booking(), "extendedProperties": {"private": {"wcbOutcome": "aborted"}}}
    assert not _live(placeholder, TOKENS[0])
    assert _live(None, TOKENS[0])  # a holder not written yet, younger than the TTL, is live
