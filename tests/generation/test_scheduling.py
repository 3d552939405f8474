"""Fair scheduling between owners (generation.scheduling, issue #19): which queued job a claim starts, against
PostgreSQL. Each claim goes through the runner's real claim for one message; the claimed job then ends at once so
only the order is under test (the pipeline runs in the end-to-end test)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from generation import runner, scheduling
from generation.models import GenerationJob, JobStatus
from tests.factories import GenerationJobFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = timezone.now() - timedelta(hours=1)


def queue(owner, count: int, *, after: int = 0) -> list[GenerationJob]:
    """`count` queued jobs of `owner`, created one second apart starting `after` seconds past BASE."""
    return [
        GenerationJobFactory(owner=owner, created_at=BASE + timedelta(seconds=after + index)) for index in range(count)
    ]


def message_of_newest() -> GenerationJob:
    """A message to claim with: the newest queued job's, so the message's own job is rarely the one started."""
    return GenerationJob.objects.filter(status=JobStatus.QUEUED).order_by("-created_at", "-pk").first()


def start_next(*, finish: bool = True) -> GenerationJob:
    """One worker's claim for one message; the started job then ends (succeeded) unless `finish=False`."""
    message = message_of_newest()
    started = runner.claim_for_message(job_id=message.pk, dispatch_token=str(message.dispatch_token), worker_id="w:1")
    assert isinstance(started, GenerationJob), started
    if finish:
        GenerationJob.objects.filter(pk=started.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    return started


def owners_of(jobs: list[GenerationJob]) -> list[int]:
    return [job.owner_id for job in jobs]


def test_after_a_queues_fifty_and_b_one_bs_job_is_among_the_next_two_started(set_tier):
    a, b = UserFactory(tier="enterprise"), UserFactory(tier="enterprise")
    queue(a, 50)
    (b_job,) = queue(b, 1, after=60)

    assert b_job.pk in [start_next().pk, start_next().pk]


def test_after_a_long_run_of_as_jobs_a_newcomers_job_is_among_the_next_two_started():
    a, b = UserFactory(tier="enterprise"), UserFactory(tier="enterprise")
    queue(a, 50)
    for _ in range(20):
        start_next()
    (b_job,) = queue(b, 1, after=60)

    assert b_job.pk in [start_next().pk, start_next().pk]


def test_a_free_and_an_enterprise_owner_interleave_one_to_four():
    free, enterprise = UserFactory(tier="free"), UserFactory(tier="enterprise")
    queue(free, 10)
    queue(enterprise, 20, after=20)

    started = owners_of([start_next() for _ in range(15)])

    assert started == [free.pk, *[enterprise.pk] * 4] * 3


def test_a_newcomer_after_a_long_run_gets_no_more_than_its_weight_of_turns_in_a_row():
    free, enterprise = UserFactory(tier="free"), UserFactory(tier="enterprise")
    queue(free, 40)
    for _ in range(20):
        start_next()
    queue(enterprise, 12, after=60)

    started = owners_of([start_next() for _ in range(15)])

    assert started == [*[enterprise.pk] * 4, free.pk] * 3  # its weight (4) of turns, then the free owner's


def test_owners_take_turns(set_tier):
    a, b = UserFactory(), UserFactory()
    queue(a, 4)
    queue(b, 4, after=10)

    assert owners_of([start_next() for _ in range(8)]) == [a.pk, b.pk] * 4


def test_a_pro_owner_gets_twice_the_turns_of_a_free_owner():
    pro, free = UserFactory(tier="pro"), UserFactory(tier="free")
    queue(pro, 12)
    queue(free, 12, after=20)

    started = owners_of([start_next() for _ in range(12)])

    assert (started.count(pro.pk), started.count(free.pk)) == (8, 4)
    assert started[:3].count(pro.pk) == 2  # interleaved in every round, not eight then four


def test_an_enterprise_owner_gets_four_turns_to_a_free_owners_one():
    enterprise, free = UserFactory(tier="enterprise"), UserFactory(tier="free")
    queue(enterprise, 10)
    queue(free, 10, after=20)

    started = owners_of([start_next() for _ in range(10)])

    assert (started.count(enterprise.pk), started.count(free.pk)) == (8, 2)


def test_an_owners_jobs_start_oldest_first():
    a, b = UserFactory(), UserFactory()
    a_jobs = queue(a, 3)
    queue(b, 3, after=1)

    started = [job.pk for job in (start_next() for _ in range(6)) if job.owner_id == a.pk]

    assert started == [job.pk for job in a_jobs]


def test_an_owner_at_its_running_limit_is_passed_over_for_others():
    a, b = UserFactory(tier="free"), UserFactory(tier="free")  # free runs one job at a time
    queue(a, 3)
    (b_job,) = queue(b, 1, after=10)

    first = start_next(finish=False)  # a's first job, still drawing
    second = start_next(finish=False)

    assert first.owner_id == a.pk and second.pk == b_job.pk


def test_when_every_queued_owner_is_at_its_limit_the_claim_waits():
    a = UserFactory(tier="free")
    queue(a, 2)
    start_next(finish=False)

    message = message_of_newest()
    with pytest.raises(runner.OwnerAtRunningLimit):
        runner.claim_for_message(job_id=message.pk, dispatch_token=str(message.dispatch_token), worker_id="w:1")
    assert GenerationJob.objects.filter(status=JobStatus.QUEUED).count() == 1


def test_the_message_a_claim_used_for_another_job_is_handed_to_its_own_job():
    a, b = UserFactory(), UserFactory()
    (a_job,) = queue(a, 1)
    (b_job,) = queue(b, 1, after=10)
    a_token, b_token = a_job.dispatch_token, b_job.dispatch_token

    started = runner.claim_for_message(job_id=b_job.pk, dispatch_token=str(b_token), worker_id="w:1")

    a_job.refresh_from_db()
    b_job.refresh_from_db()
    assert started.pk == a_job.pk and a_job.status == JobStatus.RUNNING
    assert (a_job.dispatch_token, b_job.dispatch_token) == (b_token, a_token)  # b waits on a's message
    assert runner.claim_for_message(job_id=a_job.pk, dispatch_token=str(a_token), worker_id="w:2").pk == b_job.pk


def test_a_redelivered_message_takes_back_the_job_its_dead_worker_ran():
    a, b = UserFactory(), UserFactory()
    (a_job,) = queue(a, 1)
    (b_job,) = queue(b, 1, after=10)
    a_token, b_token = a_job.dispatch_token, str(b_job.dispatch_token)
    runner.claim_for_message(job_id=b_job.pk, dispatch_token=b_token, worker_id="ghost-host:1")  # starts a's job
    GenerationJob.objects.filter(pk=a_job.pk).update(heartbeat_at=None)  # its worker died without a heartbeat

    again = runner.claim_for_message(job_id=b_job.pk, dispatch_token=b_token, worker_id="w:2")

    a_job.refresh_from_db()
    assert (a_job.status, a_job.retry_count) == (JobStatus.QUEUED, 1)  # taken back, counted as a retry
    assert again.pk == b_job.pk  # a had its turn: b is the fair next
    assert a_job.dispatch_token == a_token  # and a waits on its own message, still on the queue


def test_queue_positions_predict_the_start_order():
    pro, free, other = UserFactory(tier="pro"), UserFactory(tier="free"), UserFactory(tier="free")
    queue(free, 4)
    queue(pro, 5, after=2)
    queue(other, 3, after=5)

    positions = {pk: place.position for pk, place in scheduling.standings("fashion").items()}
    predicted = sorted(positions, key=positions.get)
    started = [start_next().pk for _ in range(len(predicted))]

    assert started == predicted
    assert sorted(positions.values()) == list(range(12))


def test_a_queued_jobs_position_counts_the_jobs_that_start_before_it():
    a, b = UserFactory(), UserFactory()
    a_jobs = queue(a, 3)
    (b_job,) = queue(b, 1, after=10)

    assert [scheduling.standing(job).position for job in [*a_jobs, b_job]] == [0, 2, 3, 1]
    started = start_next(finish=False)
    assert scheduling.standing(started) is None
    assert scheduling.standing(b_job).estimated_start_seconds > 0


@pytest.mark.django_db(transaction=True)
def test_two_claimers_at_once_never_take_the_same_job():
    owners = [UserFactory(tier="enterprise") for _ in range(3)]
    jobs = [job for index, owner in enumerate(owners) for job in queue(owner, 10, after=index)]
    messages = [(job.pk, str(job.dispatch_token)) for job in jobs]
    claimed: list[int] = []
    barrier = threading.Barrier(2)

    def claimer(name: str, mine: list[tuple[int, str]]) -> None:
        try:
            barrier.wait()
            for job_id, token in mine:
                started = runner.claim_for_message(job_id=job_id, dispatch_token=token, worker_id=name)
                if isinstance(started, GenerationJob):
                    claimed.append(started.pk)
                    GenerationJob.objects.filter(pk=started.pk).update(status=JobStatus.SUCCEEDED)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(f"w:{n}", messages[n::2])) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(claimed) == sorted(job.pk for job in jobs)  # each message started one job, no job twice
    tokens = GenerationJob.objects.values_list("dispatch_token", flat=True)
    assert len(set(tokens)) == len(jobs)  # every token still held by exactly one job


