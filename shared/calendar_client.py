"""The Calendar API client: the only module that sees `googleapiclient.errors.HttpError`.

Built once per instance: one service object (static discovery, no network), one `httplib2.Http` per thread
(httplib2 is not thread-safe), credentials from the `CredentialProvider` per call. Every call retries what Google
says is transient (429, 403 rateLimitExceeded / userRateLimitExceeded, 5xx, dropped connections) with capped
exponential backoff and jitter inside a deadline, and nothing else; failures come out as the project's errors.
The requests themselves are shaped in `shared.calendar_requests` (re-exported here).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .calendar_batch import BatchFormatError, OutgoingPart, PartAnswer
from .calendar_batch import decode as decode_batch
from .calendar_batch import encode as encode_batch
from .calendar_errors import (
    RATE_LIMIT_REASONS,
    RETRYABLE_STATUSES,
    Transient,
    classify_http_error,
    classify_status,
    status_of,
)
from .calendar_requests import (
    FREEBUSY_MAX_CALENDARS,
    FREEBUSY_MAX_DAYS,
    FREEBUSY_MAX_SPAN,
    Request,
    acl_delete_request,
    acl_insert_request,
    acl_list_page_request,
    acl_patch_request,
    calendar_list_page_request,
    event_delete_request,
    event_get_request,
    event_insert_request,
    event_patch_request,
    events_list_request,
    freebusy_request,
    split_range,
)
from .clock import parse_rfc3339
from .credentials import CredentialProvider
from .endpoints import Endpoints
from .errors import AppError, UpstreamUnavailable

__all__ = [  # the request builders of shared.calendar_requests too, so that callers import one module
    "FREEBUSY_MAX_CALENDARS",
    "FREEBUSY_MAX_DAYS",
    "FREEBUSY_MAX_SPAN",
    "RATE_LIMIT_REASONS",
    "RETRYABLE_STATUSES",
    "CalendarClient",
    "FreeBusy",
    "Identity",
    "Request",
    "RetryPolicy",
    "event_get_request",
    "event_insert_request",
    "event_patch_request",
    "events_list_request",
    "freebusy_request",
    "split_range",
]

@dataclass(frozen=True)
class Identity:
    """Who a call acts as: a credentials mode, the user for delegated mode, and the scopes it needs."""

    mode: str
    subject: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RetryPolicy:
    deadline: float = 20.0  # seconds for all attempts of one call; below the function timeout
    attempts: int = 8
    wait_initial: float = 0.2
    wait_max: float = 3.0
    wait_jitter: float = 0.3


@dataclass
class FreeBusy:
    """One calendar's busy intervals over the queried range, or the reason Google gave instead."""

    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    error: str | None = None


