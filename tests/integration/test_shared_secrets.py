"""Credentials JSON from Secret Manager through the real google-cloud-secret-manager client."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from shared.endpoints import Endpoints
from shared.errors import SecretError
from shared.secrets import SecretSource, secret_manager_accessor
from tests.helpers.clients import secret_manager_client
from tests.helpers.support import SECRET, counts


def _source(server: Any, version: str = "latest", **kwargs: Any) -> SecretSource:
    accessor = secret_manager_accessor(Endpoints.for_emulator(server.url))
    return SecretSource(f"{SECRET}/versions/{version}", accessor, **kwargs)


def _add_version(server: Any, payload: bytes) -> str:
    request = {"parent": SECRET, "payload": {"data": payload}}
    response = secret_manager_client(server).add_secret_version(request=request)
    return str(response.name)


def test_latest_is_read_once_and_cached(emulator: Any) -> None:
    source = _source(emulator)
    first = source.get()
    assert first.kind == "service_account"
    assert first.version.endswith("/versions/1")
    assert first.info["client_email"] == emulator.emulator.state.demo["service_account_key"]["client_email"]
    for _ in range(5):
        assert source.get() is first
    assert counts(emulator).get("secretmanager.versions.access") == 1


def test_pinned_version_is_read(emulator: Any) -> None:
    _add_version(emulator, json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "y",
                                       "refresh_token": "z"}).encode())
    assert _source(emulator, "1").get().kind == "service_account"
    assert _source(emulator, "2").get().kind == "authorized_user"


def test_rotation_is_picked_up_after_the_refresh_interval(emulator: Any) -> None:
    source = _source(emulator, refresh_after=0.0)
    assert source.get().version.endswith("/versions/1")
    key = dict(emulator.emulator.state.demo["service_account_key"])
    _add_version(emulator, json.dumps(key).encode())
    assert source.get().version.endswith("/versions/2")


def test_invalidate_rereads_latest(emulator: Any) -> None:
    source = _source(emulator)
    assert source.get().version.endswith("/versions/1")
    _add_version(emulator, json.dumps(dict(emulator.emulator.state.demo["service_account_key"])).encode())
    assert source.get().version.endswith("/versions/1")  # cached until told otherwise
    source.invalidate()
    assert source.get().version.endswith("/versions/2")


def test_crc32c_mismatch_is_refused(emulator: Any) -> None:
    state = emulator.emulator.state
    good = state.secrets[SECRET].versions[0]
    # The stored checksum is computed when served; corrupt the payload the emulator reports a checksum for by
    # making the server send a crc of different data: swap in an accessor that tampers with the bytes.
    accessor = secret_manager_accessor(Endpoints.for_emulator(emulator.url))

    def tampering(name: str) -> tuple[str, bytes, int | None]:
        version, payload, crc = accessor(name)
        return version, payload[:-1] + b" ", crc

    source = SecretSource(f"{SECRET}/versions/latest", tampering)
    with pytest.raises(SecretError, match="CRC32C") as caught:
        source.get()
    assert "private_key" not in str(caught.value)
    assert good.data  # the emulator's copy is untouched


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"not json", "is not JSON"),
        (b'{"type": "external_account"}', "must hold a credentials JSON"),
        (b'{"type": "service_account", "client_email": "a@b"}', "lacks the fields"),
    ],
)
def test_malformed_secret_is_a_clear_error_without_content(emulator: Any, payload: bytes, expected: str) -> None:
    version = _add_version(emulator, payload)
    with pytest.raises(SecretError, match=expected) as caught:
        _source(emulator, version.rsplit("/", 1)[1]).get()
    assert SECRET in str(caught.value)
    assert "a@b" not in str(caught.value)


def test_missing_secret_names_the_secret(emulator: Any) -> None:
    source = SecretSource(
        "projects/demo-project/secrets/nope/versions/latest",
        secret_manager_accessor(Endpoints.for_emulator(emulator.url)),
    )
    with pytest.raises(SecretError, match="projects/demo-project/secrets/nope"):
        source.get()


def test_disabled_version_is_a_clear_error(emulator: Any) -> None:
    client = secret_manager_client(emulator)
    client.disable_secret_version(request={"name": f"{SECRET}/versions/1"})
    with pytest.raises(SecretError, match=f"{SECRET}/versions/1"):
        _source(emulator, "1").get()


def test_payload_bytes_roundtrip(emulator: Any) -> None:
    payload = json.dumps(dict(emulator.emulator.state.demo["service_account_key"])).encode()
    name = _add_version(emulator, payload)
    got = _source(emulator, name.rsplit("/", 1)[1]).get()
    assert base64.b64encode(json.dumps(got.info).encode()) == base64.b64encode(payload)


def test_a_refresh_secret_manager_cannot_answer_keeps_the_version_in_hand(emulator: Any) -> None:
    from shared.clock import PinnedClock
    from shared.errors import UpstreamUnavailable
    from tests.helpers.pinned_time import current_clock
    from tests.helpers.support import set_faults

    clock = PinnedClock(current_clock().now(), frozen=True)
    source = _source(emulator, refresh_after=600.0, clock=clock)
    first = source.get()
    set_faults(emulator, [{"method": "secretmanager.versions.access", "kind": "503"}])
    try:
        clock.advance(timedelta(seconds=601))
        assert source.get() is first  # Secret Manager is away: the version read before still serves
        reads = counts(emulator).get("secretmanager.versions.access", 0)
        assert source.get() is first and counts(emulator).get("secretmanager.versions.access", 0) == reads
        clock.advance(timedelta(seconds=31))  # tried again shortly, not on every request
        assert source.get() is first
        assert counts(emulator).get("secretmanager.versions.access", 0) > reads
        with pytest.raises(UpstreamUnavailable):  # with nothing in hand, the failure is the answer
            _source(emulator, clock=clock).get()
    finally:
        set_faults(emulator, [])
    clock.advance(timedelta(seconds=31))
    assert source.get().version == first.version
