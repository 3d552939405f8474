"""gunicorn, with the production configuration, serves the website and the API (WSGI) from the same code."""

from __future__ import annotations

import re

import httpx
import pytest

from accounts.services import create_api_key
from generation.models import GenerationJob, JobStatus

from ..factories import UserFactory
from ..processes import GunicornProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def gunicorn(transactional_db):
    server = GunicornProcess().ready()
    yield server
    server.stop()


def test_a_job_is_submitted_and_read_through_gunicorn(gunicorn):
    user = UserFactory()
    _, key = create_api_key(user=user, name="gunicorn test")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gunicorn.url, headers=headers, timeout=30) as client:
        submitted = client.post("/api/v1/jobs", json={"prompt": "a red sneaker", "production_path": "fashion"})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        read = client.get(f"/api/v1/jobs/{job_id}")
    assert read.status_code == 200 and read.json()["status"] == JobStatus.QUEUED
    assert GenerationJob.objects.get(pk=job_id).owner == user


def test_bad_input_through_gunicorn_is_a_field_error_not_a_crash(gunicorn):
    _, key = create_api_key(user=UserFactory(), name="gunicorn test")
    response = httpx.post(
        f"{gunicorn.url}/api/v1/jobs", json={"prompt": "", "width": 10**9}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 400
    assert {"prompt", "width"} <= set(response.json()["error"]["fields"])


def test_the_website_pages_are_served_with_their_static_files(gunicorn):
    page = httpx.get(f"{gunicorn.url}/accounts/login/", follow_redirects=True)
    assert page.status_code == 200 and "<form" in page.text
    stylesheet = re.search(r'href="([^"]+\.css)"', page.text).group(1)
    assert httpx.get(f"{gunicorn.url}{stylesheet}").status_code == 200
