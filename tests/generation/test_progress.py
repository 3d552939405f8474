"""A running job's progress lives in Redis (generation.progress): each step is one Redis call, which is also the
heartbeat and the cancel check; the job's row is written at milestones; readers see the live step."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.redis_clients import shared_redis
from generation import events, progress, runner, selectors, services
from generation.models import GenerationJob, JobStatus
from generation.progress import Live

from ..factories import GenerationJobFactory

pytestmark = pytest.mark.django_db

WORKER = "test-host:1"


@pytest.fixture
def claimed(user) -> GenerationJob:
    """A job of 2 images x 3 steps, claimed by WORKER, whose claim recorded its live progress."""
    job = GenerationJobFactory(owner=user, running=True, steps=3, num_images=2, worker_id=WORKER)
    assert progress.started(job) is Live.OURS
    return job


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish", lambda job, event_type, **data: sent.append((event_type, data)))
    return sent


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The captured SQL without the savepoints that stand in for the milestone's own transaction in a test."""
    return [query["sql"] for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def live(job: GenerationJob) -> GenerationJob:
    fresh = GenerationJob.objects.get(pk=job.pk)
    progress.overlay([fresh])
    return fresh


def test_steps_are_recorded_in_redis_and_the_row_is_written_when_the_drawing_ends(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    with CaptureQueriesContext(connection) as queries:
        for step in range(1, 6):
            reporter.on_step(step, 6, None)
    assert len(queries) == 0, [query["sql"] for query in queries]
    assert GenerationJob.objects.get(pk=claimed.pk).progress_step == 0  # the row: the claim's milestone
    assert (live(claimed).progress_step, live(claimed).percent) == (5, 83)  # readers: the live step

    reporter.on_step(6, 6, None)  # the last step: a free worker's claim counts jobs by their row
    assert GenerationJob.objects.get(pk=claimed.pk).progress_step == 6


def test_the_row_gets_a_heartbeat_only_every_few_seconds(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    reporter.on_step(1, 6, None)
    before = GenerationJob.objects.get(pk=claimed.pk).heartbeat_at
    reporter.last_db_beat -= progress.db_heartbeat_every()  # the interval has passed
    with CaptureQueriesContext(connection) as queries:
        reporter.on_step(2, 6, None)
        reporter.on_step(3, 6, None)
    written = statements(queries)
    # One UPDATE, in a transaction whose COMMIT does not wait for the disk (a lost heartbeat is the one before it).
    assert len(written) == 2 and written[0] == "SET LOCAL synchronous_commit TO OFF", written
    assert written[1].startswith("UPDATE")
    row = GenerationJob.objects.get(pk=claimed.pk)
    assert row.heartbeat_at > before and row.progress_step == 2


def test_progress_events_go_out_at_most_every_half_second_and_at_each_images_last_step(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    for step in range(1, 7):
        reporter.on_step(step, 6, None)
    # The first step at once, then only the ends of image 1 and image 2 (the steps come faster than 0.5 s).
    assert [data["step"] for _, data in published] == [1, 3, 6]


@pytest.mark.django_db(transaction=True)
def test_a_cancel_stops_the_worker_at_its_next_step_without_a_query(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    reporter.on_step(1, 6, None)
    services.cancel_job(job=GenerationJob.objects.get(pk=claimed.pk))
    with CaptureQueriesContext(connection) as queries, pytest.raises(runner.JobInterrupted):
        reporter.on_step(2, 6, None)
    assert len(queries) == 0


@pytest.mark.django_db(transaction=True)
def test_a_job_taken_back_by_the_reaper_stops_its_old_run_and_the_new_claim_owns_it(claimed, published):
    old = runner.ProgressReporter(claimed, WORKER)
    old.on_step(1, 6, None)
    assert runner.requeue_or_fail(GenerationJob.objects.get(pk=claimed.pk), "stopped responding", redispatch=False)
    with pytest.raises(runner.JobInterrupted):
        old.on_step(2, 6, None)

    job = GenerationJob.objects.get(pk=claimed.pk)
    assert job.transition(JobStatus.RUNNING, worker_id="other-host:2", deliveries=2, progress_step=0)
    assert progress.started(job) is Live.OURS
    runner.ProgressReporter(job, "other-host:2").on_step(1, 6, None)
    with pytest.raises(runner.JobInterrupted):  # the old run stays stopped, whatever the new one records
        old.on_step(2, 6, None)
    assert live(job).progress_step == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_recorded_after_a_cancel_is_refused(claimed):
    services.cancel_job(job=GenerationJob.objects.get(pk=claimed.pk))
    assert progress.started(claimed) is Live.STOPPED


def test_without_a_live_record_the_row_decides_and_the_record_is_made_again(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    reporter.on_step(1, 6, None)
    shared_redis().delete(progress.live_key(claimed.pk))  # expired, or Redis restarted empty
    with CaptureQueriesContext(connection) as queries:
        reporter.on_step(2, 6, None)
    assert [sql.split()[0] for sql in statements(queries)] == ["SET", "UPDATE"]  # the conditional UPDATE: ours
    assert GenerationJob.objects.get(pk=claimed.pk).progress_step == 2
    with CaptureQueriesContext(connection) as queries:
        reporter.on_step(3, 6, None)
    assert len(queries) == 0 and live(claimed).progress_step == 3


def test_without_a_live_record_a_job_no_longer_ours_stops(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    shared_redis().delete(progress.live_key(claimed.pk))
    GenerationJob.objects.filter(pk=claimed.pk).update(status=JobStatus.CANCELED)  # and Redis never heard
    with pytest.raises(runner.JobInterrupted):
        reporter.on_step(1, 6, None)


def test_with_redis_unreachable_every_step_writes_the_row(claimed, published, settings, monkeypatch):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setattr(progress, "_redis_down_until", 0.0)
    reporter = runner.ProgressReporter(claimed, WORKER)
    for step in (1, 2):
        reporter.on_step(step, 6, None)
        assert GenerationJob.objects.get(pk=claimed.pk).progress_step == step
    assert live(claimed).progress_step == 2  # readers fall back to the row
    monkeypatch.setattr(progress, "_redis_down_until", 0.0)  # the next test's Redis is up


def test_after_its_worker_died_a_job_shows_its_last_live_step_then_its_rows(claimed, published):
    reporter = runner.ProgressReporter(claimed, WORKER)
    for step in range(1, 5):
        reporter.on_step(step, 6, None)
    # The worker is gone: nothing writes any more. Its record outlives it by progress.ttl() seconds...
    assert live(claimed).progress_step == 4
    assert 0 < shared_redis().ttl(progress.live_key(claimed.pk)) <= progress.ttl()
    shared_redis().delete(progress.live_key(claimed.pk))  # ...then readers see the row's last milestone
    assert live(claimed).progress_step == 0


def test_a_record_of_another_run_is_not_shown(claimed):
    assert progress.beat(claimed.pk, progress.run_name(claimed), 4, 6) is Live.OURS
    GenerationJob.objects.filter(pk=claimed.pk).update(deliveries=2, worker_id="other-host:2")
    assert live(claimed).progress_step == 0


def test_the_snapshot_and_the_api_read_the_live_step(claimed, published, user, api_client):
    runner.ProgressReporter(claimed, WORKER).on_step(4, 6, None)
    (snapshot,) = [entry for entry in selectors.job_snapshot(user) if entry["job"] == claimed.pk]
    assert (snapshot["step"], snapshot["total"], snapshot["percent"]) == (4, 6, 67)
    body = api_client.get(f"/api/v1/jobs/{claimed.pk}").json()
    assert (body["progress_step"], body["percent"]) == (4, 67)
    listed = api_client.get("/api/v1/jobs").json()["results"]
    assert [job["progress_step"] for job in listed if job["id"] == claimed.pk] == [4]


def test_the_job_pages_show_the_live_step(claimed, published, user, client):
    runner.ProgressReporter(claimed, WORKER).on_step(4, 6, None)
    client.force_login(user)
    page = client.get(f"/jobs/{claimed.pk}/").content.decode()
    assert "Step 4 of 6" in page and 'value="67"' in page
    assert 'value="67"' in client.get("/jobs/").content.decode()


def test_a_claim_of_the_messages_own_job_reads_it_once(user, submit):
    job = submit(user)
    with CaptureQueriesContext(connection) as queries:
        started = runner.claim_for_message(job_id=job.pk, dispatch_token=str(job.dispatch_token), worker_id=WORKER)
    assert isinstance(started, GenerationJob) and started.status == JobStatus.RUNNING
    # Read once, with what the run needs: no second lookup of which job holds the message's token.
    own_reads = [
        query["sql"]
        for query in queries
        if query["sql"].startswith("SELECT")
        and "FOR UPDATE" not in query["sql"]
        and f'"generation_generationjob"."id" = {job.pk}' in query["sql"]
    ]
    assert len(own_reads) == 1, own_reads
    assert GenerationJob.objects.get(pk=job.pk).worker_id == WORKER
