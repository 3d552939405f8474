"""Idempotency that survives a crash: a web process killed while its request's transaction is open (the job
row written, the response not yet) leaves no job, no reserved credit and no claimed key, and the client's retry
with the same key makes exactly one job.

The kill point is reached deterministically without a hook in the code: the test holds the user's row lock
(FOR NO KEY UPDATE, which a job's foreign key does not need), so the request inserts its key record and its
job, then waits on that lock when it reserves the credits; the test sees it waiting with both rows written in
its transaction (pg_locks), SIGKILLs the gunicorn worker, and only then lets the lock go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import httpx
import psycopg
import pytest
from django.db import connection

from accounts.models import CreditEntry, IdempotencyRecord
from accounts.services import create_api_key
from generation.models import GenerationJob

from ..factories import JOB_REQUEST, UserFactory
from ..processes import CHILD_APPLICATION_NAME, GunicornProcess
from ..waiting import wait_until

pytestmark = pytest.mark.e2e

BLOCKED_WITH_ROWS_WRITTEN = """
SELECT a.pid FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.application_name = %s AND a.wait_event_type = 'Lock'
  AND a.query LIKE 'UPDATE "accounts_user"%%'
  AND (SELECT count(DISTINCT c.relname) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
       WHERE l.pid = a.pid AND l.mode = 'RowExclusiveLock'
         AND c.relname IN ('generation_generationjob', 'accounts_idempotencyrecord')) = 2
"""


def raw_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"] or "postgres")


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] > 0


def worker_pids(server: GunicornProcess) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def worker_pid(server: GunicornProcess) -> int:
    pids = worker_pids(server)
    assert len(pids) == 1, pids
    return pids[0]


@pytest.fixture
def gunicorn(transactional_db, broker):
    server = GunicornProcess(workers=1).ready()
    yield server
    server.stop()


def test_a_web_process_killed_mid_request_leaves_nothing_and_the_retry_makes_one_job(gunicorn):
    user = UserFactory(credits=10)
    _, api_key = create_api_key(user=user, name="crash test")
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "order-7"}
    body = JOB_REQUEST | {"num_images": 2}
    first_worker = worker_pid(gunicorn)

    holder = raw_connection()  # a transaction of its own: BEGIN is implicit (autocommit off)
    holder.execute("SELECT id FROM accounts_user WHERE id = %s FOR NO KEY UPDATE", [user.pk])
    outcome: list[object] = []

    def send():
        try:
            outcome.append(httpx.post(f"{gunicorn.url}/api/v1/jobs", json=body, headers=headers, timeout=60))
        except httpx.HTTPError as error:  # the server died under the request
            outcome.append(error)

    request = threading.Thread(target=send)
    request.start()
    try:
        with connection.cursor() as cursor:

            def blocked_backend():
                cursor.execute(BLOCKED_WITH_ROWS_WRITTEN, [CHILD_APPLICATION_NAME])
                row = cursor.fetchone()
                return row[0] if row else None

            backend = wait_until(blocked_backend, timeout=30, message="the request to block after writing its job")
        os.kill(first_worker, signal.SIGKILL)
        request.join(60)
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: not backend_alive(backend), timeout=30, message="the killed request's database session")

    assert isinstance(outcome[0], httpx.HTTPError)
    assert not GenerationJob.objects.filter(owner=user).exists()
    assert not IdempotencyRecord.objects.filter(user=user).exists()
    assert not CreditEntry.objects.filter(user=user, kind="reservation").exists()
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (10, 0)

    # Between the kill and the replacement gunicorn has no worker at all: wait for exactly one new one.
    wait_until(
        lambda: len(pids := worker_pids(gunicorn)) == 1 and pids != [first_worker],
        timeout=30,
        message="gunicorn's new worker",
    )
    retry = httpx.post(f"{gunicorn.url}/api/v1/jobs", json=body, headers=headers, timeout=60)
    again = httpx.post(f"{gunicorn.url}/api/v1/jobs", json=body, headers=headers, timeout=60)
    assert retry.status_code == again.status_code == 202, retry.text
    assert "Idempotent-Replayed" not in retry.headers and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == retry.json()["id"]
    assert list(GenerationJob.objects.filter(owner=user).values_list("pk", flat=True)) == [retry.json()["id"]]
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (8, 2)
