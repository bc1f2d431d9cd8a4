"""The emulator's whole world: identities, grants, tokens, calendars, secrets, objects, and its own settings.

One `State` is guarded by one re-entrant lock (`state.lock`); handlers take it for the whole of each request's
read-modify-write, which is what makes the emulator's answers linearizable under concurrent clients.
Everything is plain data so the state can be dumped to JSON and loaded back (`to_json` / `from_json`).
"""

from __future__ import annotations

import base64
import copy
import threading
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from .clock import CLOCK

_T = TypeVar("_T")

ROLE_ORDER = {"none": 0, "freeBusyReader": 1, "reader": 2, "writer": 3, "owner": 4}


@dataclass
class User:
    email: str
    name: str = ""


@dataclass
class ServiceAccount:
    email: str
    client_id: str
    project_id: str
    # private_key_id -> public key PEM; the private half lives only in the key JSON handed to clients.
    public_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str


@dataclass
class RefreshToken:
    token: str
    client_id: str
    subject: str
    scopes: list[str]


@dataclass
class AccessToken:
    token: str
    principal: str  # an email: a user (DWD `sub` or refresh token) or a service account acting as itself
    kind: str  # "user" | "service_account"
    scopes: list[str]
    expires_at: float
    client_id: str
    via_dwd: bool = False


@dataclass
class AclRule:
    id: str
    scope_type: str  # user | group | domain | default
    scope_value: str
    role: str
    etag: str = ""


@dataclass
class Calendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    description: str = ""
    owner: str = ""
    acl: dict[str, AclRule] = field(default_factory=dict)
    # event id -> the event resource as Google returns it, deleted ones kept with status "cancelled".
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SecretVersion:
    number: int
    data_b64: str
    state: str = "ENABLED"  # ENABLED | DISABLED | DESTROYED
    create_time: str = ""

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_b64)


@dataclass
class Secret:
    name: str  # projects/{p}/secrets/{s}
    versions: list[SecretVersion] = field(default_factory=list)


@dataclass
class StoredObject:
    bucket: str
    name: str
    data_b64: str
    content_type: str = "application/octet-stream"
    generation: int = 1
    metageneration: int = 1
    updated: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_b64)


@dataclass
class Settings:
    token_ttl_seconds: int = 3600
    # Per-principal Calendar request rate (requests per second over a 1 s window); 0 disables the limit.
    user_rate_limit_per_second: int = 0
    # Public issuer URL used in ID tokens; set by the server to its own base URL when left empty.
    issuer: str = ""
    # Read-after-write lag of events.list and freeBusy, in milliseconds: a write becomes visible to them only this
    # long after it was answered (events.get, insert's duplicate check and conditional writes see it at once).
    read_lag_ms: int = 0


