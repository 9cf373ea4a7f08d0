"""Schemathesis against the published /v1/openapi.json: every operation, signed bodies.

Operations are read from the live document, so those added later are fuzzed too. Valid
and invalid cases alike must be answered 2xx or 4xx with a JSON error, never 5xx; an
invalid case must be refused (negative_data_rejection); a refused request stores nothing.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from .conftest import LiveService, budget

CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def operations(service: LiveService) -> list:
    schema = schemathesis.openapi.from_url(f"{service.url}/v1/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert found, "the document lists no operation"
    return found


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_every_operation_answers_2xx_or_a_json_4xx(
    live_service: LiveService, http: requests.Session, mode: schemathesis.GenerationMode
) -> None:
    for operation in operations(live_service):

        @budget(examples=40)
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_well(case: schemathesis.Case) -> None:
            before = live_service.counts()
            response = case.call(base_url=live_service.url, session=http)
            case.validate_response(response, checks=CHECKS)
            if response.status_code >= 400:
                refusal = response.json()
                assert {"error", "detail"} <= set(refusal), refusal
                assert live_service.counts() == before, (
                    f"{case.method} {case.path} refused but stored"
                )

        answers_well()
