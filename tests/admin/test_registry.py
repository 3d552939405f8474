"""Every model in the admin renders for staff, and the admin is closed to everyone else."""

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts
from accounts.models import CreditEntry, IdempotencyRecord, Tier
from accounts.tiers import DEFAULT_TIERS
from gallery import services as gallery
from templates_app import services as templates

from ..factories import (
    BrandKitFactory,
    ChapterFactory,
    GeneratedImageFactory,
    GenerationJobFactory,
    SceneFactory,
    StoryFactory,
    StyleFactory,
    TemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REGISTERED = sorted(model._meta.label for model in admin.site._registry)


def tier(_):
    values = DEFAULT_TIERS["free"]
    fields = [field.name for field in Tier._meta.fields if field.name != "name"]
    return Tier.objects.update_or_create(name="free", defaults={name: getattr(values, name) for name in fields})[0]


def axes_row(model):
    def make(_):
        fields = dict(username="someone@example.com", ip_address="127.0.0.1", user_agent="pytest", http_accept="*/*")
        fields |= dict(path_info="/accounts/login/", attempt_time=timezone.now())
        if model.__name__ == "AccessAttempt":
            fields |= dict(get_data="", post_data="", failures_since_start=1)
        return model.objects.create(**fields)

    return make


def celery_result(model, id_field):
    def make(_):
        return model.objects.create(
            **{id_field: str(uuid.uuid4())}, content_type="application/json", content_encoding="utf-8"
        )

    return make


def _instances():
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_celery_results.models import GroupResult, TaskResult

    # Imported here: the scenes app is younger than this test, and a model it does not register is not looped over.
    from scenes.models import StoryImageRequest

    def refresh_token_row(owner, *, blacklisted: bool):
        from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

        from accounts.tokens import RefreshToken

        token = RefreshToken.for_user(owner)  # records its OutstandingToken row
        if blacklisted:
            return token.blacklist()[0]  # (row, created)
        return OutstandingToken.objects.get(jti=token["jti"])

    def story_request(owner):
        scene = SceneFactory(chapter=ChapterFactory(story=StoryFactory(owner=owner)))
        job = GenerationJobFactory(owner=owner, image_type="scene", with_reservation=True)
        return StoryImageRequest.objects.create(scene=scene, job=job, image_type="scene")

    def webhook_endpoint(owner):
        from webhooks.services import endpoint_create

        return endpoint_create(owner=owner, url="https://example.com/hook", events=["completed"])

    def webhook_delivery(owner):
        from webhooks.models import WebhookAttempt, WebhookDelivery

        job = GenerationJobFactory(owner=owner)
        delivery = WebhookDelivery.objects.create(
            endpoint=webhook_endpoint(owner), job=job, event_type="job.succeeded", payload={"type": "job.succeeded"}
        )
        WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500, error="HTTP 500")
        return delivery

    def batch(owner):
        from batches.models import Batch, BatchJob

        row = Batch.objects.create(owner=owner, production_path="fashion", total_cost=1)
        BatchJob.objects.create(
            batch=row, job=GenerationJobFactory(owner=owner), position=0, prompt="x", size_preset="1:1"
        )
        return row

    return {
        "brands.Style": lambda owner: StyleFactory(owner=owner),
        "brands.BrandKit": lambda owner: BrandKitFactory(owner=owner),
        "batches.Batch": batch,
        "webhooks.WebhookEndpoint": webhook_endpoint,
        "webhooks.WebhookDelivery": webhook_delivery,
        "auth.Group": lambda _: Group.objects.create(name="operators"),
        "axes.AccessAttempt": axes_row(AccessAttempt),
        "axes.AccessLog": axes_row(AccessLog),
        "axes.AccessFailureLog": axes_row(AccessFailureLog),
        "django_celery_results.TaskResult": celery_result(TaskResult, "task_id"),
        "django_celery_results.GroupResult": celery_result(GroupResult, "group_id"),
        "accounts.User": lambda _: UserFactory(),
        "accounts.CreditEntry": lambda _: CreditEntry.objects.get(user=UserFactory(credits=5)),
        "accounts.Tier": tier,
        "accounts.ApiKey": lambda owner: accounts.create_api_key(user=owner, name="ci")[0],
        "accounts.IdempotencyRecord": lambda owner: IdempotencyRecord.objects.create(
            user=owner, key="k-1", request_hash="0" * 64, response_status=201, response_body="{}"
        ),
        "templates_app.Template": lambda _: TemplateFactory(),
        "templates_app.PromptPreset": lambda owner: templates.create_prompt_preset(
            owner=owner, name="Dress", text="a linen dress"
        ),
        "generation.GenerationJob": lambda owner: GenerationJobFactory(owner=owner, with_reservation=True),
        "gallery.GeneratedImage": lambda owner: GeneratedImageFactory(owner=owner),
        "gallery.Folder": lambda owner: gallery.create_folder(owner=owner, name="Spring"),
        "gallery.Tag": lambda owner: gallery.create_tag(owner=owner, name="summer"),
        "gallery.ShareLink": lambda owner: gallery.create_share_link(
            owner=owner, image=GeneratedImageFactory(owner=owner)
        ),
        "scenes.Story": lambda owner: StoryFactory(owner=owner),
        "scenes.Chapter": lambda owner: ChapterFactory(story=StoryFactory(owner=owner)),
        "scenes.StoryImageRequest": story_request,
        "token_blacklist.OutstandingToken": lambda owner: refresh_token_row(owner, blacklisted=False),
        "token_blacklist.BlacklistedToken": lambda owner: refresh_token_row(owner, blacklisted=True),
    }


def admin_url(label: str, view: str, *args) -> str:
    app_label, model = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model}_{view}", args=args)


@pytest.mark.parametrize("label", REGISTERED)
def test_the_changelist_renders_for_staff(staff_client, staff, label):
    factory = _instances().get(label)
    if factory is not None:
        factory(UserFactory())
    response = staff_client.get(admin_url(label, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("label", REGISTERED)
def test_the_change_page_renders_for_staff(staff_client, label):
    factory = _instances().get(label)
    if factory is None:
        pytest.skip(f"no instance factory for {label} in tests/admin/test_registry.py")
    obj = factory(UserFactory())
    response = staff_client.get(admin_url(label, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize("label", REGISTERED)
def test_a_signed_in_user_who_is_not_staff_is_sent_to_the_admin_login(client, label):
    client.force_login(UserFactory())
    url = admin_url(label, "changelist")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_statistics_page_is_closed_to_users_who_are_not_staff(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:generation_stats"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_a_job_page_shows_its_images_and_its_ledger(staff_client):
    job = GenerationJobFactory(succeeded=True, with_reservation=True)
    picture = GeneratedImageFactory(job=job)
    response = staff_client.get(admin_url("generation.GenerationJob", "change", picture.job_id))
    body = response.content.decode()
    assert str(picture.uuid) in body
    assert "Credit ledger" in body and "reservation" in body.lower()


def test_a_story_page_lists_its_chapters_and_a_chapter_page_its_scenes(staff_client):
    scene = SceneFactory(description="a lighthouse on a cliff at dusk")
    story_page = staff_client.get(admin_url("scenes.Story", "change", scene.chapter.story_id))
    assert str(scene.chapter) in story_page.content.decode()
    chapter_page = staff_client.get(admin_url("scenes.Chapter", "change", scene.chapter_id))
    assert "a lighthouse on a cliff at dusk" in chapter_page.content.decode()
