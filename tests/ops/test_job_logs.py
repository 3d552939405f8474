"""Structured logs: every line logged during a job's life carries its job id, user id, path, model and the id of
the request that submitted it."""

import io
import json
import logging
import logging.config
import time

import pytest
from django.conf import settings

from generation import runner
from generation.engine.workflow import NODE_TYPES, Node, register_node
from generation.models import GenerationJob, JobStatus
from tests.conftest import client_for
from tests.factories import JOB_REQUEST

JOB_FIELDS = ("job_id", "user_id", "path", "model")
# Loggers of the code a job runs through (a worker's own startup lines and Celery's are not part of a job).
JOB_LOGGERS = (
    "generation.services",
    "generation.runner",
    "generation.credits",
    "accounts.services",
    "gallery.services",
    "generation.engine.workflow",
)


def console_handler(stream) -> logging.Handler:
    """The handler settings.LOGGING installs, writing to `stream`: the same JSON formatter and job filter."""
    configurator = logging.config.DictConfigurator(settings.LOGGING)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(dict(settings.LOGGING["formatters"]["json"])))
    handler.addFilter(configurator.configure_filter(dict(settings.LOGGING["filters"]["job_context"])))
    return handler


def job_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("name") in JOB_LOGGERS]


@pytest.mark.django_db
def test_each_jobs_lines_carry_its_own_fields_whether_it_fails_or_succeeds(user, other_user, caplog, submit):
    stream = io.StringIO()
    handler = console_handler(stream)
    root = logging.getLogger()
    for app in ("accounts", "gallery", "generation"):
        caplog.set_level(logging.INFO, logger=app)
    root.addHandler(handler)

    @register_node("test_broken_model")
    class BrokenModel(Node):
        def run(self, context):
            raise RuntimeError("CUDA error: device-side assert triggered")

    try:
        broken, fine = submit(user), submit(other_user, production_path="eats")
        GenerationJob.objects.filter(pk=broken.pk).update(workflow=[{"node_type": "test_broken_model"}])
        assert runner.execute_job(job_id=broken.pk, dispatch_token=str(broken.dispatch_token)) == "failed"
        assert runner.execute_job(job_id=fine.pk, dispatch_token=str(fine.dispatch_token)) == "succeeded"
    finally:
        root.removeHandler(handler)
        del NODE_TYPES["test_broken_model"]

    lines = job_lines(stream.getvalue())
    by_job = {job.pk: [line["message"] for line in lines if line.get("job_id") == job.pk] for job in (broken, fine)}
    assert by_job[broken.pk][0].startswith("job started") and "job failed" in by_job[broken.pk]
    assert any(message.startswith("job succeeded") for message in by_job[fine.pk])
    assert "job credits settled" in by_job[broken.pk] and "job credits settled" in by_job[fine.pk]
    assert "CUDA error" in next(line["exc_info"] for line in lines if line["message"] == "job failed")
    owners = {broken.pk: (user.pk, "fashion", broken.request_id), fine.pk: (other_user.pk, "eats", fine.request_id)}
    for line in lines:
        assert line.get("job_id") in owners, line
        user_id, path, request_id = owners[line["job_id"]]
        assert (line["user_id"], line["path"], line["model"]) == (user_id, path, broken.model), line
        assert line["request_id"] == request_id, line


@pytest.mark.e2e
def test_a_real_workers_output_carries_the_fields_on_every_line_of_the_job(start_worker, user):
    worker = start_worker(LOG_LEVEL="INFO")
    response = client_for(user).post("/api/v1/jobs", JOB_REQUEST, format="json", HTTP_X_REQUEST_ID="click-7")
    job = GenerationJob.objects.get(pk=response.json()["id"])  # committed (transactional test): dispatched at once
    deadline = time.monotonic() + 60
    while GenerationJob.objects.get(pk=job.pk).status != JobStatus.SUCCEEDED:
        assert time.monotonic() < deadline, GenerationJob.objects.get(pk=job.pk).last_error
        time.sleep(0.1)
    deadline = time.monotonic() + 10
    while not any(line["message"] == "job credits settled" for line in job_lines(worker.log_path.read_text())):
        assert time.monotonic() < deadline, worker.log_path.read_text()[-3000:]
        time.sleep(0.1)
    lines = [line for line in job_lines(worker.log_path.read_text()) if line.get("job_id") == job.pk]
    messages = [line["message"] for line in lines]
    for expected in ("job started on ", "job succeeded: ", "job credits settled"):
        assert any(message.startswith(expected) for message in messages), messages
    for line in lines:
        assert (line["user_id"], line["path"], line["model"]) == (user.pk, "fashion", job.model), line
        assert line["request_id"] == "click-7", line
