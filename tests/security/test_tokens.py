"""Attacks on booking tokens and Idempotency-Keys (issue 13), each kept as a regression test."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.runtime import set_runtime
from shared.tokens import _SALT, derive_signing_key, key_from_secret
from tests.helpers.booking_support import (
    assert_matches_openapi,
    at,
    booking_body,
    clear_events,
    confirmed_bookings,
    workday,
)
from tests.helpers.security_support import client, install

ROOT = Path(__file__).resolve().parents[2]
VICTIM = {"X-Forwarded-For": "198.51.100.10"}
ATTACKER = {"X-Forwarded-For": "203.0.113.66"}
# As on Cloud Run: the front end appends the peer's address to X-Forwarded-For; the last entry is the client.
QUERY_OFF = {"token_in_query = true": "token_in_query = false", "trusted_proxy_hops = 0": "trusted_proxy_hops = 1"}


@pytest.fixture
def booking(emulator: Any, tmp_path: Any) -> Iterator[Any]:
    clear_events(emulator)
    install(emulator, tmp_path, QUERY_OFF)
    yield client("booking")
    set_runtime(None)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_guessed_idempotency_key_from_another_client_returns_no_token(booking: Any, emulator: Any) -> None:
    body = booking_body(at(workday(), 10), name="Victoria Victim", email="victim@visitor.test")
    made = booking.post("/bookings", json=body, headers={"Idempotency-Key": "booking-1", **VICTIM})
    assert made.status_code == 201
    guess = booking.post("/bookings", json={**body, "name": "Anyone"},
                         headers={"Idempotency-Key": "booking-1", **ATTACKER})
    assert guess.status_code == 409 and "token" not in guess.get_json()
    same_body = booking.post("/bookings", json=body, headers={"Idempotency-Key": "booking-1", **ATTACKER})
    assert same_body.status_code == 409 and "token" not in same_body.get_json()
    assert same_body.get_json()["error"]["details"]["token"] == "withheld"
    assert made.get_json()["token"] not in same_body.get_data(as_text=True)
    spoofed = {"X-Forwarded-For": f"{VICTIM['X-Forwarded-For']}, {ATTACKER['X-Forwarded-For']}"}
    claimed = booking.post("/bookings", json=body, headers={"Idempotency-Key": "booking-1", **spoofed})
    assert claimed.status_code == 409 and "token" not in claimed.get_json()
    assert len(confirmed_bookings(emulator)) == 1


@pytest.mark.parametrize("change", [{"name": "Someone Else"}, {"notes": "hello"}, {"timezone": "Europe/Paris"}])
def test_an_idempotency_key_replayed_with_another_body_returns_no_token(booking: Any, emulator: Any,
                                                                        change: dict[str, str]) -> None:
    body = booking_body(at(workday(), 10))
    assert booking.post("/bookings", json=body, headers={"Idempotency-Key": "k", **VICTIM}).status_code == 201
    other = booking.post("/bookings", json={**body, **change}, headers={"Idempotency-Key": "k", **VICTIM})
    assert other.status_code == 409 and "token" not in other.get_json()
    assert len(confirmed_bookings(emulator)) == 1


def test_the_same_request_from_the_same_client_is_still_idempotent(booking: Any, emulator: Any) -> None:
    body = booking_body(at(workday(), 10), notes="see you")
    first = booking.post("/bookings", json=body, headers={"Idempotency-Key": "k", **VICTIM})
    again = booking.post("/bookings", json=body, headers={"Idempotency-Key": "k", **VICTIM})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["booking"]["id"] == again.get_json()["booking"]["id"]
    assert len(confirmed_bookings(emulator)) == 1


@pytest.mark.parametrize("fresh_instance", [False, True], ids=["same-instance", "new-instance"])
def test_the_same_request_from_a_new_address_is_told_it_is_booked_without_the_token(
    booking: Any, emulator: Any, tmp_path: Any, fresh_instance: bool
) -> None:
    """A phone changing networks: the retry (same key, same body) comes from a new address. It learns that it is
    booked (not "taken, pick another"), which booking, and where its links went; the token stays with the first
    client, so a guessed key with a victim's known body steals nothing."""
    body = booking_body(at(workday(), 10), notes="call me")
    made = booking.post("/bookings", json=body, headers={"Idempotency-Key": "phone-1", **VICTIM})
    assert made.status_code == 201
    if fresh_instance:  # no in-process note of the booking: the 409 comes from the claims, not the snapshot path
        install(emulator, tmp_path, QUERY_OFF)
        booking = client("booking")
    again = booking.post("/bookings", json=body, headers={"Idempotency-Key": "phone-1", **ATTACKER})
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "request_already_booked"
    assert error["details"]["booking"]["id"] == made.get_json()["booking"]["id"]
    assert error["details"]["booking"]["status"] == "confirmed"
    assert error["details"]["booking"]["invitation"] == {"sent": True, "to": "vera@visitor.test"}
    assert "token" not in again.get_json() and made.get_json()["token"] not in again.get_data(as_text=True)
    assert_matches_openapi(again, "/bookings", "POST")
    # Anything less than the very request (another key, another name) is just a taken slot.
    for key, change in (("phone-2", {}), ("phone-1", {"name": "Vera Visitorr"}), ("phone-1", {"notes": "x"})):
        other = booking.post("/bookings", json={**body, **change}, headers={"Idempotency-Key": key, **ATTACKER})
        assert (other.status_code, other.get_json()["error"]["code"]) == (409, "slot_unavailable")
    # The first client still gets its token back.
    mine = booking.post("/bookings", json=body, headers={"Idempotency-Key": "phone-1", **VICTIM})
    assert mine.status_code == 200 and mine.get_json()["token"] == made.get_json()["token"]
    assert len(confirmed_bookings(emulator)) == 1


