import pytest
import redis
from django.conf import settings

from generation.ops.monitoring import WEBSOCKET_CONNECTIONS_KEY, queue_names


@pytest.fixture
def broker():
    """The real broker's Redis, with the job queues emptied before and after the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*queue_names())
    yield client
    client.delete(*queue_names())


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(WEBSOCKET_CONNECTIONS_KEY)
    yield client
    client.delete(WEBSOCKET_CONNECTIONS_KEY)
