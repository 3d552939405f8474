"""REST API throughput: job submissions/s and job-detail reads/s through the real servers, with latency.

Starts its own stack: a PostgreSQL database of its own (zimage_bench_api, dropped afterwards unless --keep),
an empty Redis database on 127.0.0.1:6379 (or BENCH_REDIS_URL), and, one after the other, the two HTTP
servers the product runs:
- gunicorn (WSGI, zimage/gunicorn_conf.py): the website and API in production, behind the proxy;
- daphne (ASGI, zimage/asgi.py), one process per core on a shared socket: WebSockets in production, and
  everything under `make run`. Measured in the same run, as the baseline gunicorn is compared with.
No worker runs: submitted jobs are admitted (plan limits checked, credits reserved) and sent to the broker,
where they wait.

The load comes from wrk (Debian/Ubuntu package `wrk`), a compiled client that leaves the cores to the
servers, on loopback with --connections requests in flight, authenticated with personal API keys (--users
users, one key each, used in turn). Every response must be the expected one (202 for a submission, 200 for
a read); anything else, or a socket error, is an error and the benchmark exits non-zero, as it does when
the jobs stored are fewer than the 202s, or more than those plus the requests still in flight at the end.
Not a test: the numbers depend on what else the machine does.

    .venv/bin/python benchmarks/api.py [--processes 2] [--connections 32] [--seconds 15] [--users 200] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._setup import configure, machine  # noqa: E402
from benchmarks._stack import bench_users  # noqa: E402

REDIS_SERVER = "redis://127.0.0.1:6379"
TARGET_SUBMISSIONS_PER_SECOND = 200
JOB = {"prompt": "linen summer dress on a model, white studio", "production_path": "fashion", "width": 512}

# wrk's Lua side: `requests` is a list of {method, path, key, body}, taken in turn by every connection;
# each thread counts statuses, and done() prints them with the latency percentiles as one JSON line.
WRK_SCRIPT = """
local requests = %(requests)s
local counter = 0
local threads = {}
statuses = {}  -- a global: done() reads each thread's copy with thread:get

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  counter = offset
end

function request()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  local headers = {["Authorization"] = "Bearer " .. r[3], ["Content-Type"] = "application/json"}
  return wrk.format(r[1], r[2], headers, r[4])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%%s": %%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "seconds": %%f, "socket_errors": %%d, "statuses": {%%s}, '
    .. '"p50": %%f, "p95": %%f, "p99": %%f, "max": %%f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ", "),
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def free_redis_database() -> int:
    """The first database of the local Redis with no key and no client: nobody else's worker or test is on it."""
    import redis

    busy = {int(client["db"]) for client in redis.Redis.from_url(f"{REDIS_SERVER}/0").client_list()}
    for db in range(1, 16):
        if db not in busy and not redis.Redis.from_url(f"{REDIS_SERVER}/{db}").dbsize():
            return db
    raise RuntimeError("No free Redis database on 127.0.0.1:6379: set BENCH_REDIS_URL.")


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid Lua string literal


def lua_requests(requests: list[tuple[str, str, str, str | None]]) -> str:
    rows = (
        "{" + ", ".join(lua_string(part) if part is not None else "nil" for part in request) + "}"
        for request in requests
    )
    return "{" + ",\n".join(rows) + "}"


