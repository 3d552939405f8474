"""A real Prometheus (the Debian `prometheus` binary) scrapes a live zimage under gunicorn with the bearer
token, loads deploy/prometheus/rules.yml, and its recording rules evaluate from jobs a real worker ran."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from django.db import transaction

from generation.engine.paths import PATH_NAMES
from generation.models import GenerationJob, JobStatus

from ..factories import UserFactory
from ..processes import GunicornProcess, free_port
from ..waiting import finished_job

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")
TOKEN = "live-prometheus-token"
JOBS = 2
RULES_TIMEOUT = 45  # seconds for the rules to show the finished jobs: a scrape and an evaluation every second

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        PROMETHEUS is None, reason="prometheus missing (Debian package prometheus; .ci/run installs it)"
    ),
]


@pytest.fixture
def zimage(transactional_db):
    server = GunicornProcess(workers=2, METRICS_TOKEN=TOKEN).ready()
    yield server
    server.stop()


@pytest.fixture
def prometheus(zimage, tmp_path):
    """deploy/prometheus's rules and zimage scrape job, at a 1 s interval, against the live server."""
    (tmp_path / "metrics_token").write_text(TOKEN)
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in shipped["scrape_configs"] if job["job_name"] == "zimage"]
    job["authorization"]["credentials_file"] = str(tmp_path / "metrics_token")
    job["static_configs"] = [{"targets": [zimage.url.removeprefix("http://")]}]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "rules.yml")],
        "scrape_configs": [job],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if api.get("/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.2)
        yield api
    finally:
        api.close()
        process.terminate()
        process.wait(timeout=20)
        log.close()


def query(api: httpx.Client, expr: str) -> dict[str, float]:
    """{path or route label: value} of an instant query (NaN values left out)."""
    body = api.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", body
    values = {}
    for sample in body["data"]["result"]:
        key = sample["metric"].get("path") or sample["metric"].get("route") or ""
        value = float(sample["value"][1])
        if not math.isnan(value):
            values[key] = value
    return values


def test_the_recording_rules_evaluate_from_real_jobs_scraped_from_a_live_server(module_worker, prometheus):
    rules = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    assert {group["name"] for group in rules} == {"zimage-recording", "zimage-alerts"}

    # A sample from before the jobs, so the job and credit rates have something to grow from.
    deadline = time.monotonic() + 20
    while query(prometheus, 'zimage_jobs{path="fashion",status="succeeded"}') != {"fashion": 0}:
        assert time.monotonic() < deadline, "Prometheus never scraped the server"
        time.sleep(0.2)

    user = UserFactory()
    from generation.services import submit_job

    with transaction.atomic():
        jobs = [
            submit_job(
                user=user, prompt=f"a linen dress {n}", production_path="fashion", width=256, height=256, steps=2
            )
            for n in range(JOBS)
        ]
    for job in jobs:
        assert finished_job(job.pk, timeout=120).status == JobStatus.SUCCEEDED
    durations = [(job.finished_at - job.started_at).total_seconds() for job in GenerationJob.objects.filter(owner=user)]

    expected = {
        "path:zimage_job_duration_seconds:p95_1h": "fashion",
        "path:zimage_jobs_finished:rate5m": "fashion",
        "path:zimage_credits_charged:rate1h": "fashion",
        "route:zimage_http_requests:rate5m": "metrics",  # Prometheus's own scrapes, counted by the middleware
    }
    deadline, seen = time.monotonic() + RULES_TIMEOUT, {}
    while time.monotonic() < deadline:
        seen = {rule: query(prometheus, rule) for rule in expected}
        if all(seen[rule].get(label, 0) > 0 for rule, label in expected.items()):
            break
        time.sleep(1)
    else:
        targets = prometheus.get("/api/v1/targets").json()["data"]["activeTargets"]
        raise AssertionError(
            f"the recording rules did not show the {JOBS} finished jobs in {RULES_TIMEOUT} s: {seen}; "
            f"targets: {[(t['scrapeUrl'], t['health'], t['lastError']) for t in targets]}"
        )
    groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    broken = [
        (rule["name"], rule.get("lastError")) for group in groups for rule in group["rules"] if rule["health"] != "ok"
    ]
    assert not broken, f"rules that do not evaluate: {broken}"
    # p95 is interpolated inside the histogram bucket that holds the slowest job: at most that bucket's bound.
    from generation.ops.metrics import DURATION_BUCKETS

    bound = next(b for b in DURATION_BUCKETS if b >= max(durations))
    assert 0 < seen["path:zimage_job_duration_seconds:p95_1h"]["fashion"] <= bound
    assert set(seen["path:zimage_job_duration_seconds:p95_1h"]) <= set(PATH_NAMES)
