"""A job's styles and brand kit at submit: the snapshot it stores, what its prompt gains, and every refusal."""

from __future__ import annotations

import pytest

from brands.models import LogoApply
from brands.services import brand_kit_create
from generation import runner, services
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
from generation.models import GenerationJob

from ..factories import JOB_REQUEST, BrandKitFactory, StyleFactory, TemplateFactory, png_bytes


def enhancement(job: GenerationJob) -> dict:
    return next(node["parameters"] for node in job.workflow if node["node_type"] == "prompt_enhancement")


@pytest.mark.django_db
class TestThroughTheApi:
    def test_a_job_stores_the_snapshot_of_its_styles_and_answers_them_without_the_storage_key(
        self, api_client, user, submit_api
    ):
        public, mine = StyleFactory(default_weight=0.6), StyleFactory(owner=user)
        body = submit_api(api_client, styles=[{"id": mine.pk, "weight": 1.5}, {"id": public.pk}])
        job = GenerationJob.objects.get(pk=body["id"])
        assert [(s["id"], s["weight"], s["file"], s["sha256"]) for s in job.styles] == [
            (mine.pk, 1.5, str(mine.file.name), mine.sha256),
            (public.pk, 0.6, str(public.file.name), public.sha256),
        ]
        assert (
            body["styles"] == [{k: v for k, v in style.items() if k != "file"} for style in job.styles]
            and "file" not in body["styles"][0]
        )
        assert (body["brand_kit"], body["apply_logo"]) == (None, False)
        assert api_client.get(f"/api/v1/jobs/{job.pk}").json()["styles"] == body["styles"]

    def test_trigger_words_and_the_kits_fragments_follow_the_paths_style_words(self, api_client, user, submit_api):
        style = StyleFactory(trigger_words="lnncat style")
        kit = BrandKitFactory(owner=user, palette=["#ff0000"], tone_words="calm", avoid_words="neon, clutter")
        job = GenerationJob.objects.get(pk=submit_api(api_client, styles=[{"id": style.pk}], brand_kit=kit.pk)["id"])
        parameters = enhancement(job)
        assert parameters["style_prompts"][-2:] == ["lnncat style", "red colour palette, tone: calm"]
        assert parameters["style_prompts"][0] == "fashion photography"  # the path's words first
        assert parameters["avoid_words"] == "neon, clutter"
        assert job.brand_kit == kit

    @pytest.mark.parametrize(
        "styles",
        [
            [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
            [{"id": 1, "weight": 2.5}],
            [{"id": 1, "weight": -2.1}],
            [{"id": 1, "strength": 1}],
            "lnncat",
        ],
        ids=["four-styles", "weight-over-2", "weight-under-minus-2", "unknown-key", "not-a-list"],
    )
    def test_bad_styles_are_a_400_naming_styles_and_nothing_is_stored(self, api_client, user, styles):
        balance = user.credit_balance
        response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"styles": styles}, format="json")
        assert response.status_code == 400, response.content
        assert "styles" in response.json()["error"]["fields"]
        user.refresh_from_db()
        assert not GenerationJob.objects.exists() and user.credit_balance == balance

    def test_another_users_private_style_is_a_404_naming_styles(self, api_client, user, other_user):
        theirs = StyleFactory(owner=other_user)
        response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"styles": [{"id": theirs.pk}]}, format="json")
        assert response.status_code == 404 and "styles" in response.json()["error"]["fields"]
        assert not GenerationJob.objects.exists()

    def test_another_users_kit_is_a_404_naming_brand_kit(self, api_client, other_user):
        theirs = BrandKitFactory(owner=other_user)
        response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"brand_kit": theirs.pk}, format="json")
        assert response.status_code == 404 and "brand_kit" in response.json()["error"]["fields"]
        assert not GenerationJob.objects.exists()

    def test_a_style_for_the_other_base_model_is_a_400_naming_styles(self, api_client):
        sdxl = StyleFactory(base_model=SDXL)
        response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"styles": [{"id": sdxl.pk}]}, format="json")
        assert response.status_code == 400 and "styles" in response.json()["error"]["fields"]
        assert not GenerationJob.objects.exists()

    def test_apply_logo_without_a_kit_is_a_400(self, api_client):
        response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"apply_logo": True}, format="json")
        assert response.status_code == 400 and "apply_logo" in response.json()["error"]["fields"]

    def test_a_per_job_kit_puts_its_logo_on_the_jobs_that_ask(self, api_client, user, submit_api):
        kit = brand_kit_create(owner=user, name="Spring", logo=png_bytes(), logo_apply=LogoApply.PER_JOB)
        assert submit_api(api_client, brand_kit=kit.pk, apply_logo=True)["apply_logo"] is True
        assert submit_api(api_client, brand_kit=kit.pk)["apply_logo"] is False


@pytest.mark.django_db
class TestPrecedence:
    def test_a_templates_styles_apply_unless_the_job_names_its_own(self, user, submit):
        template_style, own = StyleFactory(), StyleFactory()
        template = TemplateFactory(styles=[{"id": template_style.pk, "weight": 0.5}])
        job = submit(user, template=template, production_path=None)
        assert [(s["id"], s["weight"]) for s in job.styles] == [(template_style.pk, 0.5)]
        job = submit(user, template=template, production_path=None, styles=[{"id": own.pk}])
        assert [s["id"] for s in job.styles] == [own.pk]

    def test_without_styles_of_its_own_or_its_templates_a_job_takes_its_kits(self, user, submit):
        style = StyleFactory()
        kit = BrandKitFactory(owner=user, default_styles=[{"id": style.pk, "weight": -1.0}])
        assert [(s["id"], s["weight"]) for s in submit(user, brand_kit=kit).styles] == [(style.pk, -1.0)]

    def test_a_retry_and_a_variation_keep_the_styles_and_the_kit(self, user, submit):
        style = StyleFactory()
        kit = BrandKitFactory(owner=user, tone_words="calm")
        job = submit(user, styles=[{"id": style.pk, "weight": 0.4}], brand_kit=kit)
        GenerationJob.objects.filter(pk=job.pk).update(status="failed")
        retry = services.retry_job(job=job)
        assert (retry.styles, retry.brand_kit) == (job.styles, kit)
        assert services.image_input_of(job) == {} and services.brand_of(job)["styles"] == [
            {"id": style.pk, "weight": 0.4}
        ]


@pytest.mark.django_db(transaction=True)
def test_the_kits_fragment_is_in_the_enhanced_prompt_and_its_words_to_avoid_in_the_negative(user, submit):
    kit = BrandKitFactory(owner=user, palette=["#000080", "#ffffff"], tone_words="calm", avoid_words="neon")
    job = submit(user, brand_kit=kit, negative_prompt="blurry")
    assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
    job.refresh_from_db()
    assert job.enhanced_prompt.startswith("a linen summer dress, fashion photography")
    assert job.enhanced_prompt.endswith("navy and white colour palette, tone: calm")
    assert job.images.get().negative_prompt_used == "blurry, neon"
    assert job.model == Z_IMAGE_TURBO
