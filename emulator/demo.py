"""The demo domain (DESIGN section 3): stable names people and scripts rely on, built fresh in a millisecond.

The service account's RSA key is generated once per process (`keys.service_account_key`) and reused by every
reset, so a reset stays cheap; everything else is plain data.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any
from urllib.parse import quote

from .state import OAuthClient, RefreshToken, Secret, SecretVersion, ServiceAccount, State, User, rfc3339

PROJECT = "demo-project"
DOMAIN = "example.com"
USERS = {
    "alice@example.com": "Alice Adams",
    "bob@example.com": "Bob Baker",
    "carol@example.com": "Carol Clark",
    "admin@example.com": "Ada Admin",
}
GROUP = "team@example.com"
GROUP_MEMBERS = ["alice@example.com", "bob@example.com"]
SERVICE_ACCOUNT = f"calendar-booking@{PROJECT}.iam.gserviceaccount.com"
SERVICE_ACCOUNT_CLIENT_ID = "104729130117523345061"  # numeric, as Google's service account unique ids are
SCHEDULER = f"scheduler@{PROJECT}.iam.gserviceaccount.com"
ADMINS = ["admin@example.com"]
CREDENTIALS_SECRET = f"projects/{PROJECT}/secrets/calendar-credentials"
SNAPSHOT_BUCKET = f"{PROJECT}-availability"

_AUTH = "https://www.googleapis.com/auth/"
DWD_SCOPES = [
    f"{_AUTH}calendar.events",
    f"{_AUTH}calendar.freebusy",
    f"{_AUTH}calendar.acls",
    f"{_AUTH}calendar.calendarlist.readonly",
]

OAUTH_CLIENT_ID = "281958420683-demo0calendar0booking.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "GOCSPX-demo-client-secret-not-real"  # noqa: S105 - a fixed fake for the local demo
REFRESH_TOKEN_SUBJECT = "alice@example.com"  # noqa: S105 - an email, not a secret
REFRESH_TOKEN = "1//0demo-refresh-token-for-alice-not-real"  # noqa: S105 - a fixed fake for the local demo


def service_account_key_info(base_url: str) -> dict[str, Any]:
    """The demo service account's key JSON, as the Cloud console downloads it, `token_uri` at the emulator."""
    from .keys import service_account_key

    pair = service_account_key()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": pair.key_id,
        "private_key": pair.private_pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": SERVICE_ACCOUNT_CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": f"{base_url}/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{quote(SERVICE_ACCOUNT)}",
        "universe_domain": "googleapis.com",
    }


def build_demo_state(base_url: str, *, today: date | None = None) -> State:
    from .keys import service_account_key

    state = State()
    state.settings.issuer = base_url
    state.domains = [DOMAIN]
    state.users = {email: User(email=email, name=name) for email, name in USERS.items()}
    state.groups = {GROUP: list(GROUP_MEMBERS)}

    pair = service_account_key()
    state.service_accounts[SERVICE_ACCOUNT] = ServiceAccount(
        email=SERVICE_ACCOUNT,
        client_id=SERVICE_ACCOUNT_CLIENT_ID,
        project_id=PROJECT,
        public_keys={pair.key_id: pair.public_pem},
    )
    state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = list(DWD_SCOPES)

    key_info = service_account_key_info(base_url)
    payload = json.dumps(key_info, indent=2).encode()
    state.secrets[CREDENTIALS_SECRET] = Secret(
        name=CREDENTIALS_SECRET,
        versions=[SecretVersion(number=1, data_b64=base64.b64encode(payload).decode(), create_time=rfc3339())],
    )

    state.oauth_clients[OAUTH_CLIENT_ID] = OAuthClient(client_id=OAUTH_CLIENT_ID, client_secret=OAUTH_CLIENT_SECRET)
    state.refresh_tokens[REFRESH_TOKEN] = RefreshToken(
        token=REFRESH_TOKEN, client_id=OAUTH_CLIENT_ID, subject=REFRESH_TOKEN_SUBJECT, scopes=list(DWD_SCOPES)
    )

    state.buckets[SNAPSHOT_BUCKET] = {}

    state.demo = {
        "project": PROJECT,
        "domain": DOMAIN,
        "service_account_key": key_info,
        "credentials_secret": CREDENTIALS_SECRET,
        "dwd_scopes": list(DWD_SCOPES),
        "oauth_client": {
            "client_id": OAUTH_CLIENT_ID,
            "client_secret": OAUTH_CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "subject": REFRESH_TOKEN_SUBJECT,
        },
        "admins": list(ADMINS),
        "scheduler": SCHEDULER,
        "group": GROUP,
        "snapshot_bucket": SNAPSHOT_BUCKET,
    }

    from .demo_calendars import seed_calendars

    seed_calendars(state, today)
    return state
