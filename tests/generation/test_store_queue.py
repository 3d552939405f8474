"""The worker's store thread (generation.store_queue): images are stored while the pipeline draws the next, in
order, once each, and a failed store still fails the job cleanly."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models.signals import post_save

from accounts.models import CreditEntry, EntryKind
from gallery.models import GeneratedImage
from generation import events, runner, store_queue
from generation.models import GenerationJob, JobStatus

from ..factories import GeneratedImageFactory

pytestmark = pytest.mark.django_db(transaction=True)


class GatedStorage(FileSystemStorage):
    """Local files whose writes wait until the test opens `gate`: an upload that takes as long as the test says."""

    gate = threading.Event()

    def _save(self, name, content):
        assert self.gate.wait(30), "the test never opened the storage gate"
        return super()._save(name, content)


@pytest.fixture
def background_store(settings):
    """A fresh store thread for this test (WORKER_STORE_MAX_WAITING=4); drained, its connections closed, after."""
    settings.WORKER_STORE_MAX_WAITING = 4
    store_queue.shutdown_store_queue()
    yield
    GatedStorage.gate.set()
    store_queue.shutdown_store_queue()


@pytest.fixture
def gated_storage(settings, tmp_path):
    GatedStorage.gate.clear()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.GatedStorage", "OPTIONS": {"location": tmp_path / "media"}},
    }
    yield GatedStorage.gate
    GatedStorage.gate.set()


@pytest.fixture
def job_events():
    """`received(job)`: the events published for `job` so far, in order (read from its job group)."""
    layer = get_channel_layer()
    channels: dict[int, str] = {}

    def listen(job: GenerationJob) -> None:
        channels[job.pk] = f"test.store.{job.pk}"
        async_to_sync(layer.group_add)(events.job_group(job.pk), channels[job.pk])

    def received(job: GenerationJob) -> list[dict]:
        assert events.get_publisher().flush()

        async def read() -> list[dict]:
            got = []
            while True:
                try:
                    got.append((await asyncio.wait_for(layer.receive(channels[job.pk]), 0.5))["event"])
                except TimeoutError:
                    return got

        return async_to_sync(read)()

    listen.received = received  # type: ignore[attr-defined]
    return listen


def run_in_background(job: GenerationJob) -> runner.RunOutcome:
    return runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token), in_background=True)


def settlement(job: GenerationJob) -> dict[str, int]:
    return dict(CreditEntry.objects.filter(job=job).values_list("kind", "reserved_change"))


def test_the_pipeline_draws_every_image_while_the_store_is_held(user, submit, background_store, gated_storage):
    job = submit(user, num_images=3)

    assert run_in_background(job) == runner.RunOutcome.DRAWN  # returned with no image uploaded yet

    job.refresh_from_db()
    assert (job.status, job.progress_step, job.images_done) == (JobStatus.RUNNING, job.progress_total, 0)
    assert not GeneratedImage.objects.filter(job=job).exists()
    gated_storage.set()
    assert store_queue.store_queue().drain(timeout=30)
    job.refresh_from_db()
    assert (job.status, job.images_done) == (JobStatus.SUCCEEDED, 3)
    assert sorted(job.images.values_list("index", flat=True)) == [0, 1, 2]


def test_stored_images_are_announced_in_order_before_the_job_succeeds(user, submit, background_store, job_events):
    job = submit(user, num_images=3)
    job_events(job)

    assert run_in_background(job) == runner.RunOutcome.DRAWN
    assert store_queue.store_queue().drain(timeout=30)

    received = [event for event in job_events.received(job) if event["type"] != "job.progress"]
    assert [event["type"] for event in received] == ["job.started", *["job.image"] * 3, "job.succeeded"]
    assert [event["image"]["index"] for event in received[1:4]] == [0, 1, 2]
    assert [image["index"] for image in received[-1]["images"]] == [0, 1, 2]
    assert GeneratedImage.objects.filter(job=job).count() == 3
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.CHARGE: -job.credit_cost}


def test_a_jobs_last_image_and_its_success_are_one_commit(user, submit, background_store):
    """Nobody reads every image stored and the job still running: the last image's transaction makes the job
    succeeded, one COMMIT fewer before job.succeeded."""
    job = submit(user, num_images=3)
    status_when_committed: list[tuple[int, str]] = []

    def on_row(sender, instance, created, **_):
        if created and instance.job_id == job.pk:
            read = lambda: GenerationJob.objects.values_list("status", flat=True).get(pk=job.pk)  # noqa: E731
            transaction.on_commit(lambda: status_when_committed.append((instance.index, read())))

    post_save.connect(on_row, sender=GeneratedImage, weak=False)
    try:
        assert run_in_background(job) == runner.RunOutcome.DRAWN
        assert store_queue.store_queue().drain(timeout=30)
    finally:
        post_save.disconnect(on_row, sender=GeneratedImage)

    assert status_when_committed == [(0, "running"), (1, "running"), (2, "succeeded")]
    job.refresh_from_db()
    assert (job.status, job.images_done, job.progress_step) == (JobStatus.SUCCEEDED, 3, job.progress_total)
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.CHARGE: -job.credit_cost}


def test_a_redelivered_jobs_last_missing_image_makes_it_succeeded(user, submit, background_store):
    """An earlier delivery stored image 0 and died: this one draws only image 1, whose transaction ends the job."""
    job = submit(user, num_images=2)
    GeneratedImageFactory(job=job, index=0)
    GenerationJob.objects.filter(pk=job.pk).update(deliveries=1)
    committed: list[tuple[int, str]] = []

    def on_row(sender, instance, created, **_):
        if created and instance.job_id == job.pk:
            read = lambda: GenerationJob.objects.values_list("status", flat=True).get(pk=job.pk)  # noqa: E731
            transaction.on_commit(lambda: committed.append((instance.index, read())))

    post_save.connect(on_row, sender=GeneratedImage, weak=False)
    try:
        assert run_in_background(job) == runner.RunOutcome.DRAWN
        assert store_queue.store_queue().drain(timeout=30)
    finally:
        post_save.disconnect(on_row, sender=GeneratedImage)

    assert committed == [(1, "succeeded")]
    job.refresh_from_db()
    assert (job.status, job.images_done, job.images.count()) == (JobStatus.SUCCEEDED, 2, 2)
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.CHARGE: -job.credit_cost}


class RacedStorage(FileSystemStorage):
    """Local files; while the last image uploads, another delivery's row for that index is committed first."""

    job_id: int | None = None

    def _save(self, name, content):
        job_id, RacedStorage.job_id = RacedStorage.job_id, None
        if job_id is not None and name.endswith(".png"):
            GeneratedImageFactory(job=GenerationJob.objects.get(pk=job_id), index=0)
        return super()._save(name, content)


