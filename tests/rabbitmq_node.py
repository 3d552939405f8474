"""A private RabbitMQ node (the machine's rabbitmq-server, under a node name, ports and data directory of its
own) that tests may stop and restart: a real broker restart that never touches the machine's shared broker.

Its quorum queues live in its data directory, so a restart keeps the messages they hold, as in production.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .redis_server import free_port

RABBITMQ_SERVER = shutil.which("rabbitmq-server") or "/usr/sbin/rabbitmq-server"
START_TIMEOUT = 120  # seconds: an Erlang VM boots in 5-10 s on an idle machine, several times that on a busy one


def can_run_private_node() -> str | None:
    """Why a private node cannot run here, or None: Debian's rabbitmq-server runs as root (dropping to the
    rabbitmq user, who must own the node's directory) or as rabbitmq."""
    if not os.path.exists(RABBITMQ_SERVER):
        return "rabbitmq-server is not installed"
    try:
        pwd.getpwnam("rabbitmq")
    except KeyError:
        return "there is no rabbitmq user"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "rabbitmq":
        return "rabbitmq-server runs only as root or rabbitmq"
    return None


class RabbitMQNode:
    def __init__(self) -> None:
        self.port = free_port()
        self.name = f"zimage_test_{self.port}@localhost"
        # Not under pytest's tmp_path: its parents are private to the test's user, and the node runs as rabbitmq.
        self.directory = Path(tempfile.mkdtemp(prefix="zimage-rabbitmq-"))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process: subprocess.Popen | None = None
        (self.directory / "enabled_plugins").write_text("[].\n")  # no management UI: its port is the shared node's
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        for name in ("mnesia", "log"):
            (self.directory / name).mkdir()
        if os.geteuid() == 0:
            rabbitmq = pwd.getpwnam("rabbitmq")
            for path in [self.directory, *self.directory.rglob("*")]:
                os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)

    def environment(self) -> dict[str, str]:
        base = self.directory
        return os.environ | {
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "mnesia" / "feature_flags"),
            "RABBITMQ_QUORUM_DIR": str(base / "mnesia" / "quorum"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(base / "mnesia" / "node.pid"),
        }

    def is_up(self) -> bool:
        import kombu

        connection = kombu.Connection(self.url, connect_timeout=1)
        try:
            connection.connect()
        except OSError:
            return False
        finally:
            connection.release()
        return True

    def start(self) -> RabbitMQNode:
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=self.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_up():
            assert self.process.poll() is None, f"rabbitmq-server exited; see {self.directory / 'log'}"
            assert time.monotonic() < deadline, "rabbitmq-server did not start"
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        """The node shut down as an operator's restart does: SIGTERM to its Erlang VM (which closes every
        connection and stops), waited for until the VM is gone."""
        if self.process is None:
            return
        pid = self._vm_pid()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(30)
        self.process = None

    def _vm_pid(self) -> int | None:
        try:
            return int((self.directory / "mnesia" / "node.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
