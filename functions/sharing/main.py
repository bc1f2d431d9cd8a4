"""Cloud Function `sharing`: share calendars (Calendar ACL), admins only (DESIGN section 4). Parse, call `shared`,
respond.

    POST   /shares   {"calendar", "owner"?, "scope": {"type", "value"?}, "role", "sendNotifications"?}
                     -> 201 new rule / 200 rule updated: {"calendarId", "rule": {"id", "scope", "role"}}
    POST   /shares   {"items": [...]} -> 200 {"results": [{"status", ...that item's body or error}]}
    GET    /shares?calendar=&owner=          -> {"calendarId", "rules": [...]}
    DELETE /shares?calendar=&owner=&rule=    -> {"calendarId", "rule": {..., "role": "none"}}
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared import http
from shared.errors import AppError
from shared.runtime import get_runtime
from shared.sharing import SharingService
from shared.sharing_api import BulkShareRequest, RevokeQuery, ShareRequest, SharesQuery


def _service() -> SharingService:
    runtime = get_runtime()

    def service_account_email() -> str | None:  # only names the acting identity in messages and logs
        try:
            email = runtime.sharing_source.get().info.get("client_email")
        except AppError:
            return None  # the Google call that follows reports the secret's problem
        return str(email) if email else None

    return SharingService(
        runtime.config.sharing,
        runtime.sharing_client,
        runtime.sharing_identity,
        service_account_email=service_account_email,
    )


def _admin(service: SharingService, request: flask.Request) -> str:
    return service.authorize(request.headers.get("Authorization"), own_url=http.own_url(request))


def share(request: flask.Request) -> Any:
    service = _service()
    admin = _admin(service, request)
    body = http.read_json(request)
    if "items" in body:
        bulk = http.validate(BulkShareRequest, body)
        return service.share_many(admin, bulk.items)
    return service.share(admin, http.validate(ShareRequest, body))


def list_shares(request: flask.Request) -> Any:
    service = _service()
    admin = _admin(service, request)
    query = http.validate(SharesQuery, request.args.to_dict())
    return service.list_rules(admin, query.calendar, query.owner)


def revoke_share(request: flask.Request) -> Any:
    service = _service()
    admin = _admin(service, request)
    query = http.validate(RevokeQuery, request.args.to_dict())
    return service.revoke(admin, query.calendar, query.owner, query.rule)


ROUTES = [
    http.route("POST", "/shares", share),
    http.route("GET", "/shares", list_shares),
    http.route("DELETE", "/shares", revoke_share),
]


functions_framework.errorhandler(HTTPException)(http.framework_error)


@functions_framework.http
def sharing(request: flask.Request) -> flask.Response:
    return http.guarded("sharing", request, lambda: http.dispatch(request, ROUTES))
