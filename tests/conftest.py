import io
import logging

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts import throttling
from accounts.models import Tier
from accounts.selectors import clear_tier_cache
from accounts.tiers import DEFAULT_TIERS

from .factories import JOB_REQUEST, UserFactory
from .processes import CHILD_APPLICATION_NAME, WorkerProcess


def pytest_report_header(config):
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [
        f"zimage test services: database={db} redis={settings.REDIS_URL} "
        f"(embedded={bool(__import__('os').environ.get('ZIMAGE_TEST_EMBEDDED_REDIS'))}) "
        f"diffusion={settings.DIFFUSION_BACKEND} data={settings.DATA_DIR}"
    ]


@pytest.fixture(scope="session", autouse=True)
def clean_redis():
    """Tests own Redis database 9: start from empty so no stale broker message or key leaks in."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield


@pytest.fixture(scope="session", autouse=True)
def background_sessions_closed_before_the_database_goes(django_db_setup, django_db_blocker):
    """This process's background threads (queue places, webhook fan-out, store thread) keep their sessions between
    items, as in a worker: ended before the test database is dropped, which refuses while any is open."""
    from django.db import connection

    from generation.events import stop_queue_refresher

    yield
    stop_queue_refresher()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def fresh_tier_cache():
    """A test's tier changes are rolled back with its transaction, which sends no signal: forget them."""
    yield
    clear_tier_cache()


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Every test client calls from 127.0.0.1 and user ids restart: forget earlier tests' rate counters."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{throttling.KEY_PREFIX}*", count=10_000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


def client_for(user) -> APIClient:
    """An API client signed in as `user` (no key, no session: the API's own authentication is tested apart)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def bearer(token: str) -> APIClient:
    """An API client that sends `token` as `Authorization: Bearer` (a JWT or an API key)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def errors_of(call) -> dict[str, list[str]]:
    """The field errors of the ValidationError that `call()` must raise."""
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


@pytest.fixture
def api_client(user):
    return client_for(user)


@pytest.fixture
def set_tier(db):
    """Change a plan's limits for this test: `set_tier("free", max_queued_jobs=1)`."""

    def change(name: str = "free", **limits) -> Tier:
        defaults = DEFAULT_TIERS[name]
        fields = [field.name for field in Tier._meta.fields if field.name != "name"]
        values = {field: getattr(defaults, field) for field in fields} | limits
        tier, _ = Tier.objects.update_or_create(name=name, defaults=values)
        return tier

    return change


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
    from generation.ops.monitoring import queue_names

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*queue_names())
    yield client
    client.delete(*queue_names())


@pytest.fixture
def submit():
    """`submit(user, **fields)`: generation.services.submit_job as the API calls it, JOB_REQUEST's fields
    under `fields`. Validated, stored queued, credits reserved; dispatched only once its transaction commits."""
    from generation.services import submit_job

    def submit(user, **fields):
        return submit_job(user=user, **(JOB_REQUEST | fields))

    return submit


@pytest.fixture
def submit_api():
    """`submit_api(client, **fields)`: POST /api/v1/jobs with JOB_REQUEST's fields under `fields`; the accepted
    job's body (a refusal fails the test)."""

    def submit(client, **fields) -> dict:
        response = client.post("/api/v1/jobs", JOB_REQUEST | fields, format="json")
        assert response.status_code == 202, response.content
        return response.json()

    return submit


@pytest.fixture
def ip_adapter_weights(settings, tmp_path):
    """DIFFUSION_WEIGHTS_DIR (this process's; pass it to a worker's environment too) holding tiny random IP-Adapter
    weights for the tiny SDXL, in the h94/IP-Adapter layout the worker loads them from."""
    from generation.engine.diffusion.tiny import save_tiny_ip_adapter

    weights_dir = tmp_path / "weights"
    settings.DIFFUSION_WEIGHTS_DIR = str(weights_dir)
    save_tiny_ip_adapter(weights_dir)
    return weights_dir


@pytest.fixture
def worker(transactional_db):
    """A real Celery worker process running the tiny diffusion pipeline."""
    process = WorkerProcess().ready()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def module_worker(django_db_setup, django_db_blocker):
    """One real Celery worker process (tiny pipeline) for a whole test module: for e2e modules whose tests each
    run a short job, so the model loads once. Each test still asks for `transactional_db` (the worker reads
    committed rows only)."""
    from django.db import connection

    from .waiting import wait_until

    process = WorkerProcess().ready()
    yield process
    process.stop()

    def worker_sessions_gone() -> bool:  # a killed client's backend ends a moment later; the teardown drops the db
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [CHILD_APPLICATION_NAME],
            )
            return cursor.fetchone()[0] == 0

    wait_until(worker_sessions_gone, timeout=15, message="the worker's database sessions to end")


@pytest.fixture
def start_worker(transactional_db):
    """Start workers with custom settings; all are stopped after the test."""
    started = []

    def start(**kwargs):
        process = WorkerProcess(**kwargs)
        started.append(process)
        return process.ready()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def private_broker(tmp_path, monkeypatch):
    """Point this process's Celery app at a broker of the test's own that it can stop and start: a redis-server,
    or a private RabbitMQ node when the suite runs on RabbitMQ (CELERY_BROKER_URL=amqp://...)."""
    from core.brokers import uses_rabbitmq
    from zimage.celery import app as celery_app

    from .rabbitmq_node import RabbitMQNode, can_run_private_node
    from .redis_server import RedisServer

    if uses_rabbitmq(settings.CELERY_BROKER_URL):
        if (why := can_run_private_node()) is not None:
            pytest.skip(f"no private RabbitMQ node: {why}")
        server = RabbitMQNode().start()
    else:
        server = RedisServer(tmp_path / "broker").start()
    previous = celery_app.conf.broker_url

    def use(url):
        # Celery reads CELERY_BROKER_URL from the environment before its conf (the RabbitMQ pass sets it there):
        # both must name the private broker, or this process would publish to the shared one.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        celery_app.conf.broker_url = url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    use(server.url)
    yield server
    if isinstance(server, RabbitMQNode):
        server.remove()
    else:
        server.stop()
    use(previous)


@pytest.fixture
def console():
    """What the console handler (LOGGING's only one) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)
