"""Email confirmation before a booking is final (booking.confirm_email, issue 13): a pending hold that lapses.

Against the emulator, on the pinned clock: a pending booking holds its slot until confirmed through the link in
Google's invitation; unconfirmed past its deadline it no longer counts, the sync expires it, a competitor wins
its time, and a late confirmation is refused.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.booking import NewBooking
from shared.clock import PinnedClock
from shared.config import ConfigError
from shared.runtime import Runtime, set_runtime
from shared.sync import AvailabilitySync
from tests.helpers.booking_support import ALICE, assert_matches_openapi, at, booking_body, clear_events, workday
from tests.helpers.function_app import function_app
from tests.helpers.interleave import Paused, private
from tests.helpers.support import make_config, make_runtime

CONFIRM = {"invite_visitor = true": "invite_visitor = true\nconfirm_email = true\nconfirm_within_minutes = 30"}
VISITOR = "vera@visitor.test"
RIVAL = "rita@rival.test"


@pytest.fixture
def runtime(emulator: Any, tmp_path: Any) -> Iterator[Runtime]:
    clear_events(emulator)
    built = make_runtime(emulator, config=make_config(emulator, tmp_path / "snapshot", replace=CONFIRM))
    set_runtime(built)
    yield built
    set_runtime(None)


@pytest.fixture
def api(runtime: Runtime) -> Any:
    return function_app("booking").test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event_of(emulator: Any, booking_id: str) -> dict[str, Any]:
    state = emulator.emulator.state
    with state.lock:
        return dict(state.calendars[ALICE].events[booking_id])


def standing(emulator: Any) -> list[dict[str, Any]]:
    """Bookings on alice's calendar that still count (not cancelled), pending ones included."""
    state = emulator.emulator.state
    with state.lock:
        events = [dict(e) for e in state.calendars[ALICE].events.values()]
    return [e for e in events if e.get("status") != "cancelled"
            and ((e.get("extendedProperties") or {}).get("private") or {}).get("wcbBooking") == "1"]


def confirm_token(emulator: Any, booking_id: str) -> str:
    """The confirmation token of the confirm link in the invitation (the event's description)."""
    text = html.unescape(str(event_of(emulator, booking_id).get("description", "")))
    found = re.search(rf"#booking={booking_id}&token=([^&\s]+)&action=confirm", text)
    assert found, text
    return found.group(1)


def book(api: Any, start: datetime, email: str = VISITOR, **headers: str) -> Any:
    return api.post("/bookings", json=booking_body(start, email=email), headers=headers)


def offered(api: Any, start: datetime, *, live: bool = True) -> bool:
    day = start.date().isoformat()
    answer = api.get(f"/slots?calendar=alice&from={day}&to={day}&duration=30{'&live=true' if live else ''}")
    assert answer.status_code == 200
    return any(datetime.fromisoformat(s["start"]) == start for s in answer.get_json()["slots"])


def test_a_pending_booking_holds_its_slot_until_confirmed_by_the_invitation_link(
    api: Any, emulator: Any, pinned_clock: Any
) -> None:
    start = at(workday(), 10)
    made = book(api, start, **{"Idempotency-Key": "pending-1"})
    assert made.status_code == 202
    assert_matches_openapi(made, "/bookings", "POST")
    booking, token = made.get_json()["booking"], made.get_json()["token"]
    assert booking["status"] == "pending"
    deadline = datetime.fromisoformat(booking["confirmBy"])
    assert timedelta(minutes=29) < deadline - pinned_clock.now() <= timedelta(minutes=30)
    assert event_of(emulator, booking["id"])["status"] == "tentative"
    invitations = [m for m in emulator.emulator.state.mailbox if m["kind"] == "invitation"]
    assert [m["to"] for m in invitations] == [VISITOR]

    # Held: not offered, and a rival cannot take it.
    assert not offered(api, start)
    rival = book(api, start, RIVAL)
    assert (rival.status_code, rival.get_json()["error"]["code"]) == (409, "slot_unavailable")
    # The same request again is the same pending booking.
    again = book(api, start, **{"Idempotency-Key": "pending-1"})
    assert again.status_code == 202 and again.get_json()["booking"]["id"] == booking["id"]
    # It cannot be moved before it is confirmed.
    moved = api.patch(f"/bookings/{booking['id']}", json={"start": at(workday(), 14).isoformat()},
                      headers=bearer(token))
    assert moved.status_code == 409 and moved.get_json()["error"]["details"] == {"status": "pending"}

    # The booking token answered to whoever booked does not confirm: only the invitation's link does.
    refused = api.post(f"/bookings/{booking['id']}/confirm", headers=bearer(token))
    assert refused.status_code == 403
    assert_matches_openapi(refused, "/bookings/{id}/confirm", "POST")
    code = confirm_token(emulator, booking["id"])
    assert api.get(f"/bookings/{booking['id']}", headers=bearer(code)).status_code == 403

    pinned_clock.advance(timedelta(minutes=29))
    confirmed = api.post(f"/bookings/{booking['id']}/confirm", headers=bearer(code))
    assert confirmed.status_code == 200
    assert_matches_openapi(confirmed, "/bookings/{id}/confirm", "POST")
    assert confirmed.get_json()["booking"]["status"] == "confirmed"
    assert "confirmBy" not in confirmed.get_json()["booking"]
    stored = event_of(emulator, booking["id"])
    assert stored["status"] == "confirmed" and "action=confirm" not in html.unescape(stored["description"])
    assert "action=cancel" in html.unescape(stored["description"])
    assert api.post(f"/bookings/{booking['id']}/confirm", headers=bearer(code)).status_code == 200  # a repeat

    # Past the old deadline it stands: confirmed, still holding its slot.
    pinned_clock.advance(timedelta(minutes=5))
    assert api.get(f"/bookings/{booking['id']}", headers=bearer(token)).get_json()["booking"]["status"] == "confirmed"
    assert book(api, start, RIVAL).status_code == 409
    assert [e["id"] for e in standing(emulator)] == [booking["id"]]


