import pytest

from ..factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, credits=0)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def broker():
    """The real broker's Redis, with the job queues emptied before and after the test."""
    import redis
    from django.conf import settings

    from generation.ops.monitoring import queue_names

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*queue_names())
    yield client
    client.delete(*queue_names())
