"""Property-based: every operation of the live schema, with generated input, never answers 5xx and always
answers what the schema says (status code, content type, body). Besides what the schema allows, the input
includes bodies nested deep and integers past the 64-bit range (hooks below), which once were 500s."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import create_api_key
from core.parsers import MAX_JSON_DEPTH

from .conftest import make_world, openapi_schema, path_values

pytestmark = pytest.mark.django_db  # the fixtures below are requested at run time: say so up front

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def live_schema() -> schemathesis.BaseSchema:
    """The schema /api/v1/schema/ serves (rendered the same way), on the WSGI app: calls go in-process."""
    raw = json.loads(OpenApiJsonRenderer().render(openapi_schema()))
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = get_wsgi_application()
    return loaded


@pytest.fixture
def keep_the_test_connection():
    """As Django's test client does: a request's end must not close the connection holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller(user, unthrottled, keep_the_test_connection):
    """A user with credits, an API key and no rate limits, and one object of every kind to address."""
    _, raw_key = create_api_key(user=user, name="schemathesis")
    return {"headers": {"Authorization": f"Bearer {raw_key}"}, "world": make_world(user)}


schema = live_schema()

# 900 levels: past what the old recursive NUL check survived from any stack (about 325 from the test client,
# more from schemathesis' shallower one), yet within what json.dumps can write; and just past MAX_JSON_DEPTH.
# tests/api/test_bad_input.py sends 100,000 levels as text. 900 first: the example hypothesis starts from.
DEPTHS = st.sampled_from([900, MAX_JSON_DEPTH + 1])
# Past the 64-bit range of ids and integer columns (PostgreSQL bigint, SQLite INTEGER), either way.
OUT_OF_RANGE = st.integers(2**63, 2**80) | st.integers(-(2**80), -(2**63) - 1)


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@schema.hook
def flatmap_body(context, body):
    """Besides the schema's own bodies: one with a field nested deep, or holding an integer out of range."""
    operation = context.operation
    if (
        not isinstance(body, dict)
        or not body
        or "application/json" not in operation.get_request_payload_content_types()
    ):
        return st.just(body)
    names = st.sampled_from(sorted(body))
    deep = st.builds(lambda name, depth: {**body, name: nested(depth)}, names, DEPTHS)
    huge = st.builds(lambda name, number: {**body, name: number}, names, OUT_OF_RANGE)
    return st.one_of(deep, huge, st.just(body))  # first: what a generated example mostly is, and shrinks to


@schema.hook
def flatmap_query(context, query):
    """Besides the schema's own queries: one whose parameter holds an integer out of range."""
    if not query:
        return st.just(query)
    huge = st.builds(lambda name, number: {**query, name: str(number)}, st.sampled_from(sorted(query)), OUT_OF_RANGE)
    return st.one_of(huge, st.just(query))


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_documented(case, caller):
    if case.path_parameters:  # real ids: deeper than a 404 (which tests/api/test_isolation.py covers)
        case.path_parameters = path_values(case.path, caller["world"])
    checks = CHECKS
    if case.path == "/api/v1/health":  # 503 is its documented answer while a dependency (here: workers) is down
        checks = [check for check in CHECKS if check is not not_a_server_error]
    case.call_and_validate(headers=caller["headers"], checks=checks)
