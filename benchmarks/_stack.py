"""The real stack for end-to-end benchmarks: gunicorn, daphne and Celery workers; API-key users; a WS listener."""

from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


def bench_users(count: int, *, credits: int) -> list[tuple[Any, str]]:
    """Enterprise users with room for bursts (limits raised in this database only) and an API key each."""
    from django.utils import timezone

    from accounts.models import Tier, User
    from accounts.services import create_api_key, grant_credits
    from accounts.tiers import DEFAULT_TIERS

    limits = DEFAULT_TIERS["enterprise"]
    Tier.objects.update_or_create(
        name="enterprise",
        defaults={
            **limits.__dict__,
            "max_queued_jobs": 10_000,
            "max_running_jobs": 64,
            "submit_rate": "100000/min",
            "read_rate": "100000/min",
        },
    )
    users = []
    for index in range(count):
        user = User.objects.create_user(
            email=f"bench{index}@example.com", password=None, tier="enterprise", email_verified_at=timezone.now()
        )
        grant_credits(user=user, amount=credits, reason="benchmark", idempotency_key=f"bench:{index}")
        users.append((user, create_api_key(user=user, name="bench")[1]))
    return users


@dataclass
class Servers:
    """The production shape without its proxy: HTTP at `url` (gunicorn), WebSockets at `ws_url` (daphne)."""

    url: str
    ws_url: str


@contextmanager
def stack(workers: int):
    """N Celery workers, gunicorn (one process per core, as zimage/gunicorn_conf.py sets) and daphne."""
    from tests.processes import DaphneProcess, GunicornProcess, WorkerProcess

    started = [WorkerProcess() for _ in range(workers)]
    servers = []
    try:
        for worker in started:
            worker.ready(timeout=180)
        servers.append(GunicornProcess(workers=os.cpu_count() or 1).ready())
        servers.append(DaphneProcess().ready())
        yield Servers(url=servers[0].url, ws_url=servers[1].ws_url)
    finally:
        for server in servers:
            server.stop()
        for worker in started:
            worker.stop()


class Listener:
    """One WebSocket per user (`/ws/jobs/`), recording when each job's job.succeeded/failed arrives."""

    def __init__(self, server: Any, keys: list[str]):
        self.server, self.keys = server, keys
        self.finished: dict[int, tuple[str, float]] = {}
        # Per job: the publish time (`ts`, epoch seconds) of its job.started and final events, and the epoch
        # time the final event arrived here, to split the end-to-end time into its hops.
        self.stamps: dict[int, dict[str, float]] = {}
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Listener:
        import websockets

        self._sockets = [
            await websockets.connect(
                f"{self.server.ws_url}/ws/jobs/?token={key}&previews=0", origin=self.server.url, max_size=None
            )
            for key in self.keys
        ]
        for socket in self._sockets:
            await socket.recv()  # the snapshot
            self._tasks.append(asyncio.create_task(self._read(socket)))
        return self

    async def _read(self, socket: Any) -> None:
        async for raw in socket:
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "job.started":
                self.stamps.setdefault(event["job"], {})["started"] = event["ts"]
            if kind in ("job.succeeded", "job.failed", "job.canceled"):
                self.finished.setdefault(event["job"], (kind, time.perf_counter()))
                self.stamps.setdefault(event["job"], {}).update(finished=event["ts"], received=time.time())

    async def wait_for(self, job_ids: set[int], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not job_ids <= self.finished.keys():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(job_ids - self.finished.keys())} jobs did not finish in {timeout} s")
            await asyncio.sleep(0.005)

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for socket in self._sockets:
            await socket.close()
