"""Property-based API testing of the booking function against its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid; no answer may be a 5xx, and every answer must match
the status codes, content type and schema the document declares; schema-invalid requests must be refused.
`positive_data_acceptance` is left out on purpose: a schema-valid request may still break a booking rule the
schema cannot express (a slot outside hours, `to` before `from`), and those are correctly answered 400.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Err, Ok

from tests.helpers.function_app import function_app


def test_booking_api_never_5xx_and_matches_its_schema(installed_runtime: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", function_app("booking"))
    results = list(schema.get_all_operations())
    assert not [result.err() for result in results if isinstance(result, Err)]  # every operation loaded
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, (case.operation.label, response.status_code, response.text)

        check()
