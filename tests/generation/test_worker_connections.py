"""A worker's database session outlives its task (generation.worker.keep_database_connections): Celery's Django
fixup would close it before and after every task, so each job paid a new PostgreSQL session on its claim's path.
The real fixup is installed here as a worker installs it, and the task signals are the real ones."""

from __future__ import annotations

import psycopg
import pytest
from celery.fixups.django import DjangoFixup
from celery.signals import beat_embedded_init, task_postrun, task_prerun
from django.db import connection

from generation import worker
from generation.tasks import run_generation_job as run_job
from zimage.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_fixup():
    """Celery's Django worker fixup, installed on this process's task signals as a worker's start installs it."""
    fixup = next(fixup for fixup in app._fixups if isinstance(fixup, DjangoFixup)).worker_fixup
    fixup.install()
    yield fixup
    task_prerun.disconnect(fixup.on_task_prerun)
    task_postrun.disconnect(fixup.on_task_postrun)
    beat_embedded_init.disconnect(fixup.close_database)


def run_a_task_boundary() -> None:
    """What a worker sends around each task it runs."""
    task_prerun.send(sender=run_job, task_id="t", task=run_job, args=(1, "token"), kwargs={})
    task_postrun.send(sender=run_job, task_id="t", task=run_job, args=(1, "token"), kwargs={}, retval=None)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_celerys_fixup_alone_closes_the_session_at_every_task(worker_fixup):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sessions")
    first = backend_pid()
    run_a_task_boundary()
    assert connection.connection is None
    assert backend_pid() != first


def test_the_worker_keeps_one_session_across_tasks(worker_fixup, settings):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sessions")
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0
    worker.keep_database_connections()
    first = backend_pid()
    for _ in range(3):
        run_a_task_boundary()
        assert backend_pid() == first


def test_a_broken_session_is_replaced_before_the_next_task(worker_fixup):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sessions")
    worker.keep_database_connections()
    first = backend_pid()
    params = {key: value for key, value in connection.get_connection_params().items() if key != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [first])
    run_a_task_boundary()  # the health check before the task's first query finds it gone
    assert backend_pid() != first


def test_a_session_past_conn_max_age_is_closed_at_the_next_task(worker_fixup, settings):
    worker.keep_database_connections()
    connection.ensure_connection()
    connection.close_at = 0  # as if CONN_MAX_AGE ran out
    run_a_task_boundary()
    assert connection.connection is None
