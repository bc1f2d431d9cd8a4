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
# Least privilege: a second delegation client for sharing alone (its own key, its own secret, its own grant).
SHARING_SERVICE_ACCOUNT = f"calendar-sharing@{PROJECT}.iam.gserviceaccount.com"
SHARING_SERVICE_ACCOUNT_CLIENT_ID = "117230461859027734512"
SHARING_CREDENTIALS_SECRET = f"projects/{PROJECT}/secrets/sharing-credentials"
# Keyless delegation: each function's runtime identity (what the metadata server answers as) may sign as its own
# delegation account through IAM Credentials (roles/iam.serviceAccountTokenCreator on that account only).
BOOKING_RUNTIME = f"booking-runtime@{PROJECT}.iam.gserviceaccount.com"
SYNC_RUNTIME = f"sync-runtime@{PROJECT}.iam.gserviceaccount.com"
SHARING_RUNTIME = f"sharing-runtime@{PROJECT}.iam.gserviceaccount.com"
UNGRANTED_RUNTIME = f"ungranted-runtime@{PROJECT}.iam.gserviceaccount.com"  # holds Token Creator on nothing
TOKEN_CREATORS = {
    SERVICE_ACCOUNT: [f"serviceAccount:{BOOKING_RUNTIME}", f"serviceAccount:{SYNC_RUNTIME}"],
    SHARING_SERVICE_ACCOUNT: [f"serviceAccount:{SHARING_RUNTIME}"],
}
# The keyless descriptors: which delegation account to sign as. No key in them, nothing secret at all.
KEYLESS_SECRET = f"projects/{PROJECT}/secrets/calendar-keyless"
SHARING_KEYLESS_SECRET = f"projects/{PROJECT}/secrets/sharing-keyless"
# The booking-token key, in its own secret that only the booking function reads.
TOKEN_KEY_SECRET = f"projects/{PROJECT}/secrets/booking-token-key"
TOKEN_KEY = "demo-booking-token-key-0123456789abcdef0123456789abcdef"  # noqa: S105 - a fixed fake for the local demo
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
# Least privilege: the booking/sync delegation client gets events + freebusy, sharing's gets acls + calendar list.
BOOKING_DWD_SCOPES = [f"{_AUTH}calendar.events", f"{_AUTH}calendar.freebusy"]
SHARING_DWD_SCOPES = [f"{_AUTH}calendar.acls", f"{_AUTH}calendar.calendarlist.readonly"]

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


def sharing_key_info(base_url: str) -> dict[str, Any]:
    """The sharing delegation account's key JSON (its own key, fresh per process)."""
    from .keys import cached_key

    pair = cached_key("demo-sharing-service-account")
    return {
        **service_account_key_info(base_url),
        "private_key_id": pair.key_id,
        "private_key": pair.private_pem,
        "client_email": SHARING_SERVICE_ACCOUNT,
        "client_id": SHARING_SERVICE_ACCOUNT_CLIENT_ID,
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{quote(SHARING_SERVICE_ACCOUNT)}",
    }


def keyless_descriptor(email: str, client_id: str) -> dict[str, Any]:
    return {"type": "keyless_dwd", "client_email": email, "client_id": client_id}


def _secret(name: str, payload: bytes) -> Secret:
    version = SecretVersion(number=1, data_b64=base64.b64encode(payload).decode(), create_time=rfc3339())
    return Secret(name=name, versions=[version])


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
    state.dwd_grants[SERVICE_ACCOUNT_CLIENT_ID] = list(BOOKING_DWD_SCOPES)

    from .keys import cached_key, system_managed_key

    sharing_pair = cached_key("demo-sharing-service-account")
    state.service_accounts[SHARING_SERVICE_ACCOUNT] = ServiceAccount(
        email=SHARING_SERVICE_ACCOUNT,
        client_id=SHARING_SERVICE_ACCOUNT_CLIENT_ID,
        project_id=PROJECT,
        public_keys={sharing_pair.key_id: sharing_pair.public_pem},
    )
    state.dwd_grants[SHARING_SERVICE_ACCOUNT_CLIENT_ID] = list(SHARING_DWD_SCOPES)
    for delegate in (SERVICE_ACCOUNT, SHARING_SERVICE_ACCOUNT):  # Google-managed keys, what IAM Credentials signs with
        managed = system_managed_key(delegate)
        state.service_accounts[delegate].public_keys[managed.key_id] = managed.public_pem
    for number, runtime in enumerate((BOOKING_RUNTIME, SYNC_RUNTIME, SHARING_RUNTIME, UNGRANTED_RUNTIME)):
        state.service_accounts[runtime] = ServiceAccount(
            email=runtime, client_id=str(108000000000000000000 + number), project_id=PROJECT
        )
    state.token_creators = {target: list(members) for target, members in TOKEN_CREATORS.items()}
    state.metadata_identity = BOOKING_RUNTIME

    key_info = service_account_key_info(base_url)
    payload = json.dumps(key_info, indent=2).encode()
    state.secrets[CREDENTIALS_SECRET] = Secret(
        name=CREDENTIALS_SECRET,
        versions=[SecretVersion(number=1, data_b64=base64.b64encode(payload).decode(), create_time=rfc3339())],
    )

    state.secrets[SHARING_CREDENTIALS_SECRET] = _secret(
        SHARING_CREDENTIALS_SECRET, json.dumps(sharing_key_info(base_url), indent=2).encode()
    )
    state.secrets[KEYLESS_SECRET] = _secret(
        KEYLESS_SECRET, json.dumps(keyless_descriptor(SERVICE_ACCOUNT, SERVICE_ACCOUNT_CLIENT_ID)).encode()
    )
    state.secrets[SHARING_KEYLESS_SECRET] = _secret(
        SHARING_KEYLESS_SECRET,
        json.dumps(keyless_descriptor(SHARING_SERVICE_ACCOUNT, SHARING_SERVICE_ACCOUNT_CLIENT_ID)).encode(),
    )
    state.secrets[TOKEN_KEY_SECRET] = _secret(TOKEN_KEY_SECRET, TOKEN_KEY.encode())

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
        "dwd_scopes": list(BOOKING_DWD_SCOPES),
        "sharing_service_account_key": sharing_key_info(base_url),
        "sharing_credentials_secret": SHARING_CREDENTIALS_SECRET,
        "sharing_dwd_scopes": list(SHARING_DWD_SCOPES),
        "keyless_secret": KEYLESS_SECRET,
        "sharing_keyless_secret": SHARING_KEYLESS_SECRET,
        "token_key_secret": TOKEN_KEY_SECRET,
        "runtime_identities": {
            "booking": BOOKING_RUNTIME,
            "sync": SYNC_RUNTIME,
            "sharing": SHARING_RUNTIME,
            "ungranted": UNGRANTED_RUNTIME,
        },
        "token_creators": {target: list(members) for target, members in TOKEN_CREATORS.items()},
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