def test_a_last_image_whose_row_came_second_rolls_its_success_back_and_the_job_still_succeeds(
    user, submit, settings, tmp_path, background_store
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.RacedStorage", "OPTIONS": {"location": tmp_path / "media"}},
    }
    job = submit(user, num_images=1)
    RacedStorage.job_id = job.pk

    assert run_in_background(job) == runner.RunOutcome.DRAWN
    assert store_queue.store_queue().drain(timeout=30)

    job.refresh_from_db()
    assert (job.status, job.images_done) == (JobStatus.SUCCEEDED, 1)
    assert job.images.count() == 1  # the other delivery's row is kept, this one's dropped
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.CHARGE: -job.credit_cost}


def test_a_store_that_fails_fails_the_job_and_releases_its_credits(
    user, submit, settings, tmp_path, background_store, job_events
):
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("a file where the media folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": not_a_folder}},
    }
    job = submit(user, num_images=2)
    job_events(job)

    outcome = run_in_background(job)
    assert store_queue.store_queue().drain(timeout=30)

    assert outcome in (runner.RunOutcome.DRAWN, runner.RunOutcome.FAILED)  # the pipeline may notice first
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and not job.images.exists()
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.RELEASE: -job.credit_cost}
    types = [event["type"] for event in job_events.received(job)]
    assert "job.failed" in types and "job.succeeded" not in types and "job.image" not in types
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (1000, 0)


def test_a_job_whose_images_are_being_stored_does_not_hold_its_owners_running_limit(
    user, submit, background_store, gated_storage
):
    from accounts.selectors import limits_for

    assert limits_for(user).max_running_jobs == 1
    first, second = submit(user), submit(user)
    assert run_in_background(first) == runner.RunOutcome.DRAWN
    assert GenerationJob.objects.get(pk=first.pk).status == JobStatus.RUNNING  # its image waits at the gate
    threading.Timer(0.3, gated_storage.set).start()

    assert run_in_background(second) == runner.RunOutcome.DRAWN  # not sent back to the broker

    assert store_queue.store_queue().drain(timeout=30)
    statuses = GenerationJob.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    assert set(statuses) == {JobStatus.SUCCEEDED}


def test_a_submit_waits_while_max_waiting_items_wait():
    queue = store_queue.StoreQueue(2)
    gate = threading.Event()
    try:
        queue.submit(gate.wait, 30)
        queue.submit(gate.wait, 30)
        third = threading.Thread(target=queue.submit, args=(time.sleep, 0))
        third.start()
        third.join(timeout=0.3)
        assert third.is_alive()  # both slots taken: the third waits for one
        gate.set()
        third.join(timeout=10)
        assert not third.is_alive()
    finally:
        gate.set()
        assert queue.shutdown(timeout=10)


def test_items_run_one_after_the_other_in_submission_order():
    queue = store_queue.StoreQueue(3)
    ran: list[tuple[int, str]] = []
    try:
        futures = [queue.submit(lambda n: ran.append((n, threading.current_thread().name)), n) for n in range(20)]
        assert queue.drain(timeout=10)
    finally:
        assert queue.shutdown(timeout=10)
    assert all(future.done() for future in futures)
    assert [n for n, _ in ran] == list(range(20))
    assert len({name for _, name in ran}) == 1 and ran[0][1] != threading.current_thread().name


def test_without_a_thread_items_run_on_the_caller():
    assert store_queue.INLINE.submit(threading.current_thread).result() is threading.current_thread()
