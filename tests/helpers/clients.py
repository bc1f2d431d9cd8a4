"""Real Google client libraries, pointed at the emulator only through options they support."""

from __future__ import annotations

from typing import Any

import requests


def service_account_info(server: Any) -> dict[str, Any]:
    """The demo service account's key JSON (its `token_uri` points at the emulator)."""
    return dict(server.emulator.state.demo["service_account_key"])


def sharing_account_info(server: Any) -> dict[str, Any]:
    """The sharing delegation client's key JSON (calendar.acls + calendar.calendarlist.readonly only)."""
    return dict(server.emulator.state.demo["sharing_service_account_key"])


def delegated_credentials(server: Any, subject: str | None, scopes: list[str]) -> Any:
    """Delegated credentials of the demo client granted `scopes`: sharing's for ACL and calendar-list scopes, else
    the booking/sync client (least privilege: no client holds both)."""
    from google.oauth2 import service_account

    sharing = set(server.emulator.state.demo["sharing_dwd_scopes"])
    info = sharing_account_info(server) if scopes and set(scopes) & sharing else service_account_info(server)
    credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    return credentials.with_subject(subject) if subject else credentials


def authorized_user_credentials(server: Any, scopes: list[str] | None = None) -> Any:
    from google.oauth2.credentials import Credentials

    client = server.emulator.state.demo["oauth_client"]
    return Credentials(
        token=None,
        refresh_token=client["refresh_token"],
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        token_uri=f"{server.url}/token",
        scopes=scopes,
    )


def calendar_service(server: Any, credentials: Any) -> Any:
    from googleapiclient.discovery import build

    return build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{server.url}/calendar/v3/"},
    )


def batch_request(server: Any, callback: Any = None) -> Any:
    from googleapiclient.http import BatchHttpRequest

    return BatchHttpRequest(callback=callback, batch_uri=f"{server.url}/batch/calendar/v3")


def secret_manager_client(server: Any) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


def storage_client(server: Any) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined, unused-ignore]

    return storage.Client(
        project="demo-project",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


def control(server: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{server.url}/_emulator/{path.lstrip('/')}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def id_token(server: Any, email: str, audience: str | None = None) -> str:
    body = {"email": email} if audience is None else {"email": email, "audience": audience}
    return str(control(server, "POST", "id-token", body)["token"])


def foreign_key_pem() -> str:
    """A fresh RSA private key (PKCS#8 PEM) that the emulator has never seen."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