def test_the_standings_of_a_whole_queue_are_each_jobs_own():
    pro, free = UserFactory(tier="pro"), UserFactory(tier="free")
    jobs = [*queue(free, 3), *queue(pro, 4, after=2)]
    GenerationJobFactory(owner=free, running=True)

    together = scheduling.standings("fashion", first=len(jobs))

    assert together == {job.pk: scheduling.standing(job) for job in jobs}
    assert sorted(place.position for place in together.values()) == list(range(len(jobs)))
    waits = [place.estimated_start_seconds for place in sorted(together.values(), key=lambda place: place.position)]
    assert waits == sorted(waits) and waits[0] > 0  # the running job's rest comes first


def test_a_standing_reads_the_queue_in_two_queries(django_assert_num_queries):
    a, b = UserFactory(), UserFactory()
    queue(a, 5)
    (b_job,) = queue(b, 1, after=10)
    GenerationJobFactory(owner=a, running=True)
    scheduling._alive_workers()  # the heartbeats are read from Redis, at most every few seconds
    scheduling.tier_limits(a.tier)  # and the plan once per process, every 30 s

    with django_assert_num_queries(2):  # the queue with its passes, then the running jobs and those ahead
        place = scheduling.standing(b_job)

    assert place is not None and place.position == 1


def test_a_paths_turn_commits_without_waiting_for_the_disk_and_nothing_else_does():
    """A claim's COMMIT is asynchronous (a database crash can lose it, leaving its job queued for the sweeper);
    every other transaction keeps PostgreSQL's synchronous commit."""
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    assert synchronous_commit() == "on"
    with scheduling.path_turn("fashion"):
        assert synchronous_commit() == "off"
