"""The shared factories make what the services make, so a test built on them tests the real thing."""

import pytest

from accounts.models import CreditEntry, EntryKind

from .factories import GenerationJobFactory, stored_image

pytestmark = pytest.mark.django_db

JOB_FIELDS = (
    "production_path",
    "image_type",
    "prompt",
    "negative_prompt",
    "model",
    "scheduler",
    "steps",
    "guidance",
    "width",
    "height",
    "num_images",
    "seed",
    "workflow",
    "credit_cost",
    "progress_total",
    "status",
)


def test_a_factory_job_is_the_job_that_submit_stores_for_the_default_request(user, submit):
    submitted = submit(user, seed=1)
    built = GenerationJobFactory(owner=user)
    assert [getattr(built, name) for name in JOB_FIELDS] == [getattr(submitted, name) for name in JOB_FIELDS]


def test_with_reservation_reserves_the_jobs_cost_through_admission(user):
    job = GenerationJobFactory(owner=user, num_images=3, with_reservation=True)
    user.refresh_from_db()
    assert user.credits_reserved == 3
    assert CreditEntry.objects.get(job=job).kind == EntryKind.RESERVATION


def test_a_stored_image_is_a_png_of_its_jobs_size(user, tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    image = stored_image(user, width=64, height=48)
    assert (image.owner, image.job.owner, image.job.status) == (user, user, "succeeded")
    assert (image.width, image.height) == (64, 48)
    with image.file.open("rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