@dataclass
class State:
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group email -> member emails
    domains: list[str] = field(default_factory=list)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)  # by email
    # IAM on service accounts: target account email -> members holding roles/iam.serviceAccountTokenCreator on it
    # (as "serviceAccount:<email>" / "user:<email>", the way IAM policies name members).
    token_creators: dict[str, list[str]] = field(default_factory=dict)
    # What the metadata server answers: the runtime identity of "this instance" (a service account email).
    metadata_identity: str = ""
    dwd_grants: dict[str, list[str]] = field(default_factory=dict)  # client id -> granted scopes
    oauth_clients: dict[str, OAuthClient] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    # principal email -> calendar ids on their calendar list, in insertion order
    calendar_lists: dict[str, list[str]] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    buckets: dict[str, dict[str, StoredObject]] = field(default_factory=dict)
    mailbox: list[dict[str, Any]] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    # Demo material clients need (key JSON, refresh token) kept for the control API to hand out.
    demo: dict[str, Any] = field(default_factory=dict)
    # Recent writes per calendar and event, for the read-after-write lag: [(time written, version or None)], oldest
    # first. Kept only while `settings.read_lag_ms` > 0 and never dumped.
    history: dict[str, dict[str, list[tuple[float, dict[str, Any] | None]]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # --- identities -------------------------------------------------------------------------------------
    def service_account_by_client_id(self, client_id: str) -> ServiceAccount | None:
        return next((sa for sa in self.service_accounts.values() if sa.client_id == client_id), None)

    def groups_of(self, email: str) -> list[str]:
        return [group for group, members in self.groups.items() if email in members]

    def role_on(self, calendar: Calendar, principal: str) -> str:
        """The strongest role `principal` holds on `calendar` through any rule (user, group, domain, public)."""
        best = "none"
        domain = principal.rpartition("@")[2]
        groups = self.groups_of(principal)
        for rule in calendar.acl.values():
            matches = (
                (rule.scope_type == "user" and rule.scope_value == principal)
                or (rule.scope_type == "group" and rule.scope_value in groups)
                or (rule.scope_type == "domain" and rule.scope_value == domain)
                or rule.scope_type == "default"
            )
            if matches and ROLE_ORDER[rule.role] > ROLE_ORDER[best]:
                best = rule.role
        return best

    # --- read-after-write lag ---------------------------------------------------------------------------------
    def record_write(self, calendar_id: str, event_id: str, before: dict[str, Any] | None) -> None:
        """Note a write of an event (call after storing the new version); `before` is the version it replaced."""
        lag = self.settings.read_lag_ms / 1000
        if lag <= 0:
            self.history.clear()
            return
        moment = now()
        calendar = self.calendars.get(calendar_id)
        after = json_copy(calendar.events.get(event_id)) if calendar else None
        entries = self.history.setdefault(calendar_id, {}).setdefault(event_id, [])
        if not entries:
            entries.append((float("-inf"), json_copy(before)))
        entries.append((moment, after))
        # Drop what nobody can see any more: keep the newest entry older than the lag as the base.
        cutoff = moment - lag
        while len(entries) > 1 and entries[1][0] <= cutoff:
            entries.pop(0)

    def lagged_events(self, calendar: Calendar) -> list[dict[str, Any]]:
        """The events of `calendar` as events.list and freeBusy see them: each as it was `read_lag_ms` ago."""
        lag = self.settings.read_lag_ms / 1000
        recent = self.history.get(calendar.id) if lag > 0 else None
        if not recent:
            return list(calendar.events.values())
        seen_at = now() - lag
        visible: list[dict[str, Any]] = []
        for event_id, event in calendar.events.items():
            entries = recent.get(event_id)
            if not entries:
                visible.append(event)
                continue
            version = next((v for t, v in reversed(entries) if t <= seen_at), None)
            if version is not None:
                visible.append(version)
        return visible

    # --- persistence --------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        # Field by field: `asdict(self)` would deep-copy the lock (which cannot be copied) before any filter ran.
        with self.lock:
            return {
                f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in ("lock", "history")
            }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        def table(key: str, kind: type) -> dict[str, Any]:
            return {k: kind(**v) for k, v in data.get(key, {}).items()}

        calendars = {}
        for cid, raw in data.get("calendars", {}).items():
            acl = {rid: AclRule(**rule) for rid, rule in raw.get("acl", {}).items()}
            calendars[cid] = Calendar(**{**raw, "acl": acl})
        secrets = {}
        for name, raw in data.get("secrets", {}).items():
            secrets[name] = Secret(name=raw["name"], versions=[SecretVersion(**v) for v in raw["versions"]])
        buckets = {
            bucket: {name: StoredObject(**obj) for name, obj in objects.items()}
            for bucket, objects in data.get("buckets", {}).items()
        }
        return cls(
            users=table("users", User),
            groups=dict(data.get("groups", {})),
            domains=list(data.get("domains", [])),
            service_accounts=table("service_accounts", ServiceAccount),
            dwd_grants=dict(data.get("dwd_grants", {})),
            token_creators={k: list(v) for k, v in data.get("token_creators", {}).items()},
            metadata_identity=str(data.get("metadata_identity", "")),
            oauth_clients=table("oauth_clients", OAuthClient),
            refresh_tokens=table("refresh_tokens", RefreshToken),
            access_tokens=table("access_tokens", AccessToken),
            calendars=calendars,
            calendar_lists={k: list(v) for k, v in data.get("calendar_lists", {}).items()},
            secrets=secrets,
            buckets=buckets,
            mailbox=list(data.get("mailbox", [])),
            settings=Settings(**data.get("settings", {})),
            demo=dict(data.get("demo", {})),
        )


def json_copy(value: _T) -> _T:
    """A deep copy of a JSON-shaped value (dicts, lists, strings, numbers): what `copy.deepcopy` gives for one,
    several times faster (no memo); anything else inside is deep-copied as before."""
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}  # type: ignore[attr-defined,return-value]
    if kind is list:
        return [json_copy(item) for item in value]  # type: ignore[attr-defined,return-value]
    if value is None or kind in (str, int, float, bool):
        return value
    return copy.deepcopy(value)


def _plain(value: Any) -> Any:
    """A JSON-ready deep copy of `value` (dataclasses become dicts)."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


def now() -> float:
    """Seconds since the epoch on the emulator's clock (see `emulator.clock`)."""
    return CLOCK.now()


_clock_lock = threading.Lock()
_last_ms = 0
_last_epoch = 0


def stamp_ms() -> int:
    """Milliseconds on the emulator's clock that never repeat or go back within this process (per clock epoch).

    Causally ordered writes (one answered before the next arrives) get strictly increasing `updated` stamps, as
    they do at Google where a round trip takes far longer than a millisecond; a local round trip can take less.
    `created` is this stamp cut to whole seconds (`rfc3339_seconds`), the way Google writes it: two events
    created within one second share their `created`, whichever was first, so nothing may order by it.
    """
    global _last_ms, _last_epoch
    with _clock_lock:
        if _last_epoch != CLOCK.epoch:  # the clock was moved (pinned, advanced, reset): follow it, also backwards
            _last_ms, _last_epoch = 0, CLOCK.epoch
        _last_ms = max(_last_ms + 1, int(CLOCK.now() * 1000))
        return _last_ms


def rfc3339(ts: float | None = None) -> str:
    """UTC timestamp with milliseconds, the way Google writes `updated` (without `ts`: the next `stamp_ms()`)."""
    millis = stamp_ms() if ts is None else int(ts * 1000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000))
    return f"{whole}.{millis % 1000:03d}Z"


def rfc3339_seconds(ts: float | None = None) -> str:
    """UTC timestamp in whole seconds, the way Google writes an event's `created` (`...:31.000Z`)."""
    seconds = stamp_ms() // 1000 if ts is None else int(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".000Z"