def test_without_per_client_keys_the_same_request_from_anywhere_gets_the_token(emulator: Any, tmp_path: Any) -> None:
    clear_events(emulator)
    install(emulator, tmp_path, {**QUERY_OFF, "idempotency_per_client = true": "idempotency_per_client = false"})
    booking = client("booking")
    body = booking_body(at(workday(), 10))
    made = booking.post("/bookings", json=body, headers={"Idempotency-Key": "phone-1", **VICTIM})
    again = booking.post("/bookings", json=body, headers={"Idempotency-Key": "phone-1", **ATTACKER})
    assert (made.status_code, again.status_code) == (201, 200)
    assert again.get_json()["token"] == made.get_json()["token"]
    other = booking.post("/bookings", json={**body, "name": "Someone"}, headers={"Idempotency-Key": "phone-1"})
    assert other.status_code == 409 and "token" not in other.get_json()
    set_runtime(None)


def test_a_move_rotates_the_token(booking: Any, emulator: Any) -> None:
    day = workday()
    made = booking.post("/bookings", json=booking_body(at(day, 10)), headers=VICTIM).get_json()
    old_id, old_token = made["booking"]["id"], made["token"]
    move = {"start": at(day, 14).isoformat()}
    moved = booking.patch(f"/bookings/{old_id}", json=move, headers={**auth(old_token), **VICTIM})
    assert moved.status_code == 200
    new_id, new_token = moved.get_json()["booking"]["id"], moved.get_json()["token"]
    assert new_id != old_id and new_token != old_token

    # The old token reads the old booking, and nothing else.
    old = booking.get(f"/bookings/{old_id}", headers=auth(old_token)).get_json()["booking"]
    assert old["status"] == "cancelled" and old["movedTo"] == new_id
    assert booking.get(f"/bookings/{new_id}", headers=auth(old_token)).status_code == 403
    assert booking.delete(f"/bookings/{new_id}", headers=auth(old_token)).status_code == 403
    # Repeating the move with the old token from elsewhere does not hand out the new token.
    stolen = booking.patch(f"/bookings/{old_id}", json=move, headers={**auth(old_token), **ATTACKER})
    assert stolen.status_code == 409 and "token" not in stolen.get_json()
    booking.delete(f"/bookings/{old_id}", headers=auth(old_token))
    assert [e["id"] for e in confirmed_bookings(emulator)] == [new_id]
    # The client that moved it may repeat its own request (a lost answer) and gets the new token again.
    repeat = booking.patch(f"/bookings/{old_id}", json=move, headers={**auth(old_token), **VICTIM})
    assert repeat.status_code == 200 and repeat.get_json()["token"] == new_token
    assert booking.get(f"/bookings/{new_id}", headers=auth(new_token)).status_code == 200


def test_tokens_are_hmac_sha256(booking: Any, installed_runtime_key: bytes) -> None:
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    token = booking.post("/bookings", json=booking_body(at(workday(), 10))).get_json()["token"]
    sha256 = URLSafeTimedSerializer(installed_runtime_key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
    assert sha256.loads(token)["c"] == "alice"
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(installed_runtime_key, salt=_SALT).loads(token)  # itsdangerous' SHA-1 default


@pytest.fixture
def installed_runtime_key(booking: Any) -> bytes:
    from shared.runtime import get_runtime

    runtime = get_runtime()
    if runtime.token_key is not None:  # the booking-token key secret
        return key_from_secret(runtime.token_key.get()[1])
    return derive_signing_key(runtime.secrets.get().info)


def test_a_token_in_the_query_is_refused_by_default_and_never_logged(booking: Any, emulator: Any,
                                                                     capsys: Any) -> None:
    made = booking.post("/bookings", json=booking_body(at(workday(), 10))).get_json()
    booking_id, token = made["booking"]["id"], made["token"]
    answer = booking.delete(f"/bookings/{booking_id}?token={token}")
    assert answer.status_code == 400
    assert "token" in answer.get_json()["error"]["details"]["fields"]
    assert len(confirmed_bookings(emulator)) == 1
    assert booking.delete(f"/bookings/{booking_id}", headers=auth(token)).status_code == 200
    logged = capsys.readouterr().out
    assert token not in logged and token.split(".")[-1] not in logged


def test_the_page_never_puts_the_token_in_a_url_the_server_sees() -> None:
    widget = (ROOT / "web" / "booking-widget.js").read_text()
    assert "?token=" not in widget and "searchParams.set(\"token\"" not in widget
    assert "Authorization: `Bearer ${" in widget


def test_the_openapi_document_offers_the_bearer_header_not_the_query(booking: Any) -> None:
    document = booking.get("/openapi.json").get_json()
    item = document["paths"]["/bookings/{id}"]
    assert all(param["in"] != "query" for param in item.get("parameters", []))
    assert {method: item[method]["security"] for method in ("get", "delete", "patch")} == {
        method: [{"bookingToken": []}] for method in ("get", "delete", "patch")}
    assert document["components"]["securitySchemes"]["bookingToken"]["scheme"] == "bearer"
