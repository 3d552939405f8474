"""The Celery app. Tasks live in each app's tasks.py; per-path queues are declared here."""

import os

from celery import Celery
from django.conf import settings
from kombu import Queue

from core.brokers import uses_rabbitmq
from generation.engine.paths import DEFAULT_QUEUE, QUEUE_NAMES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")

app = Celery("zimage")
app.config_from_object("django.conf:settings", namespace="CELERY")


def job_queues(broker_url: str | None) -> list[Queue]:
    """The default queue (beat's sweepers) and one queue per production path, from the one table of paths.

    On RabbitMQ each is a quorum queue (replicated, acknowledged per message, with a delivery limit);
    on Redis a plain kombu list."""
    if not uses_rabbitmq(broker_url):
        return [Queue(name) for name in QUEUE_NAMES]
    arguments = {"x-queue-type": "quorum", "x-delivery-limit": settings.BROKER_DELIVERY_LIMIT}
    return [Queue(name, queue_arguments=arguments, durable=True) for name in QUEUE_NAMES]


@app.on_after_configure.connect(weak=False)
def declare_queues(sender: Celery, **kwargs: object) -> None:
    """Once Django's settings are read (not at import: settings import this module): the queues, and on
    RabbitMQ quorum queues, per-consumer prefetch and publisher confirms."""
    conf = sender.conf
    conf.task_default_queue = DEFAULT_QUEUE
    conf.task_queues = job_queues(conf.broker_url)
    if uses_rabbitmq(conf.broker_url):
        # Quorum queues have no global QoS: prefetch stays per consumer (worker_prefetch_multiplier=1).
        conf.task_default_queue_type = "quorum"
        conf.worker_detect_quorum_queues = True
        # Publisher confirms: apply_async returns only once the broker has stored the message, so a send
        # cannot vanish in a broker crash (the job would then wait for the redispatch sweeper).
        options = {key: value for key, value in conf.broker_transport_options.items() if key != "visibility_timeout"}
        conf.broker_transport_options = options | {"confirm_publish": True}


app.autodiscover_tasks()
