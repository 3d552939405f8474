"""One request id per request: the proxy's X-Request-ID when it is a plain token (else a new one), on every log
line of the request, in the response, and on the jobs the request submits."""

import json
import logging

import pytest

from core.request_id import MAX_LENGTH
from generation.models import GenerationJob
from tests.conftest import client_for
from tests.factories import JOB_REQUEST

pytestmark = pytest.mark.django_db


def lines_of(console) -> list[dict]:
    return [json.loads(line) for line in console.getvalue().splitlines() if line.startswith("{")]


def test_a_request_without_an_id_gets_a_new_one_in_its_response(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32 and int(first["X-Request-ID"], 16) >= 0
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_the_proxys_id_is_kept_on_the_response_and_on_every_log_line_of_the_request(client, console, caplog):
    caplog.set_level(logging.INFO, logger="accounts")
    body = {"email": "new@example.com", "password": "a long enough passphrase"}
    response = client.post("/api/v1/auth/signup", body, content_type="application/json", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 202 and response["X-Request-ID"] == "abc-123"
    logged = [line for line in lines_of(console) if line["message"] == "user signed up"]
    assert logged and all(line["request_id"] == "abc-123" for line in logged)


def test_an_error_response_and_its_log_line_carry_the_id(client, console):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="lost-page-1")
    assert response.status_code == 404 and response["X-Request-ID"] == "lost-page-1"
    (line,) = [line for line in lines_of(console) if line["name"] == "django.request"]
    assert line["request_id"] == "lost-page-1"


def test_a_bad_api_request_is_answered_with_the_id(user):
    response = client_for(user).post("/api/v1/jobs", {"prompt": ""}, format="json", HTTP_X_REQUEST_ID="bad-1")
    assert response.status_code == 400 and response["X-Request-ID"] == "bad-1"


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * (MAX_LENGTH + 1),
        'abc\n{"level": "forged"}',
        "abc\r\nSet-Cookie: x=1",
        'quote"d',
        "with space",
        "",
    ],
)
def test_a_hostile_or_empty_id_is_replaced(client, console, hostile):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID=hostile)
    replaced = response["X-Request-ID"]
    assert replaced != hostile and len(replaced) == 32
    assert all(line["request_id"] == replaced for line in lines_of(console) if line["name"] == "django.request")
    assert "forged" not in console.getvalue()


def test_a_job_stores_the_id_of_the_request_that_submitted_it(user):
    response = client_for(user).post("/api/v1/jobs", JOB_REQUEST, format="json", HTTP_X_REQUEST_ID="click-42")
    assert response.status_code == 202
    assert GenerationJob.objects.get(pk=response.json()["id"]).request_id == "click-42"


def test_a_job_submitted_outside_any_request_gets_an_id_of_its_own(user, submit):
    first, second = submit(user), submit(user)
    assert len(first.request_id) == 32 and first.request_id != second.request_id
