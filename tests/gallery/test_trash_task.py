"""The beat task empties the trash of images deleted more than GALLERY_TRASH_DAYS ago, files included."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from gallery import services, tasks
from gallery.models import GeneratedImage
from zimage.celery import app

from ..factories import GeneratedImageFactory, stored_image


def test_beat_runs_the_gallery_housekeeping():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"gallery.empty_trash", "gallery.clean_expired_share_links"} <= scheduled
    assert {"gallery.empty_trash", "gallery.clean_expired_share_links"} <= set(app.tasks)


def test_only_images_trashed_over_30_days_ago_are_purged_with_their_files(
    storage, user, other_user, django_capture_on_commit_callbacks
):
    now = timezone.now()
    old = stored_image(user, prompt="old")
    services.trash_image(image=old)
    GeneratedImage.objects.filter(pk=old.pk).update(deleted_at=now - dt.timedelta(days=30, minutes=1))
    theirs_old = GeneratedImageFactory(owner=other_user, deleted_at=now - dt.timedelta(days=45))
    recent = stored_image(user, prompt="recent")
    services.trash_image(image=recent)
    live = stored_image(user, prompt="live")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.empty_trash() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.empty_trash() == 0  # idempotent

    assert set(GeneratedImage.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
    assert not GeneratedImage.objects.filter(pk=theirs_old.pk).exists()
    assert storage.keys() == {recent.file.name, recent.thumbnail.name, live.file.name, live.thumbnail.name}


def test_trashing_twice_keeps_the_first_deletion_time(user):
    image = GeneratedImageFactory(owner=user)
    first = services.trash_image(image=image).deleted_at

    assert services.trash_image(image=image).deleted_at == first


def test_purging_works_in_batches(user, monkeypatch):
    monkeypatch.setattr(services, "PURGE_BATCH", 3)
    for _ in range(7):
        GeneratedImageFactory(owner=user, deleted_at=timezone.now() - dt.timedelta(days=31))

    assert services.empty_trash() == 7
    assert not GeneratedImage.objects.exists()
