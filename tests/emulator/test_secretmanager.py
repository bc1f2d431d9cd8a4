"""Secret Manager REST v1, driven by `SecretManagerServiceClient(transport="rest")`."""

from __future__ import annotations

import json
from typing import Any

import google_crc32c
import pytest
from google.api_core import exceptions

from tests.helpers.clients import control, secret_manager_client

SECRET = "projects/demo-project/secrets/calendar-credentials"


def _error_status(error: exceptions.GoogleAPICallError) -> str:
    response = error.response
    assert response is not None
    return str(response.json()["error"]["status"])


@pytest.fixture
def client(emulator: Any) -> Any:
    return secret_manager_client(emulator)


@pytest.mark.parametrize("version", ["latest", "1"])
def test_access_returns_the_demo_key_with_a_correct_checksum(emulator: Any, client: Any, version: str) -> None:
    response = client.access_secret_version(name=f"{SECRET}/versions/{version}")

    assert response.name == f"{SECRET}/versions/1"
    data = bytes(response.payload.data)
    assert response.payload._pb.HasField("data_crc32c")
    assert response.payload.data_crc32c == google_crc32c.value(data)
    key = json.loads(data)
    assert key == emulator.emulator.state.demo["service_account_key"]
    assert key["type"] == "service_account"
    assert key["token_uri"] == f"{emulator.url}/token"


def test_add_version_moves_latest_and_keeps_older_versions(client: Any) -> None:
    payload = b'{"type": "authorized_user"}'
    added = client.add_secret_version(
        parent=SECRET, payload={"data": payload, "data_crc32c": google_crc32c.value(payload)}
    )
    assert added.name == f"{SECRET}/versions/2"
    assert added.state.name == "ENABLED"

    latest = client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert (latest.name, bytes(latest.payload.data)) == (f"{SECRET}/versions/2", payload)
    assert latest.payload.data_crc32c == google_crc32c.value(payload)
    assert client.access_secret_version(name=f"{SECRET}/versions/1").name == f"{SECRET}/versions/1"


def test_add_version_with_a_wrong_checksum_is_refused(client: Any) -> None:
    with pytest.raises(exceptions.BadRequest) as caught:
        client.add_secret_version(parent=SECRET, payload={"data": b"abc", "data_crc32c": 12345})
    assert _error_status(caught.value) == "INVALID_ARGUMENT"
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").name == f"{SECRET}/versions/1"


def test_disabled_version_cannot_be_accessed(client: Any) -> None:
    disabled = client.disable_secret_version(name=f"{SECRET}/versions/1")
    assert disabled.state.name == "DISABLED"

    with pytest.raises(exceptions.BadRequest) as caught:
        client.access_secret_version(name=f"{SECRET}/versions/1")
    assert f"Secret Version [{SECRET}/versions/1] is in DISABLED state." in caught.value.message
    assert _error_status(caught.value) == "FAILED_PRECONDITION"

    client.enable_secret_version(name=f"{SECRET}/versions/1")
    assert client.access_secret_version(name=f"{SECRET}/versions/1").name == f"{SECRET}/versions/1"


def test_latest_is_the_newest_version_even_when_disabled(client: Any) -> None:
    """Google: "`versions/latest` is an alias to the most recently created SecretVersion" (any state)."""
    client.add_secret_version(parent=SECRET, payload={"data": b"two"})
    client.disable_secret_version(name=f"{SECRET}/versions/2")
    with pytest.raises(exceptions.BadRequest) as caught:
        client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert "versions/2] is in DISABLED state" in caught.value.message
    assert client.get_secret_version(name=f"{SECRET}/versions/latest").name == f"{SECRET}/versions/2"


def test_destroyed_version_is_gone_for_good(client: Any) -> None:
    client.destroy_secret_version(name=f"{SECRET}/versions/1")
    with pytest.raises(exceptions.BadRequest) as caught:
        client.access_secret_version(name=f"{SECRET}/versions/1")
    assert "is in DESTROYED state." in caught.value.message
    with pytest.raises(exceptions.BadRequest):
        client.enable_secret_version(name=f"{SECRET}/versions/1")


def test_missing_secret_and_missing_version_are_not_found(client: Any) -> None:
    with pytest.raises(exceptions.NotFound) as caught:
        client.access_secret_version(name="projects/demo-project/secrets/nope/versions/latest")
    assert _error_status(caught.value) == "NOT_FOUND"
    with pytest.raises(exceptions.NotFound, match=r"versions/7\] not found"):
        client.access_secret_version(name=f"{SECRET}/versions/7")


def test_version_metadata_and_listing(client: Any) -> None:
    client.add_secret_version(parent=SECRET, payload={"data": b"two"})
    metadata = client.get_secret_version(name=f"{SECRET}/versions/1")
    assert metadata.state.name == "ENABLED"
    assert metadata.create_time is not None
    names = [version.name for version in client.list_secret_versions(parent=SECRET)]
    assert names == [f"{SECRET}/versions/2", f"{SECRET}/versions/1"]


def test_create_and_get_secret(client: Any) -> None:
    created = client.create_secret(
        parent="projects/demo-project", secret_id="booking-signing-key", secret={"replication": {"automatic": {}}}
    )
    assert created.name == "projects/demo-project/secrets/booking-signing-key"
    assert client.get_secret(name=created.name).name == created.name
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{created.name}/versions/latest")
    client.add_secret_version(parent=created.name, payload={"data": b"k1"})
    assert bytes(client.access_secret_version(name=f"{created.name}/versions/latest").payload.data) == b"k1"

    with pytest.raises(exceptions.Conflict):
        client.create_secret(
            parent="projects/demo-project", secret_id="booking-signing-key", secret={"replication": {"automatic": {}}}
        )


def test_secret_access_is_logged_with_the_resolved_version(emulator: Any, client: Any) -> None:
    client.access_secret_version(name=f"{SECRET}/versions/latest")
    (entry,) = control(emulator, "GET", "requests?method=secretmanager.*")["requests"]
    assert entry["method"] == "secretmanager.versions.access"
    assert entry["version"] == f"{SECRET}/versions/1"
