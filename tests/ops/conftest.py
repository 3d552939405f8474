import pytest
import redis
from django.conf import settings

from generation.ops.monitoring import WEBSOCKET_CONNECTIONS_KEY


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(WEBSOCKET_CONNECTIONS_KEY)
    yield client
    client.delete(WEBSOCKET_CONNECTIONS_KEY)
