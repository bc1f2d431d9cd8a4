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
from shared.runtime import get_runtime
from shared.sharing import SharingService
from shared.sharing_api import BulkShareRequest, RevokeQuery, ShareRequest, SharesQuery


def _service() -> SharingService:
    return get_runtime().sharing


def _admin(service: SharingService, request: flask.Request) -> str:
    return service.authorize(request.headers)


def share(request: flask.Request) -> Any:
    service = _service()
    admin = _admin(service, request)
    body = http.read_json(request)
    if "items" in body:
        bulk = http.validate(BulkShareRequest, body)
        return service.share_many(admin, bulk.items)
    done = service.share(admin, http.validate(ShareRequest, body))
    return done.body, 201 if done.created else 200


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
http.answer_every_path()


@functions_framework.http
def sharing(request: flask.Request) -> flask.Response:
    return http.guarded("sharing", request, lambda: http.dispatch(request, ROUTES))
