"""Error shapes Google's APIs return, raised by handlers and rendered by the app.

Calendar and Storage (JSON APIs) answer `{"error": {"code", "message", "errors": [{"domain", "reason",
"message"}], "status"?}}`; Secret Manager (gRPC transcoded) answers `{"error": {"code", "message", "status"}}`;
the OAuth token endpoint answers `{"error": "<code>", "error_description": "..."}` (RFC 6749 section 5.2).
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    411: "LENGTH_REQUIRED",
    412: "FAILED_PRECONDITION",
    413: "OUT_OF_RANGE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=UTF-8",
    )


class GoogleError(Exception):
    """An error of a Google JSON API (Calendar, Storage), with Google's `reason`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
        item_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.item_message = item_message or message
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.item_message}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [item],
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }

    def response(self) -> Response:
        return json_response(self.body(), self.code, self.headers)


class RpcError(GoogleError):
    """An error of a gRPC-transcoded API (Secret Manager): no `errors` list, a canonical `status`."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(code, status, message)
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


class OAuthError(Exception):
    """An error of the OAuth 2.0 token endpoint."""

    def __init__(self, code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.error = error
        self.description = description

    def response(self) -> Response:
        return json_response({"error": self.error, "error_description": self.description}, self.code)


class DropConnection(ConnectionError):
    """Raised to close the client's connection without any answer (an injected fault).

    A `ConnectionError`, so the HTTP server treats it as a dropped connection and writes nothing more.
    """


def bad_request(message: str, *, reason: str = "invalid", location: str | None = None) -> GoogleError:
    return GoogleError(400, reason, message, location=location)


def not_found(message: str = "Not Found") -> GoogleError:
    return GoogleError(404, "notFound", message)
