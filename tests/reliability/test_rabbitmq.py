"""RabbitMQ as the broker: what it promises beyond Redis, against the real server on loopback.

These run when the suite runs with CELERY_BROKER_URL=amqp://... (.ci/run's second pass, in a vhost of its own);
the broker-agnostic reliability tests beside them run on both brokers.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from kombu import Connection, Queue

from core.brokers import uses_rabbitmq
from generation.engine.paths import QUEUE_NAMES
from generation.models import GenerationJob
from generation.ops.monitoring import queue_depths
from zimage.celery import app as celery_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not uses_rabbitmq(settings.CELERY_BROKER_URL),
        reason="needs CELERY_BROKER_URL=amqp://... (the RabbitMQ pass of .ci/run)",
    ),
]


def test_every_job_queue_is_a_quorum_queue_with_the_delivery_limit():
    assert queue_depths() is not None  # declares the queues as the app does
    declared = {queue.name: queue.queue_arguments for queue in celery_app.conf.task_queues}
    expected = {"x-queue-type": "quorum", "x-delivery-limit": settings.BROKER_DELIVERY_LIMIT}
    assert declared == dict.fromkeys(QUEUE_NAMES, expected)
    assert settings.BROKER_DELIVERY_LIMIT > settings.JOB_MAX_DELIVERIES, "the job's own cap must act first"
    with Connection(settings.CELERY_BROKER_URL) as connection:
        for name in QUEUE_NAMES:
            # The server holds the queue as declared: redeclaring it as a classic queue is refused.
            with pytest.raises(connection.channel_errors, match="PRECONDITION_FAILED"):
                Queue(name, queue_arguments={"x-queue-type": "classic"})(connection.channel()).declare()


def test_publisher_confirms_are_on():
    assert celery_app.conf.broker_transport_options["confirm_publish"] is True
    assert "visibility_timeout" not in celery_app.conf.broker_transport_options


def test_the_queue_depth_counts_messages_waiting_on_rabbitmq(user, submit, django_capture_on_commit_callbacks):
    before = queue_depths()
    assert before is not None
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(user, production_path="fashion")
    after = queue_depths()
    assert after is not None and after["gen.fashion"] == before["gen.fashion"] + 1
    with Connection(settings.CELERY_BROKER_URL) as connection:  # leave no message for the next test's worker
        Queue("gen.fashion", queue_arguments={"x-queue-type": "quorum"})(connection.channel()).purge()
    assert GenerationJob.objects.get(pk=job.pk).dispatched_at is not None