class _Collections:
    """The service with each collection (`events()`, `acl()`, ...) built once.

    googleapiclient builds a collection anew, generated docstrings and all, on every `service.events()`: about
    3 ms, most of a warm booking's own time. The built collections are reused; requests made from them are
    independent objects, so sharing them between threads is safe."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[[], Any]:
        collection = self._built.get(name)
        if collection is None:
            with self._lock:
                collection = self._built.get(name)
                if collection is None:
                    collection = self._built[name] = getattr(self._service, name)()
        return lambda: collection


class CalendarClient:
    def __init__(
        self,
        credentials: CredentialProvider,
        endpoints: Endpoints,
        *,
        retry: RetryPolicy | None = None,
        http_timeout: float = 10.0,
        max_parallel: int = 10,
    ) -> None:
        self._credentials = credentials
        self._endpoints = endpoints
        self._retry = retry or RetryPolicy()
        self._http_timeout = http_timeout
        self._max_parallel = max_parallel
        self._local = threading.local()
        self._service_lock = threading.Lock()
        self._service: Any = None

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _api(self) -> Any:
        if self._service is None:
            with self._service_lock:
                if self._service is None:
                    import httplib2
                    from googleapiclient.discovery import build

                    self._service = _Collections(
                        build(
                            "calendar",
                            "v3",
                            http=httplib2.Http(),  # a placeholder; every call passes its own authorized Http
                            static_discovery=True,
                            cache_discovery=False,
                            client_options={"api_endpoint": self._endpoints.calendar},
                        )
                    )
        return self._service

    def _http(self, identity: Identity) -> Any:
        import google_auth_httplib2
        import httplib2

        http = getattr(self._local, "http", None)
        if http is None:
            http = httplib2.Http(timeout=self._http_timeout)
            self._local.http = http
        credentials = self._credentials.ready(identity.mode, identity.subject, identity.scopes)
        return google_auth_httplib2.AuthorizedHttp(credentials, http=http)

    def _discard_http(self) -> None:
        """After a dropped connection, start the next attempt on a fresh connection pool."""
        self._local.http = None

    def call(self, identity: Identity, build_request: Request) -> Any:
        """Run one API request (`build_request(service)` returns an HttpRequest) with retries."""

        def attempt() -> Any:
            request = build_request(self._api())
            return request.execute(http=self._http(identity), num_retries=0)

        return self._with_retries(attempt, identity)

    def _with_retries(self, attempt: Callable[[], Any], identity: Identity) -> Any:
        import stamina

        policy = self._retry
        try:
            for retry in stamina.retry_context(
                on=Transient,
                attempts=policy.attempts,
                timeout=policy.deadline,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with retry:
                    return self._classified(attempt, identity)
        except Transient as exhausted:
            raise exhausted.final from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _classified(self, attempt: Callable[[], Any], identity: Identity) -> Any:
        from google.auth import exceptions as auth_exceptions
        from googleapiclient.errors import HttpError

        try:
            return attempt()
        except HttpError as error:
            raise classify_http_error(error) from None
        except auth_exceptions.GoogleAuthError as error:
            explained = self._credentials.explain_refresh_error(
                error, None, mode=identity.mode, subject=identity.subject
            )
            if isinstance(explained, UpstreamUnavailable):
                raise Transient(explained) from None
            raise explained from None
        except UpstreamUnavailable as error:
            raise Transient(error) from None
        except (OSError, ConnectionError) as error:
            self._discard_http()
            raise Transient(
                UpstreamUnavailable(f"Connection to Google failed: {type(error).__name__}")
            ) from None
        except Exception as error:
            if type(error).__module__.startswith("httplib2"):
                self._discard_http()
                raise Transient(UpstreamUnavailable("Connection to Google failed.")) from None
            raise

    # --- events -------------------------------------------------------------------------------------------------
    def insert_event(
        self,
        identity: Identity,
        calendar_id: str,
        body: dict[str, Any],
        *,
        send_updates: str = "none",
        conference: bool = False,
    ) -> dict[str, Any]:
        request = event_insert_request(calendar_id, body, send_updates=send_updates, conference=conference)
        result: dict[str, Any] = self.call(identity, request)
        return result

    def get_event(self, identity: Identity, calendar_id: str, event_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(identity, event_get_request(calendar_id, event_id))
        return result

    def patch_event(
        self,
        identity: Identity,
        calendar_id: str,
        event_id: str,
        body: dict[str, Any],
        *,
        send_updates: str = "none",
        etag: str | None = None,
    ) -> dict[str, Any]:
        request = event_patch_request(calendar_id, event_id, body, etag=etag, send_updates=send_updates)
        result: dict[str, Any] = self.call(identity, request)
        return result

    def delete_event(
        self,
        identity: Identity,
        calendar_id: str,
        event_id: str,
        *,
        send_updates: str = "none",
        etag: str | None = None,
    ) -> None:
        self.call(identity, event_delete_request(calendar_id, event_id, etag=etag, send_updates=send_updates))

    def list_events(
        self,
        identity: Identity,
        calendar_id: str,
        *,
        time_min: datetime,
        time_max: datetime,
        private_properties: dict[str, str] | None = None,
        show_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """All events overlapping [time_min, time_max), expanded and ordered by start, every page."""

        def page(token: str | None) -> Request:
            return events_list_request(calendar_id, time_min, time_max, private_properties=private_properties,
                                       page_token=token, orderBy="startTime", showDeleted=show_deleted)

        return self._all_pages(identity, page)

    def _all_pages(self, identity: Identity, list_page: Callable[[str | None], Request]) -> list[dict[str, Any]]:
        """The items of every page of a list call (`list_page(page_token)` builds one page's request)."""
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            page = self.call(identity, list_page(page_token))
            items.extend(page.get("items", []))
            page_token = page.get("nextPageToken")
            if not page_token:
                return items

    # --- free/busy ------------------------------------------------------------------------------------------
    def free_busy(
        self, identity: Identity, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime
    ) -> dict[str, FreeBusy]:
        """Busy intervals for every calendar: at most 50 calendars and 90 days per query, queries in parallel.

        A calendar Google reports an error for (not found, no access, too many calendars) carries that error:
        callers treat it as busy (fail closed)."""
        chunks = [list(calendar_ids[i : i + FREEBUSY_MAX_CALENDARS]) for i in range(0, len(calendar_ids), 50)]
        queries = [(chunk, start, end) for chunk in chunks for start, end in split_range(time_min, time_max)]
        results: dict[str, FreeBusy] = {cid: FreeBusy() for cid in calendar_ids}
        if not queries:
            return results

        def run(query: tuple[list[str], datetime, datetime]) -> dict[str, Any]:
            chunk, start, end = query
            answer: dict[str, Any] = self.call(identity, freebusy_request(chunk, start, end))
            return answer

        if len(queries) == 1:
            answers = [run(queries[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(self._max_parallel, len(queries))) as pool:
                answers = list(pool.map(run, queries))
        for answer in answers:
            for cid, entry in answer.get("calendars", {}).items():
                result = results.setdefault(cid, FreeBusy())
                errors = entry.get("errors") or []
                if errors:
                    result.error = str(errors[0].get("reason", "unknown"))
                result.busy.extend(
                    (parse_rfc3339(item["start"]), parse_rfc3339(item["end"])) for item in entry.get("busy", [])
                )
        answered = {cid for answer in answers for cid in answer.get("calendars", {})}  # once, not per calendar
        for cid in calendar_ids:
            if cid not in answered:
                results[cid].error = results[cid].error or "missing"
        return results

    # --- batch ------------------------------------------------------------------------------------------------
    def batch(
        self,
        identity: Identity,
        requests: dict[str, Request],
        identities: dict[str, Identity] | None = None,
    ) -> dict[str, Any]:
        """Run several requests in one HTTP round trip. Each value is the result or the AppError it failed with;
        parts that failed transiently are sent again (within the deadline). `identities` gives a part its own
        identity (each part carries its own Authorization); the others act as `identity`.

        The requests are googleapiclient's; the batch body is written and read by `calendar_batch` (the same
        parts, without the `email` package). As googleapiclient does, parts answered 401 are sent once more with
        their identity's token renewed."""
        pending = dict(requests)
        outcome: dict[str, Any] = {}

        import httplib2

        def attempt() -> None:
            http = self._http(identity)
            sent = [(request_id, build_request(self._api()), (identities or {}).get(request_id) or identity)
                    for request_id, build_request in pending.items()]
            answers = self._send_batch(http, sent)
            refused = [part for part in sent if status_of(answers.get(part[0])) == 401]
            if refused:
                for own in {part[2] for part in refused}:
                    self._credentials.renew(own.mode, own.subject, own.scopes)
                answers.update(self._send_batch(http, refused))
            transient: list[Transient] = []
            for request_id, request, _ in sent:
                answer = answers.get(request_id)
                if answer is None:
                    classified: Exception = Transient(UpstreamUnavailable("Google's batch answer lacks a part."))
                elif answer.status < 300:
                    response = httplib2.Response({**answer.headers, "status": str(answer.status)})
                    outcome[request_id] = request.postproc(response, answer.body)
                    pending.pop(request_id, None)
                    continue
                else:
                    classified = classify_status(answer.status, answer.body)
                if isinstance(classified, Transient):
                    outcome[request_id] = classified.final
                    transient.append(classified)
                else:
                    outcome[request_id] = classified
                    pending.pop(request_id, None)
            if transient:
                raise transient[0]

        try:
            self._with_retries(attempt, identity)
        except AppError:
            if not outcome:
                raise
        return outcome

    def _send_batch(self, http: Any, sent: list[tuple[str, Any, Identity]]) -> dict[str, PartAnswer]:
        from googleapiclient.errors import HttpError

        auth: dict[Identity, dict[str, str]] = {}
        parts = []
        for request_id, request, own in sent:
            if own not in auth:
                auth[own] = {}
                self._credentials.ready(own.mode, own.subject, own.scopes).apply(auth[own])
            parts.append(OutgoingPart(request_id, request.method, request.uri, {**request.headers, **auth[own]},
                                      request.body))
        content_type, body, _ = encode_batch(parts)
        response, content = http.request(
            self._endpoints.calendar_batch, method="POST", body=body, headers={"content-type": content_type}
        )
        if response.status >= 300:
            raise HttpError(response, content, uri=self._endpoints.calendar_batch)
        try:
            return decode_batch(response.get("content-type", ""), content)
        except BatchFormatError as error:
            raise UpstreamUnavailable(f"Google's batch answer could not be read: {error}") from None

    # --- ACLs and calendar lists ------------------------------------------------------------------------------
    def calendar_list(self, identity: Identity) -> list[dict[str, Any]]:
        return self._all_pages(identity, calendar_list_page_request)

    def acl_list(self, identity: Identity, calendar_id: str) -> list[dict[str, Any]]:
        return self._all_pages(identity, lambda token: acl_list_page_request(calendar_id, token))

    def acl_insert(
        self, identity: Identity, calendar_id: str, rule: dict[str, Any], *, send_notifications: bool
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            identity, acl_insert_request(calendar_id, rule, send_notifications=send_notifications)
        )
        return result

    def acl_patch(
        self,
        identity: Identity,
        calendar_id: str,
        rule_id: str,
        rule: dict[str, Any],
        *,
        send_notifications: bool,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            identity, acl_patch_request(calendar_id, rule_id, rule, send_notifications=send_notifications)
        )
        return result

    def acl_delete(self, identity: Identity, calendar_id: str, rule_id: str) -> None:
        self.call(identity, acl_delete_request(calendar_id, rule_id))
