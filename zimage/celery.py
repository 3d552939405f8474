"""The Celery app. Tasks live in each app's tasks.py; per-path queues are declared here."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")

app = Celery("zimage")
app.config_from_object("django.conf:settings", namespace="CELERY")

PRODUCTION_PATH_QUEUES = ("fashion", "beauty", "eats", "cinema", "cartoon")
app.conf.task_queues = [Queue("default"), *(Queue(f"gen.{path}") for path in PRODUCTION_PATH_QUEUES)]
app.autodiscover_tasks()
