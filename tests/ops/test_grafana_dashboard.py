"""deploy/grafana: the dashboard is well-formed Grafana, compose provisions it, and every metric its panels query
is one zimage's /metrics exports (scraped here), a recording rule of deploy/prometheus/rules.yml, or a metric an
exporter of the monitoring profile exports (tests/ops/data/, each list saying where it was read from)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATA = Path(__file__).parent / "data"
EXPORTER_LISTS = [
    "rabbitmq_prometheus_metrics.txt",
    "redis_exporter_metrics.txt",
    "postgres_exporter_metrics.txt",
    "dcgm_exporter_metrics.txt",
    "prometheus_synthetic_metrics.txt",
]
TOKEN = "dashboard-token"

# PromQL words that are not metric names: aggregation operators (followed by `by`/`without` or `(`), the
# grouping and binary-operator keywords, and the literals.
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"}
AGGREGATIONS |= {"quantile", "limitk", "limit_ratio"}
GROUPINGS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPINGS | {"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
TOKEN_RE = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<variable>\$\{[^}]*\}|\$\w+)          # Grafana's $__rate_interval, ${var}
    |(?P<range>\[[^\]]*\])                    # [5m], [1h:1m]
    |(?P<number>(?:\d+(?:ms|[smhdwy]))+|0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<open>[({])
    |(?P<close>[)}])
    |(?P<other>\S)
    """,
    re.VERBOSE,
)


def tokens(expr: str) -> list[tuple[str, str]]:
    return [(match.lastgroup, match.group()) for match in TOKEN_RE.finditer(expr)]


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression selects: identifiers that are not functions
    (followed by `(`), aggregations, keywords, label names (in `{...}` or a grouping's `(...)`) or strings."""
    found: set[str] = set()
    toks = tokens(expr)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        following = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "open" and text == "{":  # label matchers: only __name__="..." names a metric
            depth, i = 1, i + 1
            while depth and i < len(toks):
                if toks[i][1] == "{":
                    depth += 1
                elif toks[i][1] == "}":
                    depth -= 1
                elif toks[i][1] == "__name__" and toks[i + 2][0] == "string":
                    found.add(toks[i + 2][1][1:-1])
                i += 1
            continue
        if kind == "ident" and text in GROUPINGS and following == "(":  # by (path, le): label names
            depth, i = 0, i + 1
            while i < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[i][1], 0)
                i += 1
                if depth == 0:
                    break
            continue
        if kind == "ident" and following != "(" and text not in KEYWORDS | AGGREGATIONS:
            found.add(text)
        i += 1
    return found


def panel_queries(dashboard: dict) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every target of every panel, rows' nested panels included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner["title"], target["expr"]


def recording_rules() -> dict[str, str]:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    return {rule["record"]: rule["expr"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}


def exporter_metrics() -> set[str]:
    names: set[str] = set()
    for name in EXPORTER_LISTS:
        lines = (DATA / name).read_text().splitlines()
        header = " ".join(line for line in lines if line.startswith("#"))
        assert re.search(r"\b[0-9a-f]{40}\b|https://", header), f"{name} says where its names were read from"
        names |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    return names


@pytest.fixture
def app_metrics(client, settings, db) -> set[str]:
    """Every series name a real scrape of /metrics can carry (a histogram's _bucket/_count/_sum, a counter's
    _total), by metric family as exported, with or without samples yet."""
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""], "summary": [""]}
    names: set[str] = set()
    for family in text_string_to_metric_families(response.content.decode()):
        names |= {family.name + suffix for suffix in suffixes.get(family.type, [""])}
        names |= {sample.name for sample in family.samples}
    return names


def unknown_metrics(expr: str, known: set[str], rules: dict[str, str], seen: frozenset[str] = frozenset()) -> set[str]:
    """Names in expr that nothing exports; a recording rule's name is checked through its own expression."""
    unknown = set()
    for name in metric_names(expr):
        if name in rules and name not in seen:
            unknown |= unknown_metrics(rules[name], known, rules, seen | {name})
        elif name not in known and re.sub(r"_(bucket|count|sum)$", "", name) not in known:
            unknown.add(name)
    return unknown


