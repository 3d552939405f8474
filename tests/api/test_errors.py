"""One error shape for every 4xx, `{"error": {"code", "message", "fields"}}`, and never a 500 on bad input."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import create_api_key
from generation.models import GenerationJob

from ..conftest import client_for
from ..factories import JOB_REQUEST, GenerationJobFactory, TemplateFactory, UserFactory
from .conftest import fill_path, json_body_schema, make_world, object_routes, operations

BODY_OPERATIONS = [(path, method) for path, method, operation in operations() if "requestBody" in operation]
QUERY_OPERATIONS = [
    (path, [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"])
    for path, method, operation in operations()
    if method == "GET" and any(p["in"] == "query" for p in operation.get("parameters", []))
]


def error_of(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    error = body["error"]
    # The earlier APIs' routes (compat/) add the message as `detail`, which their clients read.
    assert set(body) == {"error"} or (set(body) == {"error", "detail"} and body["detail"] == error["message"]), body
    assert {"code", "message", "fields"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


# --- each status ---------------------------------------------------------------------------------


def test_400_names_the_field_and_its_message(api_client):
    error = error_of(api_client.post("/api/v1/jobs", {**JOB_REQUEST, "num_images": 9}, format="json"), 400, "invalid")
    assert error["fields"] == {"num_images": ["Ensure this value is less than or equal to 4."]}
    assert error["message"].startswith("num_images: ")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prompt", "x" * 2001, "no more than 2000 characters"),
        ("prompt", "", "may not be blank"),
        ("num_images", 0, "greater than or equal to 1"),
        ("num_images", 5, "less than or equal to 4"),
        ("width", 4096, "less than or equal to 2048"),
        ("height", 100, "greater than or equal to 256"),
        ("steps", 10**30, "less than or equal to"),
        ("guidance", 1e308, "less than or equal to"),
        ("seed", -1, "greater than or equal to 0"),
        ("prompt", "dress\x00", "Null characters are not allowed."),
    ],
)
def test_job_limits_are_enforced_with_clear_messages(api_client, field, value, message):
    error = error_of(api_client.post("/api/v1/jobs", {**JOB_REQUEST, field: value}, format="json"), 400, "invalid")
    assert message in error["fields"][field][0]
    assert not GenerationJob.objects.exists()


def test_the_models_own_limit_is_a_field_error(api_client):
    """The serializer takes any model's range (SDXL: 100 steps); the job's model is checked at submit, by field."""
    error = error_of(api_client.post("/api/v1/jobs", {**JOB_REQUEST, "steps": 80}, format="json"), 400, "invalid")
    assert error["fields"] == {"steps": ["Must be between 1 and 50."]}


def test_400_for_malformed_json(api_client):
    response = api_client.post("/api/v1/jobs", b'{"prompt": ', content_type="application/json")
    assert "JSON parse error" in error_of(response, 400, "parse_error")["message"]


def test_401_without_credentials_and_with_a_bad_key_or_token(db):
    anonymous = APIClient()
    error_of(anonymous.get("/api/v1/jobs"), 401, "not_authenticated")
    assert anonymous.get("/api/v1/jobs")["WWW-Authenticate"]
    error_of(anonymous.get("/api/v1/jobs", HTTP_AUTHORIZATION="Bearer zk_not-a-key"), 401, "authentication_failed")
    error_of(anonymous.get("/api/v1/jobs", HTTP_AUTHORIZATION="Bearer not.a.jwt"), 401, "token_not_valid")


def test_401_for_wrong_password(user):
    response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": "wrong"}, format="json")
    error_of(response, 401, "no_active_account")


def test_403_for_staff_only_and_for_a_session_write_without_csrf(user, api_client):
    template = TemplateFactory()
    response = api_client.post(f"/api/v1/templates/{template.slug}/revisions", {"name": "x"}, format="json")
    error_of(response, 403, "permission_denied")
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(user)
    assert (
        "CSRF"
        in error_of(session.post("/api/v1/jobs", JOB_REQUEST, format="json"), 403, "permission_denied")["message"]
    )


def test_404_from_a_lookup_and_from_an_unknown_path(api_client):
    error_of(api_client.get("/api/v1/jobs/999999"), 404, "not_found")
    error_of(api_client.get("/api/v1/images/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    error_of(APIClient().get("/api/v1/no-such-thing"), 404, "not_found")
    error_of(api_client.get("/api/v1/jobs?page=999"), 404, "not_found")


def test_a_missing_trailing_slash_redirects_to_the_docs(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 302 and response["Location"] == "/api/v1/docs/"


@pytest.mark.parametrize("route", object_routes(), ids=str)
def test_404_for_ids_out_of_any_range(route, api_client):
    missing_uuid = "00000000-0000-0000-0000-000000000000"
    kwargs = {name: missing_uuid if "uuid" in route.route else 10**30 for name in route.kwargs}
    url = reverse(route.name, kwargs=kwargs)
    for method in route.methods:
        response = api_client.generic(method, url, "{}", content_type="application/json")
        error_of(response, 404, "not_found")


def test_405_for_a_method_the_endpoint_does_not_have(api_client):
    error_of(api_client.put("/api/v1/jobs", JOB_REQUEST, format="json"), 405, "method_not_allowed")


def test_415_for_an_unsupported_content_type(api_client):
    response = api_client.post("/api/v1/jobs", "prompt=dress", content_type="text/plain")
    error_of(response, 415, "unsupported_media_type")


def test_413_for_a_body_over_the_upload_limit(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client.post("/api/v1/jobs", {**JOB_REQUEST, "prompt": "x" * 2000}, format="json")
    error_of(response, 413, "payload_too_large")


def test_402_carries_balance_and_cost(db):
    broke = UserFactory(credits=0)
    error = error_of(client_for(broke).post("/api/v1/jobs", {**JOB_REQUEST, "num_images": 2}, format="json"), 402)
    assert error["code"] == "insufficient_credits" and error["balance"] == 0 and error["cost"] == 2


def test_409_for_retrying_a_job_that_did_not_fail(user, api_client):
    job = GenerationJobFactory(owner=user, succeeded=True)
    assert "is succeeded" in error_of(api_client.post(f"/api/v1/jobs/{job.pk}/retry"), 409, "conflict")["message"]


def test_409_for_an_idempotency_key_reused_with_another_body(api_client):
    first = api_client.post("/api/v1/jobs", JOB_REQUEST, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 202
    again = api_client.post("/api/v1/jobs", {**JOB_REQUEST, "seed": 3}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    error_of(again, 409, "idempotency_key_reused")


def test_429_for_the_rate_limit_with_retry_after(api_client, set_tier):
    set_tier("free", submit_rate="1/min")
    assert api_client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code == 202
    response = api_client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    error_of(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_429_for_the_plans_job_limit_with_retry_after(api_client, set_tier):
    set_tier("free", max_queued_jobs=1)
    assert api_client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code == 202
    response = api_client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    error_of(response, 429, "too_many_jobs")
    assert response["Retry-After"]


def test_an_api_key_authenticates(user):
    _, raw = create_api_key(user=user, name="ci")
    assert APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["id"] == user.pk


# --- unknown fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "method"), BODY_OPERATIONS, ids=lambda value: str(value))
def test_unknown_fields_in_a_body_are_rejected(path, method, staff_user, unthrottled):
    world = make_world(staff_user)
    body = json.dumps({"colour": "red"})
    response = client_for(staff_user).generic(method, fill_path(path, world), body, content_type="application/json")
    error = error_of(response, 400, "invalid")
    assert error["fields"]["colour"] == ["Unknown field."], (method, path)


# --- malformed input: never a 500 ------------------------------------------------------------------

WRONG_VALUES = [None, "\x00", "nul\x00inside", 10**30, -(10**30), 1e308, [], {}, True, "z" * 3000, [{"a": 1}]]
RAW_BODIES = [b"{", b"[1, 2]", b'"text"', b"null", b"1e999999", b'{"\\u0000": 1}', b"\xff\xfe", b"9" * 5000]


def no_server_error(response, what) -> None:
    assert response.status_code < 500, (what, response.content[:300])
    if response.status_code >= 400:
        error_of(response, response.status_code)


@pytest.mark.parametrize(("path", "method"), BODY_OPERATIONS, ids=lambda value: str(value))
def test_malformed_bodies_are_4xx_never_500(path, method, user, unthrottled):
    world = make_world(user)
    client = client_for(user)
    url = fill_path(path, world)
    for raw in RAW_BODIES:
        no_server_error(client.generic(method, url, raw, content_type="application/json"), raw[:20])
    no_server_error(client.generic(method, url, "prompt=x", content_type="text/plain"), "text/plain")
    schema = json_body_schema(dict(operations_by_key()[(path, method)])) or {}
    for name in schema.get("properties", {}):
        for value in WRONG_VALUES:
            response = client.generic(method, url, json.dumps({name: value}), content_type="application/json")
            no_server_error(response, (name, repr(value)[:40]))


@pytest.mark.parametrize(("path", "parameters"), QUERY_OPERATIONS, ids=lambda value: str(value))
def test_malformed_query_parameters_are_4xx_never_500(path, parameters, user, unthrottled):
    world = make_world(user)
    client = client_for(user)
    url = fill_path(path, world)
    for name in parameters:
        for value in ("\x00", "-1", "1" * 30, "x" * 3000, "2026-13-45", "true\x00", "0"):
            no_server_error(client.get(url, {name: value}), (name, value[:20]))


def operations_by_key() -> dict:
    return {(path, method): operation for path, method, operation in operations()}
