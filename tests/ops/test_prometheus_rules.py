"""deploy/prometheus: the rules are valid and every alert fires, and stays quiet, as its unit tests say
(`promtool test rules`); every metric the rules name is one /metrics exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (Debian package prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_the_rules_are_valid():
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say():
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_and_tells_the_operator_what_to_do():
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    tested = yaml.safe_load((PROMETHEUS / "rules_test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tested["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {alert["alert"] for alert in alerts} <= fired, "every alert has a test in which it fires"
    for alert in alerts:
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]


def test_the_rules_name_only_metrics_the_app_exports(client, settings, db):
    settings.METRICS_TOKEN = "rules-token"
    exported = set(
        re.findall(r"^# TYPE (\w+)", client.get("/metrics", HTTP_AUTHORIZATION="Bearer rules-token").text, re.M)
    )
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    exprs = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    # Raw metric names only (a recorded series reads `level:metric:operation`); a histogram's series end in
    # _bucket, _count or _sum.
    named = {re.sub(r"_(bucket|count|sum)$", "", name) for name in re.findall(r"(?<![:\w])zimage_\w+", exprs)}
    assert {"zimage_jobs", "zimage_queue_depth", "zimage_workers_online"} <= named
    assert named <= exported, f"rules name metrics /metrics does not export: {sorted(named - exported)}"


@needs_promtool
def test_the_scrape_config_is_valid(tmp_path):
    """prometheus.yml as shipped, with the token file where compose mounts its secret moved to a real file."""
    (tmp_path / "metrics_token").write_text("token")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert "/run/secrets/metrics_token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/metrics_token", str(tmp_path / "metrics_token"))
    )
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
