"""The Celery app. Tasks live in each app's tasks.py; per-path queues are declared here."""

import os

from celery import Celery
from kombu import Queue

from generation.engine.paths import DEFAULT_QUEUE, QUEUE_NAMES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")

app = Celery("zimage")
app.config_from_object("django.conf:settings", namespace="CELERY")

# The default queue (beat's sweepers) and one queue per production path, from the one table of paths.
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.task_queues = [Queue(name) for name in QUEUE_NAMES]
app.autodiscover_tasks()
