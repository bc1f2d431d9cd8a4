"""How the Calendar client reads Google's failures: which are worth a retry, and the project error each becomes.

Google's error body is `{"error": {"code", "message", "errors": [{"reason", ...}], "status"}}` (GUIDES/errors);
403 with a rate-limit reason and the 429/5xx statuses are retried, every other status is final.
"""

from __future__ import annotations

import json
from typing import Any

from .calendar_batch import PartAnswer
from .errors import AppError, UpstreamUnavailable, google_api_error

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class Transient(Exception):
    """An attempt that failed in a way worth retrying; carries what to raise if retries run out."""

    def __init__(self, final: AppError) -> None:
        super().__init__(final.message)
        self.final = final


def status_of(answer: PartAnswer | None) -> int | None:
    return None if answer is None else answer.status


def classify_http_error(error: Any) -> Exception:
    return classify_status(int(error.resp.status), error.content)


def classify_status(status: int, content: bytes) -> Exception:
    reason, message = reason_and_message(status, content)
    if status == 403 and reason in RATE_LIMIT_REASONS:
        details = {"reason": reason, "googleStatus": status}
        return Transient(UpstreamUnavailable("Google is rate limiting; try again shortly.", details=details))
    final = google_api_error(status, reason, message)
    return Transient(final) if status in RETRYABLE_STATUSES else final


def reason_and_message(status: int, content: bytes) -> tuple[str, str]:
    try:
        body = json.loads(content)
        inner = body["error"]
        errors = inner.get("errors") or [{}]
        return str(errors[0].get("reason") or inner.get("status") or "unknown"), str(inner.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "unknown", f"Google answered HTTP {status}"