def test_an_unconfirmed_booking_lapses_the_sync_expires_it_and_its_time_is_offered_again(
    api: Any, emulator: Any, runtime: Runtime, pinned_clock: Any
) -> None:
    start = at(workday(), 11)
    made = book(api, start).get_json()
    booking_id, token = made["booking"]["id"], made["token"]
    code = confirm_token(emulator, booking_id)
    AvailabilitySync.from_runtime(runtime).run()  # within the deadline: held, in the snapshot too
    assert event_of(emulator, booking_id)["status"] == "tentative"
    assert not offered(api, start, live=False)
    pinned_clock.advance(timedelta(minutes=31))

    AvailabilitySync.from_runtime(runtime).run()
    stored = event_of(emulator, booking_id)
    assert stored["status"] == "cancelled"
    assert stored["extendedProperties"]["private"]["wcbOutcome"] == "expired"
    assert offered(api, start, live=False)  # the snapshot the sync wrote after expiring it
    assert offered(api, start)
    late = api.post(f"/bookings/{booking_id}/confirm", headers=bearer(code))
    assert late.status_code == 410
    assert late.get_json()["error"]["code"] == "confirmation_expired"
    assert_matches_openapi(late, "/bookings/{id}/confirm", "POST")
    assert api.get(f"/bookings/{booking_id}", headers=bearer(token)).get_json()["booking"]["status"] == "cancelled"
    assert standing(emulator) == []
    mails = [(m["to"], m["kind"]) for m in emulator.emulator.state.mailbox]
    assert mails == [(VISITOR, "invitation"), (VISITOR, "cancellation")]  # the visitor hears it lapsed, once


def test_a_competitor_after_the_deadline_wins_and_the_late_confirmation_is_refused(
    api: Any, emulator: Any, pinned_clock: Any
) -> None:
    start = at(workday(), 15)
    made = book(api, start).get_json()
    booking_id = made["booking"]["id"]
    code = confirm_token(emulator, booking_id)
    pinned_clock.advance(timedelta(minutes=30, seconds=1))

    rival = book(api, start, RIVAL)  # no sync ran: the rival's own booking expires the lapsed hold
    assert rival.status_code == 202, rival.get_json()
    assert event_of(emulator, booking_id)["extendedProperties"]["private"]["wcbOutcome"] == "expired"
    late = api.post(f"/bookings/{booking_id}/confirm", headers=bearer(code))
    assert (late.status_code, late.get_json()["error"]["code"]) == (410, "confirmation_expired")
    assert [e["id"] for e in standing(emulator)] == [rival.get_json()["booking"]["id"]]


def test_a_pending_booking_counts_once_against_a_daily_cap(emulator: Any, tmp_path: Any, pinned_clock: Any) -> None:
    clear_events(emulator)
    capped = {**CONFIRM, "max_per_day = 8": "max_per_day = 1"}
    set_runtime(make_runtime(emulator, config=make_config(emulator, tmp_path / "snapshot", replace=capped)))
    api = function_app("booking").test_client()
    day = workday()
    made = book(api, at(day, 10)).get_json()
    other = book(api, at(day, 14), RIVAL)
    assert (other.status_code, other.get_json()["error"]["details"]["reason"]) == (409, "day_full")
    assert api.post(f"/bookings/{made['booking']['id']}/confirm",
                    headers=bearer(confirm_token(emulator, made["booking"]["id"]))).status_code == 200
    assert book(api, at(day, 14), RIVAL).status_code == 409
    pinned_clock.advance(timedelta(minutes=31))  # confirmed: the deadline no longer matters
    assert book(api, at(day, 14), RIVAL).status_code == 409
    assert len(standing(emulator)) == 1
    set_runtime(None)


def test_a_pending_booking_may_be_cancelled_and_frees_its_slot(api: Any, emulator: Any) -> None:
    start = at(workday(), 16)
    made = book(api, start).get_json()
    cancelled = api.delete(f"/bookings/{made['booking']['id']}", headers=bearer(made["token"]))
    assert cancelled.status_code == 200 and cancelled.get_json()["booking"]["status"] == "cancelled"
    code = confirm_token(emulator, made["booking"]["id"])
    after = api.post(f"/bookings/{made['booking']['id']}/confirm", headers=bearer(code))
    assert (after.status_code, after.get_json()["error"]["details"]) == (409, {"status": "cancelled"})
    assert book(api, start, RIVAL).status_code == 202


