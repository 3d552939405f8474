"""What workers and sockets report for the metrics: GPU memory in the heartbeat, open WebSockets in Redis."""

import json
import sys
from types import ModuleType, SimpleNamespace

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from generation import worker
from generation.ops import monitoring
from zimage.asgi import application

from ..generation.test_consumers import closed_with


class FakeRedis:
    def __init__(self):
        self.values = {}

    def set(self, key, value, ex=None):
        self.values[key] = value


def heartbeat_payload() -> dict:
    client = FakeRedis()
    worker._beat_once(client)
    return json.loads(client.values[worker.heartbeat_key()])


@pytest.fixture
def cuda_state(monkeypatch):
    monkeypatch.setattr(worker, "_cuda", {})


def fake_torch(*, cuda: bool, reserved: int = 0):
    return SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: cuda, memory_reserved=lambda: reserved))


def test_the_heartbeat_has_no_gpu_memory_without_torch_loaded(monkeypatch, cuda_state):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    worker.watch_cuda()
    assert "gpu_memory_mb" not in heartbeat_payload()
    assert "torch" not in sys.modules  # looking never imports it


def test_the_heartbeat_has_no_gpu_memory_without_cuda(monkeypatch, cuda_state):
    monkeypatch.setitem(sys.modules, "torch", fake_torch(cuda=False))
    worker.watch_cuda()
    assert "gpu_memory_mb" not in heartbeat_payload()


def test_the_heartbeat_reports_the_gpu_memory_the_process_holds(monkeypatch, cuda_state):
    monkeypatch.setitem(sys.modules, "torch", fake_torch(cuda=True, reserved=3 * 2**30))
    worker.watch_cuda()
    assert heartbeat_payload()["gpu_memory_mb"] == 3072.0


def test_a_heartbeat_while_the_backend_is_still_importing_torch_does_not_touch_it(monkeypatch, cuda_state):
    monkeypatch.setitem(sys.modules, "torch", ModuleType("torch"))  # partially imported: no `cuda` yet
    assert "gpu_memory_mb" not in heartbeat_payload()


def test_the_heartbeat_lists_the_models_the_process_holds_loaded(monkeypatch, settings):
    from generation.engine.diffusion import pool
    from generation.engine.diffusion.backends import TinyBackend
    from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

    monkeypatch.setattr(pool, "_current", None)
    assert heartbeat_payload()["models"] == []  # before the backend is built
    backend = TinyBackend()
    backend._pipeline(SDXL)
    beat = heartbeat_payload()["models"]
    assert [entry["model"] for entry in beat] == [Z_IMAGE_TURBO, SDXL]  # least recently used first
    assert all(entry["bytes"] > 0 and entry["offloaded"] is False for entry in beat)
    backend.forget_model(Z_IMAGE_TURBO)
    assert [entry["model"] for entry in heartbeat_payload()["models"]] == [SDXL]
    status = monitoring._worker_status(heartbeat_payload(), now=0)
    assert [entry["model"] for entry in status.models] == [SDXL]


@pytest.mark.django_db(transaction=True)
def test_open_websockets_are_counted_and_closing_uncounts_them(user, redis_client):
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]

    async def run():
        sockets = [WebsocketCommunicator(application, "/ws/jobs/", headers=headers) for _ in range(2)]
        for socket in sockets:
            assert (await socket.connect(timeout=5))[0]
        opened = await sync_to_async(monitoring.websocket_connections)()
        assert await sync_to_async(monitoring.watches_job_list)(user.pk)
        refused = WebsocketCommunicator(application, "/ws/jobs/", headers=headers[:1])  # anonymous: never counted
        assert await closed_with(refused) == 4401
        after_refusal = await sync_to_async(monitoring.websocket_connections)()
        for socket in sockets:
            await socket.disconnect()
        return opened, after_refusal, await sync_to_async(monitoring.websocket_connections)()

    assert async_to_sync(run)() == (2, 2, 0)
    assert not monitoring.watches_job_list(user.pk)
