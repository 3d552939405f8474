"""docker-compose.yml and the Dockerfile describe the deployment the settings actually support."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from generation.engine.paths import QUEUE_NAMES

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCES = [ROOT / "zimage" / "settings.py", ROOT / "zimage" / "production.py"]

APP_SERVICES = {"web", "ws", "worker", "beat", "migrate"}
LONG_RUNNING = {"proxy", "web", "ws", "worker", "beat", "postgres", "rabbitmq", "redis", "minio", "flower"}
# `docker compose --profile monitoring up`: Prometheus, Grafana and the exporters, none started without it.
MONITORING = {"prometheus", "grafana", "redis-exporter", "postgres-exporter", "dcgm-exporter"}
REQUIRED_APP_VARS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "AWS_STORAGE_BUCKET_NAME"}
# Read by Django itself rather than by our settings modules.
FRAMEWORK_VARS = {"DJANGO_SETTINGS_MODULE"}


def env_vars_read_by(source: str) -> set[str]:
    """Names passed to `env(...)`, `env.str(...)`, `env.int(...)`..., `os.environ[...]` and `os.getenv(...)`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            reads_env = (isinstance(func, ast.Name) and func.id == "env") or (
                isinstance(func, ast.Attribute)
                and (
                    (isinstance(func.value, ast.Name) and func.value.id == "env")
                    or ast.unparse(func) in {"os.getenv", "os.environ.get"}
                )
            )
            if reads_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def settings_env_vars() -> set[str]:
    return set().union(*(env_vars_read_by(path.read_text()) for path in SETTINGS_SOURCES))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def dockerfile_stages() -> dict[str, dict[str, str]]:
    """Stage name -> {"from": its base (ARG defaults substituted), "body": its instructions}."""
    text = (ROOT / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, flags=re.MULTILINE))
    parts = re.split(r"^FROM\s+(\S+)\s+AS\s+(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    stages = {}
    for image, name, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        base = re.sub(r"\$\{(\w+)\}", lambda match: args.get(match.group(1), match.group(0)), image)
        stages[name] = {"from": base, "body": body}
    return stages


def stage_lineage(stages: dict[str, dict[str, str]], stage: str) -> list[str]:
    """The stage, the stages it is built FROM or COPYs --from, and theirs, recursively."""
    seen, todo = [], [stage]
    while todo:
        name = todo.pop()
        if name in stages and name not in seen:
            seen.append(name)
            todo += [stages[name]["from"], *re.findall(r"--from=(\S+)", stages[name]["body"])]
    return seen


def base_image(stages: dict[str, dict[str, str]], stage: str) -> str:
    """Follow `FROM <earlier stage>` links down to the external image a stage is built on."""
    image = stages[stage]["from"]
    while image in stages:
        image = stages[image]["from"]
    return image


def test_the_settings_parser_finds_the_variables_settings_read():
    found = settings_env_vars()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DIFFUSION_BACKEND", "SECURE_HSTS_SECONDS"} <= found
    assert env_vars_read_by('X = env.list("A", default=[])\nY = os.environ["B"]\nZ = os.getenv("C")') == {"A", "B", "C"}


def test_every_required_service_is_defined(services):
    required = {"proxy", "web", "ws", "worker", "beat", "postgres", "rabbitmq", "redis", "minio", "minio-init"}
    assert required | {"flower"} | MONITORING <= set(services)


def test_http_goes_to_gunicorn_and_websockets_to_daphne_behind_one_proxy(services):
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "python:zimage.gunicorn_conf"]
    assert services["web"]["command"][-1] == "zimage.wsgi:application"
    assert services["ws"]["command"][0] == "daphne" and services["ws"]["command"][-1] == "zimage.asgi:application"
    assert services["ws"]["command"][services["ws"]["command"].index("-p") + 1] == "8001"
    published = [name for name, service in services.items() if any(":8080" in p for p in service.get("ports", []))]
    assert published == ["proxy"]
    assert "ports" not in services["web"] and "ports" not in services["ws"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"]["volumes"]
    # Behind the proxy, the client's address is the last X-Forwarded-For entry (lockouts and rate limits).
    assert environment(services["web"])["TRUSTED_PROXY_COUNT"].startswith("${TRUSTED_PROXY_COUNT:-1}")


def test_the_proxy_routes_websockets_to_ws_images_to_minio_and_the_rest_to_web():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    locations = dict(re.findall(r"location\s+(?:=\s+)?(/\S*)\s*\{(.*?)\}", conf, flags=re.DOTALL))
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{\s*server\s+(\S+);", conf))
    assert upstreams == {"web": "web:8000", "ws": "ws:8001", "minio": "minio:9000"}
    assert "proxy_pass http://ws;" in locations["/ws/"]
    assert "proxy_pass http://minio;" in locations["/zimage-images/"]
    assert "proxy_pass http://web;" in locations["/"]
    # Set once for every location: a location setting any header of its own would inherit none of these.
    for header in ("Host $http_host", "X-Forwarded-For $proxy_add_x_forwarded_for", "Upgrade $http_upgrade"):
        assert f"proxy_set_header {header};" in conf
    assert not any("proxy_set_header" in body for body in locations.values())


def test_the_proxy_logs_no_query_strings():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    formats = dict(re.findall(r"log_format\s+(\w+)\s+(.*?);", conf, flags=re.DOTALL))
    for name, layout in formats.items():
        leaks = re.findall(r"\$(request\b|request_uri|args|query_string|arg_\w+|http_referer)", layout)
        assert not leaks, f"log_format {name} logs {leaks}: tokens ride in query strings"
    access_logs = re.findall(r"access_log\s+([^;]+);", conf)
    assert access_logs and all(entry.split()[-1] in formats or entry.strip() == "off" for entry in access_logs), (
        f"an access_log without one of this file's formats uses the image's `main`, which logs $request: {access_logs}"
    )


def test_flower_demands_basic_auth_and_is_published_on_loopback_only(services):
    flower = services["flower"]
    assert environment(flower)["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert flower["ports"] and all(port.startswith("127.0.0.1:") for port in flower["ports"])


def test_the_app_servers_write_no_access_log_of_their_own(services):
    """The proxy's log is the one access log (without query strings); gunicorn's and daphne's would hold them."""
    from zimage import gunicorn_conf

    assert gunicorn_conf.accesslog is None
    ws = services["ws"]["command"]
    assert ws[ws.index("-v") + 1] == "0" and "--access-log" not in ws


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_healthcheck(services, name):
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"} and len(healthcheck["test"]) > 1


def test_the_web_healthcheck_probes_healthz(services):
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_worker_reserves_an_nvidia_gpu(services):
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(device["driver"] == "nvidia" and "gpu" in device["capabilities"] for device in devices)


def test_the_worker_consumes_every_path_queue_one_job_at_a_time(services):
    command = services["worker"]["command"]
    assert command[:4] == ["celery", "-A", "zimage", "worker"]
    assert command[command.index("-Q") + 1].split(",") == list(QUEUE_NAMES)  # the paths table's queues
    assert command[command.index("--concurrency") + 1] == "1"


def test_the_worker_gets_model_weights_from_a_volume(services):
    worker = services["worker"]
    weights_dir = environment(worker)["DIFFUSION_WEIGHTS_DIR"]
    mount_points = {re.sub(r"\$\{[^}]*\}", "SOURCE", volume).split(":")[1] for volume in worker["volumes"]}
    assert weights_dir in mount_points
    assert "/var/cache/huggingface" in mount_points


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_set_only_variables_the_settings_read(services, name):
    unknown = set(environment(services[name])) - settings_env_vars() - FRAMEWORK_VARS
    assert not unknown, f"{name} sets variables no settings module reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_run_production_settings_with_the_required_variables(services, name):
    env = environment(services[name])
    assert env["DJANGO_SETTINGS_MODULE"] == "zimage.production"
    assert set(env) >= REQUIRED_APP_VARS
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "SECRET_KEY must come from the environment, required"


def test_app_services_reach_the_compose_backing_services(services):
    env = environment(services["web"])
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert "minio:9000" in env["AWS_S3_ENDPOINT_URL"]


def test_browsers_get_image_urls_on_the_proxy(services):
    env = environment(services["web"])
    assert env["AWS_S3_PUBLIC_ENDPOINT_URL"].startswith("${AWS_S3_PUBLIC_ENDPOINT_URL:-http://localhost:")


def test_images_go_to_the_private_zimage_images_bucket(services):
    assert environment(services["web"])["AWS_STORAGE_BUCKET_NAME"] == "zimage-images"
    init = services["minio-init"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert environment(init)["BUCKET"] == "zimage-images"
    assert "mc mb --ignore-existing" in script
    assert "mc anonymous set none" in script


def test_redis_never_evicts_and_keeps_an_append_only_file(services):
    command = " ".join(services["redis"]["command"])
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command


def test_app_services_wait_for_healthy_dependencies(services):
    for name in ("web", "worker", "beat", "migrate"):
        depends_on = services[name]["depends_on"]
        assert depends_on["rabbitmq"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name
    for name in ("web", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["minio-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # seed queues the template previews for the worker (the web image has no torch).
    assert services["migrate"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_flower_watches_the_app_broker(services):
    assert environment(services["flower"])["CELERY_BROKER_URL"] == environment(services["web"])["CELERY_BROKER_URL"]
    assert "rabbitmq" in services["flower"]["depends_on"]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_the_app_services_broker_is_rabbitmq_and_redis_stays_for_the_rest(services, name):
    env = environment(services[name])
    assert env["CELERY_BROKER_URL"].startswith("amqp://zimage:${RABBITMQ_PASSWORD:?")
    assert env["CELERY_BROKER_URL"].endswith("@rabbitmq:5672/zimage")
    assert env["REDIS_URL"].startswith("redis://redis:6379/")  # cache, channel layer, heartbeats, throttles


def test_rabbitmq_keeps_its_queues_in_a_volume_with_a_password_from_the_environment(services):
    rabbitmq = services["rabbitmq"]
    env = environment(rabbitmq)
    assert env["RABBITMQ_DEFAULT_USER"] == "zimage" and env["RABBITMQ_DEFAULT_VHOST"] == "zimage"
    assert env["RABBITMQ_DEFAULT_PASS"].startswith("${RABBITMQ_PASSWORD:?")
    assert rabbitmq["image"].endswith("-management}") or "-management" in rabbitmq["image"]
    # The node name is the hostname: a fixed one, so a recreated container finds its queues in the volume.
    assert rabbitmq["hostname"] == "rabbitmq"
    assert any(volume.endswith(":/var/lib/rabbitmq") for volume in rabbitmq["volumes"])
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]


def test_the_rabbitmq_management_ui_is_published_on_loopback_only(services):
    ports = services["rabbitmq"]["ports"]
    assert ports == ["127.0.0.1:15672:15672"]  # not the AMQP port, not the metrics port


@pytest.mark.parametrize("name", sorted(MONITORING))
def test_monitoring_runs_only_in_its_profile_and_publishes_on_loopback_only(services, name):
    service = services[name]
    assert service["profiles"] == ["monitoring"]
    assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))
    assert "restart" in service


def test_every_profile_less_service_is_part_of_the_plain_stack(services):
    assert {name for name, service in services.items() if "profiles" in service} == MONITORING


def test_prometheus_reads_deploy_prometheus_and_the_metrics_token_as_a_secret(compose, services):
    prometheus = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert prometheus["secrets"] == ["metrics_token"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (zimage,) = [job for job in config["scrape_configs"] if job["job_name"] == "zimage"]
    assert zimage["authorization"]["credentials_file"] == "/run/secrets/metrics_token"


def test_every_scrape_target_is_a_compose_service_on_the_port_it_serves(services):
    serves = {"web": 8000, "rabbitmq": 15692, "redis-exporter": 9121, "postgres-exporter": 9187, "dcgm-exporter": 9400}
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = [
        target for job in config["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    ]
    assert sorted(targets) == sorted(f"{name}:{port}" for name, port in serves.items())
    assert set(serves) <= set(services)
    # Prometheus scrapes web by its service name: the app must accept that Host.
    assert environment(services["web"])["ALLOWED_HOSTS"].endswith(",web")


def test_grafana_is_provisioned_from_deploy_grafana_with_a_password_from_the_environment(services):
    grafana = services["grafana"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in grafana["volumes"]
    env = environment(grafana)
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false" and env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_the_exporters_reach_the_stacks_services(services):
    assert environment(services["redis-exporter"])["REDIS_ADDR"] == "redis://redis:6379"
    dsn = environment(services["postgres-exporter"])["DATA_SOURCE_NAME"]
    assert dsn.startswith("postgresql://zimage:${POSTGRES_PASSWORD:?") and "@postgres:5432/zimage" in dsn


def test_the_dcgm_exporter_reserves_the_nvidia_gpus(services):
    dcgm = services["dcgm-exporter"]
    devices = dcgm["deploy"]["resources"]["reservations"]["devices"]
    assert any(device["driver"] == "nvidia" and "gpu" in device["capabilities"] for device in devices)
    assert "SYS_ADMIN" in dcgm["cap_add"]


def test_the_dockerfile_builds_a_web_and_a_cuda_worker_stage():
    stages = dockerfile_stages()
    assert {"web", "worker"} <= set(stages)
    assert base_image(stages, "web").startswith("python:3.11")
    assert base_image(stages, "worker").startswith("nvidia/cuda:")
    assert "runtime" in base_image(stages, "worker")


def test_compose_builds_the_matching_dockerfile_targets(services):
    assert services["web"]["build"]["target"] == "web"
    assert services["worker"]["build"]["target"] == "worker"
    assert services["beat"]["build"]["target"] == "web"


def test_the_web_image_never_installs_the_worker_stack():
    stages = dockerfile_stages()
    web_bodies = " ".join(stages[name]["body"] for name in stage_lineage(stages, "web"))
    worker_bodies = " ".join(stages[name]["body"] for name in stage_lineage(stages, "worker"))
    assert "-r pylock.web.toml" in web_bodies and "pylock.worker.toml" not in web_bodies
    assert "-r pylock.worker.toml" in worker_bodies


def test_both_images_run_as_an_unprivileged_user_with_production_settings():
    stages = dockerfile_stages()
    for name in ("web", "worker"):
        body = stages[name]["body"]
        users = re.findall(r"^USER\s+(\S+)", body, flags=re.MULTILINE)
        assert users and users[-1] not in {"root", "0"}, name
        assert "DJANGO_SETTINGS_MODULE=zimage.production" in body, name
    assert "collectstatic" in stages["web"]["body"]
    assert re.search(r"^HEALTHCHECK .*/healthz", stages["web"]["body"], flags=re.MULTILINE | re.DOTALL)


def test_the_readme_documents_exactly_the_settings_read_from_the_environment():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", readme, flags=re.MULTILINE))
    assert documented == settings_env_vars(), (
        f"README configuration table misses {sorted(settings_env_vars() - documented)}, "
        f"lists unread {sorted(documented - settings_env_vars())}"
    )


def test_the_readme_operations_section_names_every_variable_compose_reads():
    compose_vars = set(re.findall(r"(?<!\$)\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    readme = (ROOT / "README.md").read_text()
    operations = readme[readme.index("## Operations") :]
    missing = {name for name in compose_vars if f"`{name}`" not in operations}
    assert {
        "SECRET_KEY",
        "METRICS_TOKEN",
        "FLOWER_BASIC_AUTH",
        "RABBITMQ_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    } <= compose_vars
    assert not missing, f"README's Operations section does not name {sorted(missing)}"
