import pytest

from generation.models import GenerationJob, IllegalTransition, JobStatus

from ..factories import GenerationJobFactory


@pytest.mark.django_db
def test_a_job_moves_queued_running_succeeded_and_records_each_timestamp():
    job = GenerationJobFactory()
    assert job.transition(JobStatus.RUNNING)
    assert job.transition(JobStatus.SUCCEEDED)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "target"),
    [
        (JobStatus.QUEUED, JobStatus.SUCCEEDED),
        (JobStatus.SUCCEEDED, JobStatus.RUNNING),
        (JobStatus.FAILED, JobStatus.QUEUED),
        (JobStatus.CANCELED, JobStatus.RUNNING),
    ],
)
def test_illegal_transitions_are_refused(start, target):
    job = GenerationJobFactory(status=start)
    with pytest.raises(IllegalTransition):
        job.transition(target)


@pytest.mark.django_db
def test_only_one_of_two_racing_claims_wins():
    job = GenerationJobFactory()
    first, second = GenerationJob.objects.get(pk=job.pk), GenerationJob.objects.get(pk=job.pk)
    assert first.transition(JobStatus.RUNNING, worker_id="a:1")
    assert not second.transition(JobStatus.RUNNING, worker_id="b:2")
    job.refresh_from_db()
    assert job.worker_id == "a:1"


@pytest.mark.django_db
def test_a_database_constraint_keeps_num_images_between_one_and_four():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationJobFactory(num_images=5)
