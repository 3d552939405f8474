"""submit_job validation and the worker-side run, executed in this process with the tiny pipeline."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from generation import events, runner, services, worker
from generation.engine.workflow import NODE_TYPES, Node, register_node
from generation.models import GenerationJob, JobStatus

from ..conftest import errors_of
from ..factories import TemplateFactory, stored_image


@pytest.mark.django_db
class TestSubmit:
    def test_a_valid_request_is_stored_queued_with_its_resolved_parameters(self, user, submit):
        job = submit(user, seed=42, num_images=3)
        assert job.status == JobStatus.QUEUED
        assert (job.model, job.steps, job.guidance, job.width, job.height) == (
            "Tongyi-MAI/Z-Image-Turbo",
            2,
            0.0,
            256,
            256,
        )
        assert (job.seed, job.num_images, job.progress_total) == (42, 3, 6)
        assert [node["node_type"] for node in job.workflow] == ["prompt_enhancement", "generation", "save_image"]

    def test_a_missing_seed_is_drawn_at_random_and_recorded(self, user, submit):
        seeds = {submit(user).seed for _ in range(3)}
        assert len(seeds) == 3
        assert all(0 <= seed < 2**32 for seed in seeds)

    def test_template_defaults_apply_and_the_job_keeps_its_own_copy_of_the_workflow(self, user):
        template = TemplateFactory(production_path="beauty")
        job = services.submit_job(user=user, prompt="lipstick", template=template)
        assert (job.production_path, job.steps, job.width) == ("beauty", 4, 256)
        template.config = {**template.config, "steps": 9}
        template.save()
        job.refresh_from_db()
        assert job.steps == 4 and job.workflow[0]["parameters"]["style_prompts"] == ["studio light"]

    def test_a_size_preset_sets_the_exact_size(self, user):
        job = services.submit_job(user=user, prompt="banner", size_preset="facebook_cover")
        assert (job.width, job.height) == (820, 312)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"prompt": ""}, "prompt"),
            ({"prompt": "   "}, "prompt"),
            ({"prompt": "x" * 2001}, "prompt"),
            ({"prompt": "bad\x00byte"}, "prompt"),
            ({"num_images": 5}, "num_images"),
            ({"num_images": 0}, "num_images"),
            ({"width": 100}, "width"),
            ({"height": 4096}, "height"),
            ({"steps": 51}, "steps"),
            ({"guidance": 11.0}, "guidance"),
            ({"seed": -1}, "seed"),
            ({"size_preset": "poster"}, "size_preset"),
            ({"production_path": "fashon"}, "production_path"),
        ],
    )
    def test_bad_input_is_refused_with_a_field_error_and_nothing_is_stored(self, user, fields, field, submit):
        assert field in errors_of(lambda: submit(user, **fields))
        assert not GenerationJob.objects.exists()

    def test_a_template_refuses_overrides_it_does_not_allow(self, user):
        template = TemplateFactory(overridable=["seed"])
        assert "steps" in errors_of(lambda: services.submit_job(user=user, prompt="x", template=template, steps=3))

    def test_a_template_of_another_path_is_refused(self, user):
        template = TemplateFactory(production_path="eats")
        errors = errors_of(
            lambda: services.submit_job(user=user, prompt="x", template=template, production_path="cinema")
        )
        assert "production_path" in errors


@pytest.mark.django_db(transaction=True)
class TestExecute:
    def test_a_job_runs_through_every_node_and_records_the_enhanced_prompt(self, user, submit):
        job = submit(user, num_images=2, seed=3)
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.images.count() == 2
        assert job.enhanced_prompt.startswith("a linen summer dress, fashion photography")
        assert job.images_done == 2 and job.progress_step == job.progress_total == 4

    def test_a_second_delivery_of_a_finished_job_does_not_run_it_again(self, user, submit):
        job = submit(user)
        token = str(job.dispatch_token)
        assert runner.execute_job(job_id=job.pk, dispatch_token=token) == "succeeded"
        assert runner.execute_job(job_id=job.pk, dispatch_token=token) == "skipped"
        job.refresh_from_db()
        assert job.deliveries == 1 and job.images.count() == 1

    def test_a_delivery_with_an_outdated_token_is_ignored(self, user, submit):
        job = submit(user)
        assert runner.execute_job(job_id=job.pk, dispatch_token="0" * 32) == "stale"
        assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.QUEUED

    def test_a_duplicate_while_the_first_delivery_runs_is_deferred_not_run(self, user, submit):
        job = submit(user)
        job.transition(JobStatus.RUNNING, worker_id=worker.worker_identity(), heartbeat_at=timezone.now())
        with pytest.raises(runner.ClaimHeldByLiveWorker):
            runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token))

    def test_a_dead_workers_job_is_taken_back_and_counted_as_a_retry(self, user, submit):
        job = submit(user)
        job.transition(JobStatus.RUNNING, worker_id="ghost-host:1", heartbeat_at=None)
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
        job.refresh_from_db()
        assert (job.status, job.retry_count, job.deliveries) == (JobStatus.SUCCEEDED, 1, 1)

    def test_a_retried_job_announces_the_images_of_every_delivery_when_it_succeeds(self, user, submit):
        job = submit(user, num_images=2)
        stored_image(job=job, index=0)  # stored by the first delivery
        job.transition(JobStatus.RUNNING, worker_id="ghost-host:1", heartbeat_at=None, deliveries=1)
        layer = get_channel_layer()
        channel = f"test.retried.{job.pk}"  # a plain channel: read from any event loop
        async_to_sync(layer.group_add)(events.job_group(job.pk), channel)

        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
        assert events.get_publisher().flush()

        async def until_succeeded() -> list[dict]:
            received = []
            while not received or received[-1]["type"] != "job.succeeded":
                received.append((await asyncio.wait_for(layer.receive(channel), 10))["event"])
            return received

        received = async_to_sync(until_succeeded)()
        succeeded = received[-1]
        assert [image["index"] for image in succeeded["images"]] == [0, 1]
        assert [event["image"]["index"] for event in received if event["type"] == "job.image"] == [1]

    def test_a_transient_error_requeues_with_backoff_then_succeeds(self, user, submit):
        calls = []

        @register_node("test_flaky")
        class Flaky(Node):
            def run(self, context):
                calls.append(1)
                if len(calls) == 1:
                    raise ConnectionError("broker blinked")

        try:
            job = submit(user)
            GenerationJob.objects.filter(pk=job.pk).update(
                workflow=[{"node_type": "test_flaky", "parameters": {}}, *job.workflow]
            )
            first_token = str(job.dispatch_token)
            assert runner.execute_job(job_id=job.pk, dispatch_token=first_token) == "retrying"
            job.refresh_from_db()
            assert (job.status, job.retry_count) == (JobStatus.QUEUED, 1)
            assert "broker blinked" in job.last_error and str(job.dispatch_token) != first_token
            assert job.dispatched_at is not None  # sent again, with a countdown
            assert runner.execute_job(job_id=job.pk, dispatch_token=first_token) == "stale"
            assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
        finally:
            del NODE_TYPES["test_flaky"]

    def test_transient_errors_past_the_retry_cap_fail_the_job(self, user, settings, submit):
        settings.JOB_MAX_RETRIES = 1

        @register_node("test_broken")
        class Broken(Node):
            def run(self, context):
                raise TimeoutError("storage timed out")

        try:
            job = submit(user)
            GenerationJob.objects.filter(pk=job.pk).update(workflow=[{"node_type": "test_broken", "parameters": {}}])
            runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token))
            job.refresh_from_db()
            runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token))
            job.refresh_from_db()
            assert job.status == JobStatus.FAILED and job.retry_count == 1
            assert "gave up after 1 retries" in job.last_error
        finally:
            del NODE_TYPES["test_broken"]

    def test_a_job_canceled_while_queued_is_never_run(self, user, submit):
        job = submit(user)
        services.cancel_job(job=job)
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "skipped"
        assert not job.images.exists()

    def test_cancel_during_the_run_stops_at_the_next_step(self, user, monkeypatch, submit):
        job = submit(user, steps=6, num_images=2)
        seen = []
        original = runner.ProgressReporter.on_step

        def on_step(reporter, step, total, latents):
            seen.append(step)
            if step == 2:
                services.cancel_job(job=GenerationJob.objects.get(pk=job.pk))
            original(reporter, step, total, latents)

        # A spy that cancels from "outside" at step 2 and then lets the real callback run.
        monkeypatch.setattr(runner.ProgressReporter, "on_step", on_step)
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "interrupted"
        job.refresh_from_db()
        assert seen == [1, 2] and job.status == JobStatus.CANCELED and not job.images.exists()

    def test_a_job_whose_path_is_not_supported_by_the_worker_fails_cleanly(self, user, submit):
        job = submit(user)
        GenerationJob.objects.filter(pk=job.pk).update(production_path="retired")
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "failed"
        assert "not supported" in GenerationJob.objects.get(pk=job.pk).last_error


def test_retry_backoff_doubles_from_five_seconds_with_jitter(settings):
    settings.JOB_RETRY_BACKOFF_BASE = 5.0
    for attempt, base in [(1, 5), (2, 10), (3, 20)]:
        delays = [runner.retry_backoff(attempt) for _ in range(50)]
        assert all(0.8 * base <= delay <= 1.2 * base for delay in delays)
        assert len(set(delays)) > 1


@pytest.mark.django_db(transaction=True)
def test_a_job_over_its_owners_running_limit_waits_instead_of_running(user, submit):
    from accounts.selectors import limits_for

    assert limits_for(user).max_running_jobs == 1
    first, second = submit(user), submit(user)
    first.transition(JobStatus.RUNNING, worker_id=worker.worker_identity(), heartbeat_at=timezone.now())
    with pytest.raises(runner.OwnerAtRunningLimit):
        runner.execute_job(job_id=second.pk, dispatch_token=str(second.dispatch_token))
    assert GenerationJob.objects.get(pk=second.pk).status == JobStatus.QUEUED
    first.transition(JobStatus.SUCCEEDED)
    assert runner.execute_job(job_id=second.pk, dispatch_token=str(second.dispatch_token)) == "succeeded"
