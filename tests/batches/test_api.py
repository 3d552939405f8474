"""POST/GET /api/v1/batches: a job per prompt x size, all credits reserved at once or none, the plan's limits."""

from __future__ import annotations

import pytest

from accounts.models import CreditEntry, EntryKind
from batches.models import Batch
from generation.models import GenerationJob, JobStatus

from ..conftest import client_for
from ..factories import GenerationJobFactory, TemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

BATCH = {"prompt": "a linen summer dress", "size_presets": ["1:1", "9:16", "16:9"], "steps": 2}


def create(client, body=BATCH, **headers):
    return client.post("/api/v1/batches", body, format="json", **headers)


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def assert_nothing_created(user, credits):
    assert not Batch.objects.filter(owner=user).exists()
    assert not GenerationJob.objects.filter(owner=user).exists()
    assert not CreditEntry.objects.filter(user=user, kind=EntryKind.RESERVATION).exists()
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (credits, 0)


def test_one_prompt_at_three_sizes_is_three_queued_jobs_with_their_prices_and_total(user, api_client):
    response = create(api_client, BATCH | {"num_images": 2})
    assert response.status_code == 202, response.content
    body = response.json()
    assert [(job["size_preset"], job["width"], job["height"]) for job in body["jobs"]] == [
        ("1:1", 1024, 1024),
        ("9:16", 576, 1024),
        ("16:9", 1024, 576),
    ]
    assert [job["credit_cost"] for job in body["jobs"]] == [2, 2, 2]
    assert body["total_cost"] == 6 and body["job_count"] == 3
    assert body["counts"][JobStatus.QUEUED] == 3
    jobs = GenerationJob.objects.filter(pk__in=[job["id"] for job in body["jobs"]])
    assert {(job.owner, job.prompt, job.num_images, job.steps) for job in jobs} == {(user, BATCH["prompt"], 2, 2)}
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (994, 6)


def test_prompts_times_sizes_in_order_with_a_template(api_client):
    template = TemplateFactory(credit_cost=3, overridable=["width", "height", "steps"])
    body = {
        "prompts": ["red sneaker", "white sneaker"],
        "size_presets": ["instagram", "4:3"],
        "template": template.slug,
    }
    response = create(api_client, body)
    assert response.status_code == 202, response.content
    jobs = response.json()["jobs"]
    assert [(job["prompt"], job["size_preset"]) for job in jobs] == [
        ("red sneaker", "instagram"),
        ("red sneaker", "4:3"),
        ("white sneaker", "instagram"),
        ("white sneaker", "4:3"),
    ]
    assert response.json()["total_cost"] == 12
    assert GenerationJob.objects.filter(template=template).count() == 4


def test_a_batch_one_credit_short_is_402_with_the_total_and_creates_nothing():
    user = UserFactory(credits=5)
    response = create(client_for(user), BATCH | {"num_images": 2})
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["code"], error["cost"], error["balance"]) == ("insufficient_credits", 6, 5)
    assert_nothing_created(user, 5)


def test_more_jobs_than_the_plan_allows_is_a_400_naming_prompts_and_sizes(user, api_client):
    body = {"prompts": ["a", "b", "c"], "size_presets": ["1:1", "9:16", "16:9"]}  # 9 > free's 8
    fields = fields_of(create(api_client, body))
    assert set(fields) == {"prompts", "size_presets"}
    assert "8" in fields["size_presets"][0]
    assert_nothing_created(user, 1000)


def test_one_prompt_at_more_sizes_than_the_plan_allows_names_size_presets(user, api_client, set_tier):
    set_tier("free", max_batch_jobs=2)
    assert set(fields_of(create(api_client))) == {"size_presets"}
    assert_nothing_created(user, 1000)


def test_a_batch_as_large_as_the_plan_allows_is_accepted_past_the_waiting_jobs_limit(user, api_client):
    body = {"prompts": ["a", "b", "c", "d"], "size_presets": ["1:1", "16:9"]}  # 8 jobs; free waits 5 at most
    response = create(api_client, body)
    assert response.status_code == 202, response.content
    assert GenerationJob.objects.filter(owner=user, status=JobStatus.QUEUED).count() == 8


def test_a_batch_that_would_overfill_the_queue_is_429_and_creates_nothing(user, api_client):
    for _ in range(4):
        GenerationJobFactory(owner=user)
    response = create(api_client, {"prompts": ["a", "b", "c", "d", "e"], "size_presets": ["1:1"]})  # 4 + 5 > 8
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_jobs"
    assert "8" in response.json()["error"]["message"]
    assert not Batch.objects.exists()
    assert GenerationJob.objects.filter(owner=user).count() == 4