class DaphneGroup:
    """`count` daphne processes sharing one listening socket this object opens (the kernel spreads
    connections between them, as a pre-forking server's workers share theirs)."""

    def __init__(self, count: int, log_dir: Path, settings_module: str):
        env = {**os.environ, "LOG_LEVEL": "ERROR", "DJANGO_SETTINGS_MODULE": settings_module}
        self.log = open(log_dir / "api-bench-daphne.log", "wb")  # noqa: SIM115
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.set_inheritable(True)
        port, fd = self.listener.getsockname()[1], self.listener.fileno()
        command = [sys.executable, "-m", "daphne", "--fd", str(fd), "zimage.asgi:application"]
        self.processes = [
            subprocess.Popen(
                command,
                pass_fds=(fd,),
                cwd=ROOT,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(count)
        ]
        self.url = f"http://127.0.0.1:{port}"

    def ready(self, timeout: float = 90) -> DaphneGroup:
        """Several /healthz answers, so that more than one of the processes is likely up."""
        import httpx

        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                self.stop()
                raise RuntimeError(f"daphne exited: see {self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                answered += httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            if answered >= 8:
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("daphne did not answer /healthz")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.log.close()
        self.listener.close()


def start_servers(kind: str, args, log_dir: Path) -> Any:
    """gunicorn as the tests start it (its own workers), or a group of daphne processes."""
    if kind == "gunicorn":
        from tests.processes import GunicornProcess  # after configure(): it imports the Celery app

        env = {"LOG_LEVEL": "ERROR", "DJANGO_SETTINGS_MODULE": args.settings}
        return GunicornProcess(workers=args.processes, **env).ready(timeout=90)
    return DaphneGroup(args.processes, log_dir, args.settings).ready()


def run_wrk(url: str, requests: list, expected: int, connections: int, seconds: float) -> dict:
    """One wrk run over `requests` (taken in turn); its RESULT line as a dict, plus a rate and error count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"requests": lua_requests(requests)})
    try:
        threads = min(2, connections)
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{round(seconds)}s", "-s", script.name]
        command.append(url)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        output = done.stdout
    finally:
        os.unlink(script.name)
    result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
    result["ok"] = result["statuses"].get(str(expected), 0)
    result["errors"] = result["requests"] - result["ok"] + result["socket_errors"]
    result["rate"] = result["ok"] / result["seconds"]
    return result


def report(name: str, result: dict) -> str:
    others = {status: n for status, n in result["statuses"].items() if n and status not in {"200", "202"}}
    return (
        f"  {name:<11} {result['ok']:>6} in {result['seconds']:4.1f} s = {result['rate']:6.1f}/s | "
        f"p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  p99 {result['p99']:6.1f} ms  "
        f"max {result['max']:7.1f} ms | errors: {result['errors']} {others or ''}"
    )


def measure(kind: str, args, keys: list[str], log_dir: Path) -> tuple[dict, dict, int]:
    """Submissions, then reads of the jobs just made, against `kind`; also the jobs stored meanwhile."""
    from generation.models import GenerationJob

    body = json.dumps(JOB)
    before = GenerationJob.objects.count()
    servers = start_servers(kind, args, log_dir)
    try:
        # Warm-up: every process has imported, connected and compiled its URL patterns before timing starts.
        run_wrk(servers.url, [("GET", "/api/v1/me", key, None) for key in keys], 200, 8, 2)
        submits = run_wrk(
            servers.url, [("POST", "/api/v1/jobs", key, body) for key in keys], 202, args.connections, args.seconds
        )
        key_of = {user_id: key for user_id, key in zip(args.user_ids, keys, strict=True)}
        made = list(GenerationJob.objects.filter(pk__gt=args.last_job_id).values_list("pk", "owner_id"))
        args.last_job_id = max([args.last_job_id, *(pk for pk, _ in made)])
        random.Random(1).shuffle(made)
        reads = [("GET", f"/api/v1/jobs/{pk}", key_of[owner], None) for pk, owner in made[:5000]]
        reads = reads or [("GET", "/api/v1/me", keys[0], None)]
        detail = run_wrk(servers.url, reads, 200, args.connections, args.seconds)
    finally:
        servers.stop()
    return submits, detail, GenerationJob.objects.count() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="server processes (default: cores)")
    parser.add_argument("--connections", type=int, default=32, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=15, help="length of each phase")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--servers", default="gunicorn,daphne", help="which servers, in order (default: both)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--settings", default="tests.settings", help="the servers' settings module")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmarks/api.py needs wrk: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`.")
        return 2

    if "BENCH_REDIS_URL" in os.environ:
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    redis_db = free_redis_database() if "REDIS_URL" not in os.environ else 0
    vendor = configure("api", redis_db)
    from django.conf import settings
    from django.db import connection

    users = bench_users(args.users, credits=10**7)
    keys = [key for _, key in users]
    args.user_ids = [user.pk for user, _ in users]
    args.last_job_id = 0
    database = connection.settings_dict["NAME"]
    print(f"machine: {machine()}")
    print(
        f"stack: {args.processes} server process(es) | {vendor} {database} | {settings.REDIS_URL} | no worker "
        f"(jobs wait on the broker) | load: wrk, {args.connections} connections, {args.users} users with API keys"
    )
    print(f"load average before: {load_average()} (other processes on this machine count against the numbers)")

    results = {}
    failed = False
    for kind in args.servers.split(","):
        submits, detail, stored = measure(kind, args, keys, Path(settings.DATA_DIR))
        results[kind] = submits, detail
        # wrk stops counting with up to one request per connection still in flight, which the server completes.
        one_each = 0 <= stored - submits["ok"] <= args.connections
        print(f"{kind}:")
        print(report("submit", submits))
        print(report("job detail", detail))
        print(
            f"  jobs stored: {stored} for {submits['ok']} 202s counted + at most {args.connections} in flight "
            f"when wrk stopped: {'consistent' if one_each else 'INCONSISTENT'}"
        )
        failed = failed or submits["errors"] or detail["errors"] or not one_each
    if {"gunicorn", "daphne"} <= set(results):
        for index, name in enumerate(("submissions", "reads")):
            ratio = results["gunicorn"][index]["rate"] / max(results["daphne"][index]["rate"], 1e-9)
            print(f"gunicorn / daphne, {name}/s: {ratio:.2f}x")
    first = next(iter(results))
    rate = results[first][0]["rate"]
    verdict = "met" if rate >= TARGET_SUBMISSIONS_PER_SECOND else "NOT met"
    print(f"target >= {TARGET_SUBMISSIONS_PER_SECOND} submissions/s ({first}): {verdict} ({rate:.0f}/s)")
    print(f"load average after: {load_average()}")

    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    connection.close()
    if not args.keep and database.startswith("zimage_bench_"):  # only the database configure() made
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 1 if failed else 0


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
