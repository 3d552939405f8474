"""A batch's styles and brand kit go to every one of its jobs; a bad one creates nothing (#19's gap, #20)."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob

from ..factories import BrandKitFactory, StyleFactory
from .test_api import BATCH, assert_nothing_created, create

pytestmark = pytest.mark.django_db


def test_every_job_of_a_batch_gets_its_styles_and_kit(user, api_client):
    style = StyleFactory(trigger_words="lnncat style")
    kit = BrandKitFactory(owner=user, tone_words="calm")
    response = create(api_client, BATCH | {"styles": [{"id": style.pk, "weight": 0.7}], "brand_kit": kit.pk})
    assert response.status_code == 202, response.content
    jobs = GenerationJob.objects.filter(owner=user)
    assert jobs.count() == 3
    assert {(job.styles[0]["id"], job.styles[0]["weight"], job.brand_kit_id) for job in jobs} == {
        (style.pk, 0.7, kit.pk)
    }
    assert response.json()["parameters"]["brand_kit"] == kit.pk


def test_another_users_kit_or_style_is_a_404_naming_it_and_creates_nothing(user, other_user, api_client):
    credits = user.credit_balance
    for field, value in (
        ("brand_kit", BrandKitFactory(owner=other_user).pk),
        ("styles", [{"id": StyleFactory(owner=other_user).pk}]),
    ):
        response = create(api_client, BATCH | {field: value})
        assert response.status_code == 404 and field in response.json()["error"]["fields"], response.content
        assert_nothing_created(user, credits)


def test_more_than_three_styles_is_a_400_on_styles(user, api_client):
    response = create(api_client, BATCH | {"styles": [{"id": StyleFactory().pk} for _ in range(4)]})
    assert response.status_code == 400 and "styles" in response.json()["error"]["fields"]
    assert_nothing_created(user, user.credit_balance)