def test_while_a_batch_waits_single_jobs_still_obey_the_waiting_jobs_limit(user, api_client):
    create(api_client, {"prompts": ["a", "b", "c"], "size_presets": ["1:1", "16:9"]})  # 6 waiting
    response = api_client.post("/api/v1/jobs", {"prompt": "one more"}, format="json")
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (BATCH | {"size_presets": ["1:1", "2:1"]}, "size_presets"),
        (BATCH | {"size_presets": ["1:1", "1:1"]}, "size_presets"),
        (BATCH | {"size_presets": []}, "size_presets"),
        ({"prompt": "x"}, "size_presets"),
        ({"size_presets": ["1:1"]}, "prompt"),
        (BATCH | {"prompts": ["y"]}, "prompts"),
        ({"prompts": [""], "size_presets": ["1:1"]}, "prompts"),
        ({"prompts": "not a list", "size_presets": ["1:1"]}, "prompts"),
        (BATCH | {"num_images": 9}, "num_images"),
        (BATCH | {"steps": 0}, "steps"),
        (BATCH | {"template": "no-such-template"}, "template"),
        (BATCH | {"width": 512}, "width"),
        (BATCH | {"production_path": "nowhere"}, "production_path"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(user, api_client, body, field, settings):
    settings.UNKNOWN_PATH_POLICY = "reject"
    assert field in fields_of(create(api_client, body))
    assert_nothing_created(user, 1000)


def test_a_template_with_a_fixed_size_is_a_400_on_size_presets(user, api_client):
    template = TemplateFactory(overridable=["steps"])
    fields = fields_of(create(api_client, {"prompt": "x", "size_presets": ["1:1"], "template": template.slug}))
    assert fields["size_presets"][0].startswith("1:1: ")
    assert_nothing_created(user, 1000)


def test_a_size_over_the_plans_side_limit_names_size_presets_and_the_size(user, api_client, set_tier):
    set_tier("free", max_side=1024)
    fields = fields_of(create(api_client, {"prompt": "x", "size_presets": ["1:1", "instagram"]}))
    assert fields["size_presets"][0].startswith("instagram: ")
    assert_nothing_created(user, 1000)


def test_the_same_idempotency_key_twice_makes_one_batch(user, api_client):
    first = create(api_client, HTTP_IDEMPOTENCY_KEY="campaign-1")
    again = create(api_client, HTTP_IDEMPOTENCY_KEY="campaign-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 1 and GenerationJob.objects.count() == 3


def test_the_same_key_with_another_body_is_409(api_client):
    create(api_client, HTTP_IDEMPOTENCY_KEY="campaign-1")
    response = create(api_client, BATCH | {"prompt": "other"}, HTTP_IDEMPOTENCY_KEY="campaign-1")
    assert response.status_code == 409
    assert Batch.objects.count() == 1


def test_a_batch_shows_its_counts_by_status(api_client):
    batch_id = create(api_client).json()["id"]
    first, second, _third = Batch.objects.get(pk=batch_id).entries.order_by("position")
    first.job.transition(JobStatus.RUNNING, worker_id="test:1")
    first.job.transition(JobStatus.SUCCEEDED, images_done=1)
    second.job.transition(JobStatus.RUNNING, worker_id="test:1")
    body = api_client.get(f"/api/v1/batches/{batch_id}").json()
    assert body["counts"] == {"queued": 1, "running": 1, "succeeded": 1, "failed": 0, "canceled": 0}
    assert [job["status"] for job in body["jobs"]] == ["succeeded", "running", "queued"]


def test_the_list_is_paginated_and_shows_only_your_batches(user, api_client):
    mine = create(api_client).json()["id"]
    create(client_for(UserFactory()))
    body = api_client.get("/api/v1/batches").json()
    assert body["count"] == 1 and [batch["id"] for batch in body["results"]] == [mine]


def test_another_users_batch_is_a_404_for_every_route(api_client):
    theirs = create(client_for(UserFactory())).json()["id"]
    for method, path in (("get", ""), ("post", "/cancel"), ("get", "/download")):
        response = getattr(api_client, method)(f"/api/v1/batches/{theirs}{path}")
        assert response.status_code == 404, (path, response.content)
    assert GenerationJob.objects.filter(status=JobStatus.QUEUED).count() == 3


def test_cancel_cancels_what_has_not_finished_and_releases_its_credits(user, api_client):
    batch_id = create(api_client).json()["id"]
    done = Batch.objects.get(pk=batch_id).entries.order_by("position").first().job
    done.transition(JobStatus.RUNNING, worker_id="test:1")
    done.transition(JobStatus.SUCCEEDED, images_done=1)
    response = api_client.post(f"/api/v1/batches/{batch_id}/cancel")
    assert response.status_code == 200
    assert response.json()["counts"] == {"queued": 0, "running": 0, "succeeded": 1, "failed": 0, "canceled": 2}
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (999, 1)  # the succeeded one is the worker's to settle


def test_the_download_of_a_batch_with_no_image_yet_is_409(api_client):
    batch_id = create(api_client).json()["id"]
    response = api_client.get(f"/api/v1/batches/{batch_id}/download")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_the_batch_routes_are_documented_under_their_tag_with_examples():
    from ..api.conftest import openapi_schema

    schema = openapi_schema()
    create_op = schema["paths"]["/api/v1/batches"]["post"]
    assert create_op["tags"] == ["batches"]
    assert len(create_op["requestBody"]["content"]["application/json"]["examples"]) >= 2
    assert create_op["responses"]["202"]["content"]["application/json"]["examples"]
    assert {"400", "402", "409", "429"} <= set(create_op["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in create_op["parameters"]}
    assert schema["paths"]["/api/v1/batches/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert "application/zip" in schema["paths"]["/api/v1/batches/{id}/download"]["get"]["responses"]["200"]["content"]
    assert "batches" in {tag["name"] for tag in schema["tags"]}


@pytest.mark.django_db(transaction=True)
def test_two_batches_sent_at_once_that_the_credits_cover_only_one_of_make_one(broker):
    from ..accounts.test_concurrency import in_threads

    user = UserFactory(credits=5)
    responses = in_threads(lambda i: create(client_for(user), BATCH | {"prompt": f"take {i}"}), n=2)
    assert sorted(response.status_code for response in responses) == [202, 402]
    assert Batch.objects.count() == 1 and GenerationJob.objects.filter(owner=user).count() == 3
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (2, 3)
