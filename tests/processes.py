"""Real processes for end-to-end tests: a Celery worker and a daphne server, on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from generation.engine.paths import QUEUE_NAMES

ROOT = Path(__file__).resolve().parent.parent
ALL_QUEUES = ",".join(QUEUE_NAMES)


CHILD_APPLICATION_NAME = "zimage-test-child"


def child_env(**extra: str) -> dict[str, str]:
    """The test process's environment, pointed at the test database that pytest-django created."""
    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["ZIMAGE_USE_TEST_DB"] = "1"
    # libpq names the child's database sessions, so a test can tell them from this process's own threads'.
    env["PGAPPNAME"] = CHILD_APPLICATION_NAME
    env.update({key: str(value) for key, value in extra.items()})
    return env


class WorkerProcess:
    """`celery worker` as a child process; `ready()` waits for its pool child to have loaded the model."""

    def __init__(self, *, concurrency: int = 1, beat: bool = False, **env: str):
        self.name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "zimage",
            "worker",
            "-Q",
            ALL_QUEUES,
            "--concurrency",
            str(concurrency),
            "-n",
            self.name,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            command += ["--beat", "--schedule", str(Path(settings.DATA_DIR) / f"beat-{uuid.uuid4().hex}")]
        self.log_path = Path(settings.DATA_DIR) / f"{self.name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pool_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def heartbeats(self) -> list[dict]:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = [k for k in client.scan_iter("zimage:worker:*")]
        beats = [json.loads(v) for v in client.mget(keys) if v] if keys else []
        return [b for b in beats if b["pid"] in self.pool_pids()]

    def ready(self, timeout: float = 90) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if any(b.get("backend") not in (None, "loading") for b in self.heartbeats()):
                return self
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole worker (main process and pool) at once, as an OOM killer or a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """An HTTP server process on a free loopback port; `ready()` waits until /healthz answers."""

    name = "server"

    def command(self) -> list[str]:
        raise NotImplementedError

    def __init__(self, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        command = self.command()
        self.log_path = Path(settings.DATA_DIR) / f"{self.name}-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=child_env(**env), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def ready(self, timeout: float = 60) -> ServerProcess:
        """Wait for /healthz to answer 200; a server that never does is stopped, not left running."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


class DaphneProcess(ServerProcess):
    """`daphne zimage.asgi:application`: HTTP and WebSockets, as under `make run` (and /ws/ in production)."""

    name = "daphne"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "zimage.asgi:application"]


class GunicornProcess(ServerProcess):
    """gunicorn with the production configuration (zimage/gunicorn_conf.py): HTTP in production."""

    name = "gunicorn"

    def __init__(self, *, workers: int = 1, **env: str):
        self.workers = workers
        super().__init__(**env)

    def command(self) -> list[str]:
        conf = ["-c", "python:zimage.gunicorn_conf", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        return [sys.executable, "-m", "gunicorn", *conf, "zimage.wsgi:application"]


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# The http block of the official nginx image's /etc/nginx/nginx.conf, which includes deploy/nginx.conf:
# its `main` access log format records "$request", the request line with its query string.
NGINX_IMAGE_HTTP_BLOCK = """\
log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                '$status $body_bytes_sent "$http_referer" '
                '"$http_user_agent" "$http_x_forwarded_for"';
access_log {logs}/access.log main;
"""


class NginxProcess:
    """A real nginx running deploy/nginx.conf as the compose `proxy` service does, on a free loopback port.

    Only what cannot resolve here is rewritten: the upstream addresses (`upstreams`: "web:8000" -> "host:port"),
    the listening port, and /var/log/nginx (to `directory`); the file is otherwise as deployed.
    """

    def __init__(self, *, upstreams: dict[str, str], directory: Path, port: int | None = None):
        if NGINX is None:
            raise FileNotFoundError("nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.access_log = directory / "access.log"
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        for name, address in upstreams.items():
            conf = conf.replace(f"server {name};", f"server {address};")
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.port};").replace("/var/log/nginx", str(directory))
        temp = "\n".join(
            f"{name}_temp_path {directory / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (directory / "nginx.conf").write_text(
            f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\nevents {{}}\nhttp {{\n"
            f"{NGINX_IMAGE_HTTP_BLOCK.format(logs=directory)}{temp}\n{conf}\n}}\n"
        )
        self.log = open(directory / "nginx.out", "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self, timeout: float = 20) -> NginxProcess:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/proxy-healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start: {(self.directory / 'nginx.out').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if not self.log.closed:
            self.log.close()