def test_a_company_visitor_gets_no_invitation_so_is_booked_at_once(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    allow = {**CONFIRM, 'company_visitors = "refuse"': 'company_visitors = "allow"'}
    set_runtime(make_runtime(emulator, config=make_config(emulator, tmp_path / "snapshot", replace=allow)))
    made = book(function_app("booking").test_client(), at(workday(), 10), "bob@example.com")
    assert made.status_code == 201 and made.get_json()["booking"]["status"] == "confirmed"
    set_runtime(None)


@pytest.mark.parametrize(("change", "needs"), [
    ({"invite_visitor = true": "invite_visitor = false\nconfirm_email = true"}, "invite_visitor"),
    ({'manage_url = "http://127.0.0.1:8080/"': ""}, "manage_url"),
])
def test_confirm_email_needs_invitations_and_the_booking_page(
    emulator: Any, tmp_path: Any, change: dict[str, str], needs: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_config(emulator, tmp_path, replace={**CONFIRM, **change})  # `change` wins on a shared key
    assert "booking.confirm_email" in str(raised.value) and needs in str(raised.value)


def _is_confirming(body: dict[str, Any]) -> bool:
    return body.get("status") == "confirmed" and private(body).get("wcbPendingUntil") == ""


def _is_expiring(body: dict[str, Any]) -> bool:
    return private(body).get("wcbOutcome") == "expired"


def _visitor(start: datetime, email: str) -> NewBooking:
    return NewBooking("alice", start, 30, "Vera Visitor", email)


def test_a_confirmation_that_loses_the_race_to_an_expiry_is_refused(runtime: Runtime, emulator: Any,
                                                                    pinned_clock: Any) -> None:
    """The confirmation read the booking before its deadline, its write lands after a rival expired it: the
    conditional write loses (412), so the rival alone stands and the visitor hears 410."""
    start = at(workday(), 10)
    made = runtime.booking.book(_visitor(start, VISITOR), None, "")
    code = confirm_token(emulator, made.booking.id)
    confirming = Paused(runtime, _is_confirming, lambda: runtime.booking.confirm(made.booking.id, code))
    pinned_clock.advance(timedelta(minutes=31))
    rival = runtime.booking.book(_visitor(start, RIVAL), None, "")
    status, answer = confirming.finish()
    assert status == 410 and answer.code == "confirmation_expired"
    assert [e["id"] for e in standing(emulator)] == [rival.booking.id]


def test_an_expiry_that_loses_the_race_to_a_confirmation_leaves_the_booking_confirmed(
    runtime: Runtime, emulator: Any, tmp_path: Any, pinned_clock: Any
) -> None:
    """A rival on an instance whose clock runs ahead finds the hold lapsed and expires it, while the visitor's
    confirmation (on an instance still before the deadline) lands first: the expiry loses (412), the booking
    stays confirmed and keeps its claims, the rival gets 409."""
    start = at(workday(), 10)
    made = runtime.booking.book(_visitor(start, VISITOR), None, "")
    code = confirm_token(emulator, made.booking.id)
    ahead = make_runtime(emulator, config=runtime.config,
                         clock=PinnedClock(pinned_clock.now() + timedelta(minutes=31)))
    expiring = Paused(ahead, _is_expiring, lambda: ahead.booking.book(_visitor(start, RIVAL), None, ""))
    confirmed = runtime.booking.confirm(made.booking.id, code)
    assert confirmed.status == "confirmed"
    status, answer = expiring.finish()
    assert status == 409 and answer.code == "slot_unavailable"
    assert [(e["id"], e["status"]) for e in standing(emulator)] == [(made.booking.id, "confirmed")]


def test_a_repeat_after_the_deadline_is_answered_with_the_expired_booking(api: Any, emulator: Any,
                                                                          pinned_clock: Any) -> None:
    start = at(workday(), 14)
    made = book(api, start, **{"Idempotency-Key": "late-repeat"})
    pinned_clock.advance(timedelta(minutes=31))
    again = book(api, start, **{"Idempotency-Key": "late-repeat"})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["booking"]["id"] == made.get_json()["booking"]["id"]
    assert again.get_json()["booking"]["status"] == "cancelled"
    assert standing(emulator) == []


def test_pending_bookings_left_when_confirmation_is_turned_off_are_expired_by_the_sweep(
    api: Any, emulator: Any, tmp_path: Any, pinned_clock: Any
) -> None:
    booking_id = book(api, at(workday(), 13)).get_json()["booking"]["id"]
    plain = make_runtime(emulator, config=make_config(emulator, tmp_path / "plain"))  # confirm_email off, sweep on
    AvailabilitySync.from_runtime(plain).run()
    assert event_of(emulator, booking_id)["status"] == "tentative"  # within its deadline: untouched
    pinned_clock.advance(timedelta(minutes=31))
    AvailabilitySync.from_runtime(plain).run()
    assert private(event_of(emulator, booking_id))["wcbOutcome"] == "expired"
