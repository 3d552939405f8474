"""What workers and sockets report for the metrics: GPU memory in the heartbeat, open WebSockets in Redis."""

import json
import sys
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from generation import monitoring, worker
from zimage.asgi import application


class FakeRedis:
    def __init__(self):
        self.values = {}

    def set(self, key, value, ex=None):
        self.values[key] = value


def heartbeat_payload() -> dict:
    client = FakeRedis()
    worker._beat_once(client)
    return json.loads(client.values[worker.heartbeat_key()])


def test_the_heartbeat_has_no_gpu_memory_without_torch_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert "gpu_memory_mb" not in heartbeat_payload()
    assert "torch" not in sys.modules  # looking never imports it


def test_the_heartbeat_has_no_gpu_memory_without_cuda(monkeypatch):
    torch = SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: False, memory_reserved=lambda: 1 / 0))
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert "gpu_memory_mb" not in heartbeat_payload()


def test_the_heartbeat_reports_the_gpu_memory_the_process_holds(monkeypatch):
    torch = SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: True, memory_reserved=lambda: 3 * 2**30))
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert heartbeat_payload()["gpu_memory_mb"] == 3072.0


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
        refused = WebsocketCommunicator(application, "/ws/jobs/", headers=headers[:1])  # anonymous: never counted
        assert not (await refused.connect(timeout=5))[0]
        after_refusal = await sync_to_async(monitoring.websocket_connections)()
        for socket in sockets:
            await socket.disconnect()
        return opened, after_refusal, await sync_to_async(monitoring.websocket_connections)()

    assert async_to_sync(run)() == (2, 2, 0)
