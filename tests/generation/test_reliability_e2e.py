"""The GPU-worker promises, against real worker processes: no job stuck, lost, or run twice.

The tests that start workers of their own come first; the last ones share the module's worker (one model load),
which, once started, would also take jobs from the shared broker.
"""

import os
import signal
import time

import pytest
from django_celery_results.models import TaskResult

from generation import runner
from generation.models import GenerationJob, JobStatus
from generation.tasks import run_generation_job

from ..waiting import job_when, wait_until

pytestmark = pytest.mark.e2e

LONG_JOB = {
    "prompt": "a long run",
    "production_path": "fashion",
    "width": 512,
    "height": 512,
    "steps": 30,
    "num_images": 2,
    "seed": 11,
}
FINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}


def assert_each_image_stored_once(job):
    assert sorted(job.images.values_list("index", flat=True)) == list(range(job.num_images))


def test_a_worker_killed_whole_is_reaped_and_its_job_finishes_on_another(
    start_worker, api_client, settings, submit_api
):
    first = start_worker()
    job_id = submit_api(api_client, **LONG_JOB)["id"]
    job_when(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress_step >= 3)
    first.kill()
    assert GenerationJob.objects.get(pk=job_id).status == JobStatus.RUNNING  # nobody else knows yet

    settings.JOB_HEARTBEAT_TIMEOUT = 1
    time.sleep(1.5)
    assert runner.reap_stale_jobs() == 1
    job = GenerationJob.objects.get(pk=job_id)
    assert (job.status, job.retry_count) == (JobStatus.QUEUED, 1)

    start_worker()
    job = job_when(job_id, lambda j: j.status in FINAL)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert_each_image_stored_once(job)


def test_broker_down_at_submit_answers_202_and_the_job_runs_once_it_is_back(private_broker, start_worker, api_client):
    private_broker.stop()
    response = api_client.post("/api/v1/jobs", LONG_JOB | {"width": 256, "height": 256, "steps": 3}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and "unreachable" in body["warning"]
    assert GenerationJob.objects.get(pk=body["id"]).dispatched_at is None

    private_broker.start()
    start_worker(CELERY_BROKER_URL=private_broker.url)
    assert runner.redispatch_queued_jobs(older_than=0) == 1
    job = job_when(body["id"], lambda j: j.status in FINAL)
    assert job.status == JobStatus.SUCCEEDED and job.deliveries == 1


def test_the_first_submit_after_a_broker_restart_is_dispatched(private_broker, transactional_db, api_client):
    small = LONG_JOB | {"width": 256, "height": 256, "steps": 3}
    before = api_client.post("/api/v1/jobs", small, format="json").json()
    assert "warning" not in before  # this process now holds a connection to the broker in its pool

    private_broker.stop()  # the broker restarts: every connection it had is closed, the pooled one too
    private_broker.start()
    response = api_client.post("/api/v1/jobs", small | {"seed": 12}, format="json")
    assert response.status_code == 202
    assert "warning" not in response.json()
    assert GenerationJob.objects.get(pk=response.json()["id"]).dispatched_at is not None


def test_killing_the_pool_process_mid_job_retries_it_to_success(
    module_worker, transactional_db, api_client, submit_api
):
    job_id = submit_api(api_client, **LONG_JOB)["id"]
    job = job_when(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress_step >= 3)
    (child,) = module_worker.pool_pids()
    os.kill(child, signal.SIGKILL)
    job = job_when(job_id, lambda j: j.status in FINAL)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert (job.retry_count, job.deliveries) == (1, 2)
    assert_each_image_stored_once(job)


def test_a_task_delivered_twice_runs_once(module_worker, transactional_db, api_client, submit_api):
    body = submit_api(api_client, **(LONG_JOB | {"width": 256, "height": 256, "steps": 4}))
    job = GenerationJob.objects.get(pk=body["id"])
    duplicate = run_generation_job.apply_async(args=(job.pk, str(job.dispatch_token)), queue="gen.fashion")
    wait_until(
        lambda: TaskResult.objects.filter(task_id=duplicate.id, status="SUCCESS").exists(),
        message="the duplicate delivery",
    )
    job = job_when(job.pk, lambda j: j.status in FINAL)
    assert job.status == JobStatus.SUCCEEDED
    assert job.deliveries == 1
    # The delivery that ran the job returned "drawn", which writes no result row (the job's row is its outcome);
    # the other found nothing to do, and that is recorded.
    results = TaskResult.objects.filter(task_id__in=[duplicate.id, job.celery_task_id]).values_list("result", flat=True)
    assert list(results) == ['"skipped"']
    assert_each_image_stored_once(job)


def test_cancelling_a_running_job_stops_the_worker_at_its_next_step(
    module_worker, transactional_db, api_client, submit_api
):
    job_id = submit_api(api_client, **LONG_JOB)["id"]
    job_when(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress_step >= 2)
    response = api_client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    job = GenerationJob.objects.get(pk=job_id)
    wait_until(
        lambda: TaskResult.objects.filter(task_id=job.celery_task_id, status="SUCCESS").exists(),
        message="the worker to notice the cancel",
    )
    assert TaskResult.objects.get(task_id=job.celery_task_id).result == '"interrupted"'
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.progress_step < job.progress_total and job.images.count() < job.num_images
