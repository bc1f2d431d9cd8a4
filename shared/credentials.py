"""Google credentials for each way of holding them, built cheaply and cached per instance.

Three modes (DESIGN section 1):
- `delegated`: the service account key with domain-wide delegation, acting as a user (`sub`).
- `direct`: the service account acting as itself, on calendars shared with its email.
- `authorized_user`: an installed-app grant (client id, client secret, refresh token).

How `delegated` and `direct` sign their JWT depends on what the secret holds:
- a `service_account` key JSON: signed with that key, in process;
- a `keyless_dwd` descriptor (`{"type": "keyless_dwd", "client_email", "client_id"}`, no key at all): signed by
  Google as that account, through the IAM Credentials API, by the function's own runtime identity. That identity
  comes from the metadata server (`google.auth.compute_engine.Credentials`, what `google.auth.default()` returns
  on Cloud Run) and must hold `roles/iam.serviceAccountTokenCreator` on the delegation account.
  `google.auth.iam.Signer` signs (it calls `signBlob`), `google.oauth2.service_account.Credentials` with that
  signer and `subject` builds the JWT and exchanges it at the token endpoint, exactly as with a key.

The key is parsed once per key version (RSA key loading is the expensive part); per-user credentials are cheap
copies (`with_subject`) cached per (mode, user, scopes), and each keeps its own access token until it expires,
so a warm instance mints no token for a user it already holds one for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .endpoints import Endpoints
from .errors import DelegationError, SecretError, UpstreamUnavailable
from .secrets import CredentialsMaterial, SecretSource

AUTH = "https://www.googleapis.com/auth/"
EVENTS = AUTH + "calendar.events"
FREEBUSY = AUTH + "calendar.freebusy"
ACLS = AUTH + "calendar.acls"
CALENDAR_LIST_READONLY = AUTH + "calendar.calendarlist.readonly"

# Least scopes per use; together they are exactly the domain-wide delegation grant an admin makes.
BOOKING_SCOPES = (EVENTS, FREEBUSY)
SYNC_SCOPES = (FREEBUSY,)
SHARING_SCOPES = (ACLS, CALENDAR_LIST_READONLY)
ALL_SCOPES = (EVENTS, FREEBUSY, ACLS, CALENDAR_LIST_READONLY)

MODES = ("delegated", "direct", "authorized_user")
KEYLESS = "keyless_dwd"  # the secret kind of keyless delegation (a descriptor, no key)
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"  # noqa: S105  (a role name)
CLOUD_PLATFORM = AUTH + "cloud-platform"
_GOOGLE_IAM_CREDENTIALS = "https://iamcredentials.googleapis.com"
ADMIN_CONSOLE_DWD = "https://admin.google.com/ac/owl/domainwidedelegation"
_GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105  (a URL, not a password)


class CredentialProvider:
    """Hands out ready-to-use credentials; refreshes them one at a time per identity."""

    def __init__(self, source: SecretSource, endpoints: Endpoints, *, runtime_identity: Any = None) -> None:
        """`runtime_identity`: the credentials that sign keyless; None: the metadata server's (a function's own)."""
        self._source = source
        self._endpoints = endpoints
        self._lock = threading.Lock()
        self._base: tuple[str, Any] | None = None  # (key version, parsed service account credentials)
        self._cache: dict[tuple[str, str, str | None, tuple[str, ...]], Any] = {}
        self._refresh_locks: dict[int, threading.Lock] = {}
        self._session: Any = None
        self._runtime_identity: Any = runtime_identity  # keyless: the metadata server's credentials, one per instance

    # --- building -------------------------------------------------------------------------------------------
    def get(self, mode: str, subject: str | None, scopes: Iterable[str]) -> Any:
        """Credentials for `mode` acting as `subject` (delegated only) with exactly `scopes`, token not ensured."""
        if mode not in MODES:
            raise ValueError(f"unknown credentials mode {mode!r}")
        wanted = tuple(sorted(set(scopes)))
        material = self._source.get()
        key = (material.version, mode, subject if mode == "delegated" else None, wanted)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = self._build(material, mode, subject, wanted)
                self._cache[key] = cached
            return cached

    def _build(
        self, material: CredentialsMaterial, mode: str, subject: str | None, scopes: tuple[str, ...]
    ) -> Any:
        if mode == "authorized_user":
            if material.kind != "authorized_user":
                raise SecretError(
                    f"Mode authorized_user needs an authorized_user JSON in {material.version}."
                )
            from google.oauth2.credentials import Credentials as UserCredentials

            info = material.info
            return UserCredentials(  # type: ignore[no-untyped-call]
                token=None,
                refresh_token=info["refresh_token"],
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                token_uri=self._endpoints.token_uri or info.get("token_uri") or _GOOGLE_TOKEN_URI,
                scopes=list(scopes),
            )
        if material.kind not in ("service_account", KEYLESS):
            raise SecretError(
                f"Mode {mode} needs a service_account key JSON or a keyless_dwd descriptor in {material.version}."
            )
        base = self._keyless(material) if material.kind == KEYLESS else self._service_account(material)
        if mode == "delegated":
            if not subject:
                raise ValueError("delegated credentials need a subject")
            return base.with_subject(subject).with_scopes(list(scopes))
        return base.with_scopes(list(scopes))

    def _service_account(self, material: CredentialsMaterial) -> Any:
        if self._base is not None and self._base[0] == material.version:
            return self._base[1]
        from google.oauth2 import service_account

        try:
            parsed = service_account.Credentials.from_service_account_info(material.info)  # type: ignore[no-untyped-call]
        except (ValueError, KeyError) as error:
            raise SecretError(
                f"The service account key in {material.version} cannot be loaded: {error}"
            ) from None
        self._base = (material.version, parsed)
        self._cache = {k: v for k, v in self._cache.items() if k[0] == material.version}
        return parsed

    def _keyless(self, material: CredentialsMaterial) -> Any:
        """Service account credentials for the descriptor's account whose signer is IAM Credentials, no key."""
        if self._base is not None and self._base[0] == material.version:
            return self._base[1]
        from google.auth import iam
        from google.oauth2 import service_account

        email = str(material.info["client_email"])
        signer = iam.Signer(self._request(), self.runtime_identity(), email)  # type: ignore[no-untyped-call]
        parsed = service_account.Credentials(  # type: ignore[no-untyped-call]
            signer,
            email,
            self._endpoints.token_uri or _GOOGLE_TOKEN_URI,
            project_id=material.info.get("project_id"),
        )
        self._base = (material.version, parsed)
        self._cache = {k: v for k, v in self._cache.items() if k[0] == material.version}
        return parsed

    def runtime_identity(self) -> Any:
        """The instance's own identity from the metadata server (cached: it refreshes its own token)."""
        if self._runtime_identity is None:
            from google.auth import compute_engine

            # universe_domain given: google-auth would otherwise ask the metadata server on a transport of its own.
            self._runtime_identity = compute_engine.Credentials(  # type: ignore[no-untyped-call]
                scopes=[CLOUD_PLATFORM], universe_domain="googleapis.com"
            )
        return self._runtime_identity

    def forget(self) -> None:
        """Drop every cached credential and token, as a newly started instance has none."""
        with self._lock:
            self._cache.clear()

    def client_id(self) -> str | None:
        info = self._source.get().info
        return str(info["client_id"]) if info.get("client_id") else None

    # --- tokens ---------------------------------------------------------------------------------------------
    def ready(self, mode: str, subject: str | None, scopes: Iterable[str]) -> Any:
        """Credentials holding a live token. A key Google refuses is re-read once from the secret, so a rotated
        key takes effect without a redeploy."""
        scopes = tuple(scopes)
        credentials = self.get(mode, subject, scopes)
        try:
            self.ensure_token(credentials, mode=mode, subject=subject)
        except SecretError as error:
            if error.details.get("reason") not in ("invalid_grant", "invalid_client"):
                raise
            retry = self.get(mode, subject, scopes)
            if retry is credentials:
                raise
            self.ensure_token(retry, mode=mode, subject=subject)
            return retry
        return credentials

    def ensure_token(self, credentials: Any, *, mode: str, subject: str | None) -> None:
        """Make sure `credentials` hold a live token; mint one (once, even under concurrency) if not."""
        if credentials.valid:
            return
        with self._lock:
            lock = self._refresh_locks.setdefault(id(credentials), threading.Lock())
        with lock:
            if credentials.valid:
                return
            try:
                credentials.refresh(self._request())
            except Exception as error:
                raise self.explain_refresh_error(error, credentials, mode=mode, subject=subject) from None

    def renew(self, mode: str, subject: str | None, scopes: Iterable[str]) -> None:
        """Mint a new token although the held one looks live: Google refused it (401)."""
        credentials = self.get(mode, subject, tuple(scopes))
        with self._lock:
            lock = self._refresh_locks.setdefault(id(credentials), threading.Lock())
        with lock:
            try:
                credentials.refresh(self._request())
            except Exception as error:
                raise self.explain_refresh_error(error, credentials, mode=mode, subject=subject) from None

    def _request(self) -> Any:
        import google.auth.transport.requests
        import requests

        if self._session is None:
            self._session = requests.Session()
        request = google.auth.transport.requests.Request(self._session)
        if self._endpoints.iam_credentials is None:
            return request
        return _Rerouted(request, _GOOGLE_IAM_CREDENTIALS, self._endpoints.iam_credentials)

    def explain_refresh_error(
        self, error: Exception, credentials: Any, *, mode: str, subject: str | None
    ) -> Exception:
        """Turn google-auth's refresh failure into an error telling the operator exactly what to fix."""
        from google.auth import exceptions as auth_exceptions

        if self._is_keyless():
            keyless = self._explain_keyless(error)
            if keyless is not None:
                return keyless
        if isinstance(error, auth_exceptions.TransportError):
            return UpstreamUnavailable("Google's token endpoint is unreachable; try again shortly.")
        if not isinstance(error, auth_exceptions.RefreshError):
            return error
        data = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
        code = str(data.get("error", ""))
        description = str(data.get("error_description", ""))
        if getattr(error, "retryable", False):
            return UpstreamUnavailable("Google's token endpoint is unavailable; try again shortly.")
        scopes = ",".join(getattr(credentials, "scopes", None) or [])
        client_id = self.client_id() if mode != "authorized_user" else None
        if code == "unauthorized_client" and mode == "delegated":
            return DelegationError(
                f"Google refused to let the service account act as {subject}: domain-wide delegation is not granted "
                f"for these scopes. In the Admin console ({ADMIN_CONSOLE_DWD}) add client ID {client_id} with the "
                f"scopes {scopes}.",
                details={"clientId": client_id, "scopes": scopes.split(","), "reason": code},
            )
        if code == "invalid_grant" and mode == "delegated" and "user" in description.lower():
            return DelegationError(
                f"Google does not know the user {subject} (or the user is suspended): fix `act_as` in the config to "
                f"an active user of the Workspace domain that client ID {client_id} is delegated in.",
                details={"clientId": client_id, "subject": subject, "reason": code},
            )
        if code in ("invalid_grant", "invalid_client"):
            self._source.invalidate()
            return SecretError(
                f"Google refused the credentials in {self._source.name} ({code}): the key or grant was revoked or "
                "rotated. Add a valid credentials JSON as a new version of the secret.",
                details={"reason": code},
            )
        if code == "invalid_scope":
            return SecretError(
                f"The authorized_user grant in {self._source.name} does not cover the scopes {scopes}: make the grant "
                "again with those scopes.",
                details={"reason": code},
            )
        return UpstreamUnavailable(
            f"Google's token endpoint refused the request ({code or 'unknown error'})."
        )

    def _is_keyless(self) -> bool:
        try:
            return self._source.get().kind == KEYLESS
        except Exception:
            return False

    def _explain_keyless(self, error: Exception) -> Exception | None:
        """The keyless chain's own failures: no runtime identity, or no Token Creator on the delegation account."""
        text = " ".join(str(arg) for arg in error.args)
        delegate = str(self._source.get().info.get("client_email"))
        runtime = getattr(self._runtime_identity, "service_account_email", None) or "the function's runtime identity"
        if "signBlob" in text and ("PERMISSION_DENIED" in text or "403" in text):
            return DelegationError(
                f"{runtime} may not sign as {delegate}: it lacks {TOKEN_CREATOR} on that service account. Grant it: "
                f"gcloud iam service-accounts add-iam-policy-binding {delegate} "
                f"--member=serviceAccount:{runtime} --role={TOKEN_CREATOR} "
                "(Terraform grants it with keyless_dwd = true).",
                details={"missingRole": TOKEN_CREATOR, "serviceAccount": delegate, "runtimeIdentity": runtime,
                         "reason": "PERMISSION_DENIED"},
            )
        if "signBlob" in text:
            return UpstreamUnavailable("Google's IAM Credentials API is unavailable; try again shortly.")
        if "metadata" in text.lower():
            return UpstreamUnavailable(
                "The metadata server gave no runtime identity to sign the delegation with (keyless_dwd runs only "
                "where one exists: Cloud Run, Cloud Functions, or GCE_METADATA_HOST pointing at the emulator)."
            )
        return None


class _Rerouted:
    """A google-auth transport that sends one origin elsewhere: google-auth builds the IAM Credentials URL itself
    (`google/auth/iam.py`: `https://iamcredentials.{universe_domain}/v1/projects/-/serviceAccounts/...`) and has no
    endpoint option for it, so against the emulator this is where that host is changed. Everything else passes."""

    def __init__(self, inner: Any, origin: str, replacement: str) -> None:
        self._inner = inner
        self._origin = origin
        self._replacement = replacement.rstrip("/")

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        if url.startswith(self._origin + "/"):
            url = self._replacement + url[len(self._origin):]
        return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)