@pytest.fixture(params=DASHBOARDS, ids=lambda path: path.name)
def dashboard(request) -> dict:
    return json.loads(request.param.read_text())


class TestThePromqlReader:
    def test_it_finds_metrics_and_leaves_out_functions_labels_keywords_and_strings(self):
        expr = (
            'sum by (path, le) (rate(foo_bucket{job="x", le!="+Inf"}[5m] offset 1h)) / on(job) group_left(instance) '
            'bar:recorded:rate5m + 2e9 and {__name__="baz"} > bool 1 '
            'unless label_replace(qux, "dst", "$1", "src", "(.*)")'
            " or histogram_quantile(0.5, sum without (pod) (rate(quux_sum[$__rate_interval])))"
        )
        assert metric_names(expr) == {"foo_bucket", "bar:recorded:rate5m", "baz", "qux", "quux_sum"}

    def test_an_unexported_metric_is_reported_and_a_rule_is_read_through(self, app_metrics):
        rules = {"path:made_up:rate5m": "rate(zimage_not_a_metric[5m])", "path:jobs:rate5m": "deriv(zimage_jobs[5m])"}
        assert unknown_metrics("sum(path:made_up:rate5m) + path:jobs:rate5m", app_metrics, rules) == {
            "zimage_not_a_metric"
        }


class TestTheDashboard:
    def test_every_panel_query_names_a_metric_the_app_a_rule_or_an_exporter_really_has(self, dashboard, app_metrics):
        known, rules = app_metrics | exporter_metrics(), recording_rules()
        unknown = {
            title: sorted(missing)
            for title, expr in panel_queries(dashboard)
            if (missing := unknown_metrics(expr, known, rules))
        }
        assert not unknown, f"panels query metrics nothing exports: {unknown}"

    def test_it_shows_what_the_operators_need(self, dashboard):
        named = set().union(*(metric_names(expr) for _, expr in panel_queries(dashboard)))
        assert {
            "path:zimage_jobs_finished:rate5m",  # throughput
            "zimage_queue_depth",
            "path:zimage_job_duration_seconds:p50_1h",
            "path:zimage_job_duration_seconds:p95_1h",
            "path:zimage_job_failure_ratio:1h",
            "zimage_workers_online",
            "zimage_worker_gpu_memory_bytes",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_GPU_UTIL",
            "path:zimage_credits_charged:rate1h",
            "route:zimage_http_requests:rate5m",
            "route:zimage_http_request_duration_seconds:p95_5m",
            "zimage_http_request_duration_seconds_bucket",
            "rabbitmq_queue_messages_ready",
        } <= named

    def test_it_is_a_grafana_dashboard_whose_panels_each_read_the_provisioned_datasource(self, dashboard):
        (datasource,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
            "datasources"
        ]
        assert re.fullmatch(r"[\w-]{1,40}", dashboard["uid"]) and dashboard["title"]
        assert isinstance(dashboard["schemaVersion"], int)
        panels = [inner for panel in dashboard["panels"] for inner in [panel, *panel.get("panels", [])]]
        ids = [panel["id"] for panel in panels]
        assert len(ids) == len(set(ids)), "panel ids are unique"
        for panel in panels:
            assert {"type", "title", "gridPos"} <= set(panel), panel.get("title")
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]
            assert panel["targets"], panel["title"]
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip() and target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_the_monitoring_profile_provisions_the_datasource_and_the_dashboards():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "zimage.yml").read_text())["providers"]
    assert provider["type"] == "file"
    # The provider reads the folder compose mounts deploy/grafana/dashboards at, where the JSON files are.
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert DASHBOARDS
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"] and "prometheus" in grafana["depends_on"]
    assert compose["services"]["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
