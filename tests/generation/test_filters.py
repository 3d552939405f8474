"""The jobs page and the jobs API share their filters (generation.filters): the same query, the same jobs."""

from __future__ import annotations

import pytest
from django.test import Client

from ..factories import GenerationJobFactory


@pytest.mark.parametrize("query", [{"status": "running"}, {"path": "eats"}, {"status": "failed", "path": "fashion"}])
def test_the_jobs_page_and_the_api_find_the_same_jobs(api_client, user, other_user, query):
    GenerationJobFactory(owner=user, running=True)
    GenerationJobFactory(owner=user, running=True, production_path="eats")
    GenerationJobFactory(owner=user, failed=True)
    GenerationJobFactory(owner=user)
    GenerationJobFactory(owner=other_user, running=True)
    browser = Client()
    browser.force_login(user)

    on_page = [job.pk for job in browser.get("/jobs/", query).context["page"]]
    from_api = [job["id"] for job in api_client.get("/api/v1/jobs", query).json()["results"]]

    assert on_page == from_api
    assert 0 < len(on_page) < 4


def test_the_jobs_page_searches_prompts_and_ignores_a_bad_status(user):
    GenerationJobFactory(owner=user, prompt="red linen dress")
    GenerationJobFactory(owner=user, prompt="a burger")
    browser = Client()
    browser.force_login(user)

    response = browser.get("/jobs/", {"q": "LINEN red", "status": "done"})

    assert response.status_code == 200
    assert [job.prompt for job in response.context["page"]] == ["red linen dress"]
