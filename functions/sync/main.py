"""Cloud Function `sync`: Cloud Scheduler's target (DESIGN section 4). Check the caller, sync, respond.

`POST /` only. The caller must be the configured scheduler identity (401 without a valid ID token, 403 for
anyone else). `X-CloudScheduler-ScheduleTime` identifies the scheduled run, so a repeated delivery does no
second sync. The work itself is `shared.sync.AvailabilitySync`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared import http
from shared.runtime import get_runtime
from shared.sync import SCHEDULE_TIME_HEADER, check_caller, parse_schedule_time


def run_sync(request: flask.Request) -> Any:
    runtime = get_runtime()
    caller = runtime.sync_identity.caller_email(request.headers)
    check_caller(runtime.config, caller)
    schedule_time = parse_schedule_time(
        request.headers.get(SCHEDULE_TIME_HEADER),
        now=runtime.now(),
        max_skew=timedelta(minutes=runtime.config.sync.max_schedule_skew_minutes),
    )
    return runtime.sync.run(schedule_time=schedule_time).to_json()


ROUTES = [http.route("POST", "/", run_sync)]


functions_framework.errorhandler(HTTPException)(http.framework_error)
http.answer_every_path()


@functions_framework.http
def sync(request: flask.Request) -> flask.Response:
    return http.guarded("sync", request, lambda: http.dispatch(request, ROUTES))
