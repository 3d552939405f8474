"""The statistics page: numbers on a known data set, worked out by hand, and a query count that does not grow."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generation import worker
from generation.models import JobStatus
from generation.ops import admin_stats
from generation.services import dispatch_job

from ..factories import TemplateFactory, UserFactory, timed_job

pytestmark = pytest.mark.django_db

STATS = "/admin/generation/generationjob/stats/"
S, F, C, Q = JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.QUEUED
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont runs on PostgreSQL only")


@pytest.fixture(params=["database", "python"])
def engine(request, monkeypatch) -> str:
    """Each statistics test runs on both: the grouping in PostgreSQL and its pure-Python fallback."""
    if request.param == "database" and connection.vendor != "postgresql":
        pytest.skip("percentile_cont runs on PostgreSQL only")
    if request.param == "python":
        monkeypatch.setattr(admin_stats, "_grouped", admin_stats._grouped_python)
    return request.param


@pytest.fixture
def template(db):
    return TemplateFactory(name="Lookbook", slug="lookbook")


@pytest.fixture
def data_set(user, template):
    """Fashion: succeeded in 1, 2, 3, 4 and 10 s after waiting 0.5, 1, 1.5, 2 and 10 s (the first three with the
    Lookbook template), one failed after a 3 s wait, one canceled and one queued. Beauty: two 2-image jobs
    succeeded in 2 and 4 s after 1 s. One more fashion job from three days ago took 100 s."""
    for index, (wait, processing) in enumerate([(0.5, 1), (1, 2), (1.5, 3), (2, 4), (10, 10)]):
        timed_job(user, status=S, wait=wait, processing=processing, template=template if index < 3 else None)
    timed_job(user, status=F, wait=3, processing=5)
    timed_job(user, status=C)
    timed_job(user, status=Q)
    for processing in (2, 4):
        timed_job(user, status=S, wait=1, processing=processing, production_path="beauty", num_images=2)
    timed_job(user, status=S, wait=1, processing=100, created=timezone.now() - timedelta(days=3))


def last(hours=0, days=0):
    now = timezone.now()
    return now - timedelta(hours=hours, days=days), now


def by_label(groups):
    return {group.label: group for group in groups}


def test_percentile_interpolates_like_percentile_cont():
    assert admin_stats.percentile([1, 2, 3, 4, 10], 0.5) == 3
    assert admin_stats.percentile([1, 2, 3, 4, 10], 0.95) == pytest.approx(8.8)
    assert admin_stats.percentile([7], 0.95) == 7
    assert admin_stats.percentile([], 0.5) is None


def test_per_path_numbers_over_the_last_24_hours(data_set, engine):
    fashion, beauty = admin_stats.stats_by_path(*last(hours=24))
    assert (fashion.label, beauty.label) == ("Fashion", "Beauty")
    assert fashion.counts == {"queued": 1, "running": 0, "succeeded": 5, "failed": 1, "canceled": 1}
    assert fashion.success_rate == pytest.approx(5 / 6)
    assert (fashion.processing_p50, fashion.processing_p95) == (pytest.approx(3), pytest.approx(8.8))
    # Waits of every job that started: 0.5, 1, 1.5, 2, 3 (the failed one) and 10 s.
    assert (fashion.wait_p50, fashion.wait_p95) == (pytest.approx(1.75), pytest.approx(8.25))
    assert fashion.credits == 5
    assert (beauty.total, beauty.success_rate, beauty.credits) == (2, 1.0, 4)
    assert (beauty.processing_p50, beauty.processing_p95) == (pytest.approx(3), pytest.approx(3.9))


def test_per_template_numbers(data_set, engine):
    groups = admin_stats.stats_by_template(*last(hours=24))
    assert [group.label for group in groups] == ["Lookbook v1", "No template"]
    lookbook, rest = groups
    assert (lookbook.total, lookbook.success_rate, lookbook.credits) == (3, 1.0, 3)
    assert (lookbook.processing_p50, lookbook.processing_p95) == (pytest.approx(2), pytest.approx(2.9))
    assert (lookbook.wait_p50, lookbook.wait_p95) == (pytest.approx(1), pytest.approx(1.45))
    assert rest.total == 7 and rest.credits == 6


def test_a_longer_period_takes_in_older_jobs(data_set):
    fashion = by_label(admin_stats.stats_by_path(*last(days=7)))["Fashion"]
    assert fashion.counts["succeeded"] == 6
    assert fashion.processing_p50 == pytest.approx(3.5)


def test_the_page_shows_the_numbers_and_draws_the_charts(staff_client, data_set):
    response = staff_client.get(STATS)
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("83.3 %", "3.00 s", "8.80 s", "1.75 s", "8.25 s", "Lookbook v1", "No template"):
        assert text in body
    assert body.count("<svg") >= 8  # four charts per section
    assert 'aria-label="Jobs by status"' in body


def test_a_custom_period_counts_only_its_days(staff_client, data_set):
    day = (timezone.now() - timedelta(days=3)).date().isoformat()
    response = staff_client.get(STATS, {"period": "custom", "start": day, "end": day})
    (fashion,) = response.context["sections"][0]["groups"]
    assert (fashion.total, fashion.processing_p50) == (1, pytest.approx(100))


def test_a_custom_period_without_dates_says_so_and_falls_back_to_24_hours(staff_client, data_set):
    response = staff_client.get(STATS, {"period": "custom"})
    assert response.status_code == 200
    assert "needs a start and an end date" in response.content.decode()
    assert response.context["period_label"] == "Last 24 hours"


def test_an_empty_period_renders(staff_client):
    response = staff_client.get(STATS, {"period": "7d"})
    assert response.status_code == 200 and "No jobs in this period." in response.content.decode()


def test_queue_depths_and_workers_with_their_current_job(staff_client, user, broker):
    job = timed_job(user, status=Q)
    assert dispatch_job(job)
    client = broker
    worker._state["job"] = job.pk
    try:
        worker._beat_once(client)
        response = staff_client.get(STATS)
    finally:
        worker._state["job"] = None
        client.delete(worker.heartbeat_key())
    assert response.context["queue_depths"]["gen.fashion"] == 1
    assert response.context["queue_depths"]["default"] == 0
    (online,) = [w for w in response.context["workers"] if w.job_id == job.pk]
    assert reverse("admin:generation_generationjob_change", args=[job.pk]) in response.content.decode()
    assert online.heartbeat_age < 5


@on_postgres
def test_the_number_of_queries_does_not_grow_with_the_number_of_jobs(
    staff_client, data_set, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(STATS).status_code == 200
    owners = [UserFactory() for _ in range(3)]
    templates = [TemplateFactory() for _ in range(4)]
    for index in range(60):
        timed_job(
            owners[index % 3],
            status=[S, F, C][index % 3],
            wait=index % 7,
            processing=index % 5 + 1,
            production_path=["fashion", "eats", "cinema", "cartoon"][index % 4],
            template=templates[index % 4] if index % 5 else None,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff_client.get(STATS).status_code == 200
    assert len(few.captured_queries) <= 8


def test_the_jobs_list_links_to_the_statistics(staff_client):
    response = staff_client.get(reverse("admin:generation_generationjob_changelist"))
    assert f'href="{STATS}"' in response.content.decode()


def test_staff_without_permission_to_view_jobs_are_refused(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(STATS).status_code == 403


def test_the_page_renders_when_redis_is_down(staff_client, data_set, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = staff_client.get(STATS)
    assert response.status_code == 200
    body = response.content.decode()
    assert "queue depths are unknown" in body and "worker heartbeats are unknown" in body and "83.3 %" in body
