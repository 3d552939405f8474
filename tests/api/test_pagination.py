"""Every list pages the same way, `{count, next, previous, results}`, in an order that never shifts between pages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.pagination import MAX_PAGE_SIZE, stable_order
from generation.models import GenerationJob
from templates_app.models import Template

from ..conftest import client_for
from ..factories import GenerationJobFactory
from .conftest import fill_path, make_world, operations, resolve_ref

# Fixed catalogues, small by construction, answered whole.
UNPAGINATED_LISTS = {"/api/v1/paths", "/api/v1/size-presets"}
PAGINATED = [
    path
    for path, method, operation in operations()
    if method == "GET" and "page_size" in {p["name"] for p in operation.get("parameters", [])}
]


def test_every_growing_list_is_paginated():
    lists = {
        path
        for path, method, operation in operations()
        if method == "GET"
        and "application/json" in operation["responses"]["200"]["content"]  # not a download
        and resolve_ref(operation["responses"]["200"]["content"]["application/json"]["schema"]).get("type") == "array"
    }
    assert lists <= UNPAGINATED_LISTS, f"lists without pagination: {lists - UNPAGINATED_LISTS}"
    assert len(PAGINATED) >= 12


@pytest.mark.parametrize("path", PAGINATED)
def test_lists_answer_the_same_envelope(path, user, unthrottled):
    world = make_world(user)
    body = client_for(user).get(fill_path(path, world), {"page_size": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}, body
    assert len(body["results"]) <= 1


def test_paging_through_ties_sees_every_job_once(api_client, user):
    jobs = GenerationJobFactory.create_batch(7, owner=user)
    GenerationJob.objects.update(created_at=timezone.now())  # all tie on created_at
    seen = []
    for page in (1, 2, 3):
        seen += [job["id"] for job in api_client.get("/api/v1/jobs", {"page": page, "page_size": 3}).json()["results"]]
    assert sorted(seen) == sorted(job.pk for job in jobs)
    assert seen == sorted(seen, reverse=True)  # newest first, ties by id


def test_page_size_is_capped(api_client, user):
    GenerationJobFactory.create_batch(MAX_PAGE_SIZE + 3, owner=user)
    body = api_client.get("/api/v1/jobs", {"page_size": 1000}).json()
    assert body["count"] == MAX_PAGE_SIZE + 3 and len(body["results"]) == MAX_PAGE_SIZE


@pytest.mark.parametrize(("name", "value"), [("page_size", "abc"), ("page_size", "0"), ("page", "-1"), ("page", "x")])
def test_a_bad_page_parameter_is_a_400_naming_it(api_client, name, value):
    error = api_client.get("/api/v1/tags", {name: value}).json()["error"]
    assert error["code"] == "invalid" and name in error["fields"]


def test_a_page_past_the_end_is_a_404(api_client):
    assert api_client.get("/api/v1/tags", {"page": 2}).json()["error"]["code"] == "not_found"


def test_stable_order_adds_the_primary_key_as_tie_breaker(db):
    assert stable_order(Template.objects.order_by("name")).query.order_by == ("name", "-pk")
    assert stable_order(GenerationJob.objects.order_by("-created_at", "-id")).query.order_by == ("-created_at", "-id")
    assert stable_order(Template.objects.all().order_by()).query.order_by == ("-created_at", "-pk")
