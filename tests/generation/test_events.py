"""Publishing job events: never blocking or failing a job, whatever state the channel layer is in; one order per
job whichever process publishes; queued jobs told their place."""

from __future__ import annotations

import socket
import time

import pytest
import torch

from core.redis_clients import shared_redis
from generation import events, runner, selectors
from generation.models import GenerationJob, JobStatus
from generation.ops import monitoring

from ..factories import GenerationJobFactory
from ..waiting import wait_until


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def point_events_at(settings, monkeypatch, url: str) -> None:
    """Channel layer and event counters on `url`, with a fresh publisher thread built on them."""
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    monkeypatch.setattr(events, "_publisher", None)


@pytest.fixture
def unreachable_events(settings, monkeypatch):
    point_events_at(settings, monkeypatch, f"redis://127.0.0.1:{closed_port()}/0")


@pytest.fixture
def hung_events(settings, monkeypatch):
    """A Redis that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    point_events_at(settings, monkeypatch, f"redis://127.0.0.1:{server.getsockname()[1]}/0")
    yield
    server.close()


class BrokenPublisher:
    def submit(self, event):
        raise RuntimeError("Event loop is closed")


@pytest.fixture
def running_job(user) -> GenerationJob:
    """A job of six steps, claimed by the worker "test-host:1" that the reporters below speak for."""
    return GenerationJobFactory(owner=user, running=True, steps=6, worker_id="test-host:1")


@pytest.mark.django_db
class TestPublisher:
    def test_an_unreachable_channel_layer_costs_log_lines_not_errors(
        self, user, unreachable_events, caplog, running_job
    ):
        job = running_job
        assert events.publish(job, "job.started", total=6)
        assert events.publish(job, "job.progress", step=1, total=6, percent=17, eta_seconds=1.0)
        publisher = events.get_publisher()
        assert publisher.flush(timeout=30)
        assert publisher._thread.is_alive()
        assert "could not publish job event" in caplog.text

    def test_publishing_returns_at_once_while_the_channel_layer_hangs(self, user, hung_events, running_job):
        job = running_job
        started = time.perf_counter()
        for step in range(200):
            events.publish(job, "job.progress", step=step, total=200, percent=0, eta_seconds=None)
        assert time.perf_counter() - started < 0.5

    def test_a_full_queue_drops_events_instead_of_growing_or_blocking(
        self, user, hung_events, monkeypatch, running_job
    ):
        monkeypatch.setattr(events, "MAX_PENDING_EVENTS", 5)
        job = running_job
        sent = [
            events.publish(job, "job.progress", step=step, total=9, percent=0, eta_seconds=None) for step in range(9)
        ]
        assert sent == [True] * 5 + [False] * 4

    def test_each_jobs_events_are_numbered_in_the_order_published_while_jobs_go_out_in_parallel(self):
        publisher = events.get_publisher()
        base = 10**9 + int(time.time() * 1000) % 10**6 * 100  # job ids no test database reaches
        sent = [
            {"type": "job.progress", "job": base + job, "owner": 1, "status": "running", "step": step}
            for step in range(1, 6)
            for job in range(40)
        ]
        for event in sent:
            assert publisher.submit(event)
        assert publisher.flush(timeout=30)
        for job in range(40):
            assert [event["seq"] for event in sent if event["job"] == base + job] == [1, 2, 3, 4, 5]

    def test_publish_never_raises_when_the_publisher_itself_is_broken(self, user, monkeypatch, running_job):
        monkeypatch.setattr(events, "get_publisher", BrokenPublisher)
        assert events.publish(running_job, "job.started", total=6) is False

    def test_an_unknown_event_type_is_a_programming_error(self, user, running_job):
        with pytest.raises(ValueError, match=r"job\.exploded"):
            events.publish(running_job, "job.exploded")


@pytest.mark.django_db
class TestProgressReporter:
    @pytest.fixture
    def published(self, monkeypatch):
        sent = []
        monkeypatch.setattr(events, "publish", lambda job, event_type, **data: sent.append((event_type, data)))
        return sent

    def test_publish_failures_never_reach_the_denoising_loop(self, user, monkeypatch, running_job):
        monkeypatch.setattr(events, "get_publisher", BrokenPublisher)
        job = running_job
        reporter = runner.ProgressReporter(job, "test-host:1", publish_interval=0)
        for step in range(1, 7):
            reporter.on_step(step, 6, torch.randn(1, 16, 8, 8))
        job.refresh_from_db()
        assert (job.progress_step, job.status) == (6, JobStatus.RUNNING)

    def test_a_preview_rides_along_every_n_steps(self, user, settings, published, running_job):
        settings.WS_PREVIEW_EVERY_STEPS = 2
        reporter = runner.ProgressReporter(running_job, "test-host:1", publish_interval=0)
        for step in range(1, 7):
            reporter.on_step(step, 6, torch.randn(1, 16, 8, 8))
        with_preview = [data["step"] for _, data in published if "preview" in data]
        assert with_preview == [2, 4, 6]
        assert all(data["preview"].startswith("data:image/webp;base64,") for _, data in published if "preview" in data)
        assert [data["step"] for _, data in published] == [1, 2, 3, 4, 5, 6]

    def test_previews_are_drawn_only_for_events_that_are_sent(
        self, user, settings, published, monkeypatch, running_job
    ):
        settings.WS_PREVIEW_EVERY_STEPS = 1
        drawn = []
        monkeypatch.setattr(
            "generation.engine.latent_previews.preview_from_latents", lambda latents: drawn.append(1) or "data:,"
        )
        reporter = runner.ProgressReporter(running_job, "test-host:1", publish_interval=60)
        reporter.last_publish = time.monotonic()
        for step in range(1, 7):
            reporter.on_step(step, 6, torch.randn(1, 16, 8, 8))
        assert [data["step"] for _, data in published] == [6]  # rate-limited: only the last step goes out
        assert len(drawn) == 1

    def test_no_preview_when_disabled_or_without_latents(self, user, settings, published, running_job):
        reporter = runner.ProgressReporter(running_job, "test-host:1", publish_interval=0)
        settings.WS_PREVIEW_EVERY_STEPS = 0
        reporter.on_step(2, 6, torch.randn(1, 16, 8, 8))
        settings.WS_PREVIEW_EVERY_STEPS = 1
        reporter.on_step(4, 6, None)
        assert all("preview" not in data for _, data in published) and len(published) == 2

    def test_a_preview_that_cannot_be_drawn_leaves_the_event_without_one(self, user, settings, published, running_job):
        settings.WS_PREVIEW_EVERY_STEPS = 1
        reporter = runner.ProgressReporter(running_job, "test-host:1", publish_interval=0)
        reporter.on_step(1, 6, torch.randn(1, 7, 8, 8))
        ((event_type, data),) = published
        assert event_type == "job.progress" and "preview" not in data and data["percent"] == 17


@pytest.mark.django_db(transaction=True)
def test_a_job_succeeds_when_the_event_layer_is_unreachable(user, unreachable_events, submit):
    job = submit(user, steps=3)
    assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.images.count(), job.progress_step) == (JobStatus.SUCCEEDED, 1, 3)


def recorded_types(job_id: int) -> list[str]:
    return [entry.event["type"] for entry in events.job_history(job_id)[1]]


@pytest.mark.django_db
class TestOneOrder:
    """Every event of a job is numbered by one Redis script, whichever process publishes it."""

    def test_a_new_jobs_queued_event_is_numbered_by_the_submit_itself(
        self, user, submit, django_capture_on_commit_callbacks
    ):
        shared_redis().set(monitoring.user_sockets_key(user.pk), 1)  # someone has the job list open
        with django_capture_on_commit_callbacks(execute=True):
            job = submit(user)
        # No flush of the publisher thread: the number was taken before the job was handed to its worker.
        counter, history = events.job_history(job.pk)
        assert counter == 1 and [entry.event["type"] for entry in history] == ["job.queued"]
        assert history[0].event["queue_position"] == 0 and history[0].event["estimated_start_seconds"] == 0

    def test_nobody_watching_means_no_queued_event_and_no_number(
        self, user, submit, django_capture_on_commit_callbacks
    ):
        shared_redis().delete(monitoring.user_sockets_key(user.pk))
        with django_capture_on_commit_callbacks(execute=True):
            job = submit(user)
        assert events.job_history(job.pk) == (0, [])

    def test_the_job_and_the_account_numbers_are_taken_together(self, user, running_job):
        other = GenerationJobFactory(owner=user, running=True)
        for job in (running_job, other, running_job):
            events.publish(job, "job.progress", step=1, total=6, percent=17, eta_seconds=1.0, preview="data:,")
        assert events.get_publisher().flush(timeout=10)
        counter, entries = events.account_history(user.pk)
        assert [entry.account_seq for entry in entries] == list(range(counter - 2, counter + 1))
        assert [(entry.event["job"], entry.seq) for entry in entries] == [
            (running_job.pk, 1),
            (other.pk, 1),
            (running_job.pk, 2),
        ]
        assert all("preview" not in entry.event for entry in entries), "the history leaves previews out"


@pytest.mark.django_db
class TestQueuePlaces:
    def test_the_api_tells_a_queued_job_its_place_and_wait(self, user, api_client):
        running = GenerationJobFactory(owner=user, running=True)
        first, second = GenerationJobFactory(owner=user), GenerationJobFactory(owner=user)
        bodies = [api_client.get(f"/api/v1/jobs/{job.pk}").json() for job in (running, first, second)]
        assert [body["queue_position"] for body in bodies] == [None, 0, 1]
        assert bodies[0]["estimated_start_seconds"] is None
        assert 0 < bodies[1]["estimated_start_seconds"] < bodies[2]["estimated_start_seconds"]

    def test_the_snapshot_tells_queued_jobs_their_place(self, user):
        GenerationJobFactory(owner=user, running=True)
        GenerationJobFactory(owner=user)
        places = {job["status"]: job["queue_position"] for job in selectors.job_snapshot(user)}
        assert places == {"running": None, "queued": 0}

    def test_when_a_job_starts_the_queued_jobs_behind_it_hear_their_new_place(self, user):
        queued = [GenerationJobFactory(owner=user) for _ in range(3)]
        GenerationJobFactory(owner=user, production_path="beauty")  # another path's queue is not touched
        assert events.announce_queue_positions("fashion") == 3
        assert events.get_publisher().flush(timeout=10)
        places = [events.job_history(job.pk)[1][-1].event for job in queued]
        assert [(event["type"], event["queue_position"]) for event in places] == [("job.queued", n) for n in range(3)]

    def test_a_place_announced_after_the_job_started_is_dropped(self, user, running_job):
        events.publish(running_job, "job.started", total=6)
        events.publish(running_job, "job.queued", refresh=True, queue_position=0, estimated_start_seconds=1.0)
        assert events.get_publisher().flush(timeout=10)
        assert recorded_types(running_job.pk) == ["job.started"]

    def test_a_retried_job_hears_its_place_again(self, user, running_job):
        events.publish(running_job, "job.queued", retry_count=1, error="worker lost")
        events.publish(running_job, "job.queued", refresh=True, queue_position=2, estimated_start_seconds=9.0)
        assert events.get_publisher().flush(timeout=10)
        assert recorded_types(running_job.pk) == ["job.queued", "job.queued"]


@pytest.mark.django_db(transaction=True)
def test_the_places_are_announced_by_the_publishing_processs_own_thread(user):
    """What a claim asks for when others wait on its path (the claiming thread only queues the path)."""
    waiting = GenerationJobFactory(owner=user)
    events.request_queue_refresh(waiting.production_path)
    wait_until(lambda: recorded_types(waiting.pk) == ["job.queued"], timeout=10, message="a place announced")
    assert events.job_history(waiting.pk)[1][0].event["queue_position"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_start_announces_the_new_places_of_the_jobs_still_waiting_on_its_path(user, other_user):
    first, waiting = GenerationJobFactory(owner=user), GenerationJobFactory(owner=other_user)
    assert runner.execute_job(job_id=first.pk, dispatch_token=str(first.dispatch_token)) == "succeeded"
    wait_until(lambda: recorded_types(waiting.pk) == ["job.queued"], timeout=10, message="the waiting job's place")
    assert events.job_history(waiting.pk)[1][0].event["queue_position"] == 0


@pytest.mark.django_db
class TestQueuePlaceOnTheJobPage:
    def test_a_queued_job_page_says_how_many_jobs_start_before_it(self, user, client):
        ahead = [GenerationJobFactory(owner=user) for _ in range(2)]
        job = GenerationJobFactory(owner=user)
        client.force_login(user)
        page = client.get(f"/jobs/{job.pk}/").content.decode()
        assert "2 jobs start before this one: it should start in about" in page
        assert "Next in line" in client.get(f"/jobs/{ahead[0].pk}/").content.decode()

    def test_the_place_is_said_in_korean(self, user, client):
        job = GenerationJobFactory(owner=user)
        client.force_login(user)
        page = client.get(f"/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
        assert "다음 차례입니다" in page and "data-text-many=" in page and "{count}" in page

    def test_a_running_job_page_has_no_place(self, user, client):
        job = GenerationJobFactory(owner=user, running=True)
        client.force_login(user)
        page = client.get(f"/jobs/{job.pk}/").content.decode()
        tag, text = page.split('data-field="queue"')[1].split("</p>")[0].split(">", 1)
        assert tag.endswith(" hidden") and not text.strip()


@pytest.mark.django_db
class TestOneCallSend:
    """The numbering and both group sends in one Redis script (events.SEND_EVENT), read back through the channel
    layer's own receive: what channels_redis's group_send would have delivered."""

    @staticmethod
    def receive_all(groups: dict[str, list[str]], publish) -> dict[str, list[dict]]:
        """Sockets' channels added to `groups` ({group: [socket names]}), then `publish()`, then what each got."""
        import asyncio

        from channels.layers import get_channel_layer

        async def run() -> dict[str, list[dict]]:
            layer = get_channel_layer()
            sockets = {name: await layer.new_channel() for names in groups.values() for name in names}
            for group, names in groups.items():
                for name in names:
                    await layer.group_add(group, sockets[name])
            await asyncio.get_running_loop().run_in_executor(None, publish)
            received: dict[str, list[dict]] = {name: [] for name in sockets}
            for name, channel in sockets.items():
                while True:
                    try:
                        received[name].append(await asyncio.wait_for(layer.receive(channel), 0.3))
                    except TimeoutError:
                        break
            return received

        return asyncio.run(run())

    def test_the_channel_layer_sends_directly_here(self):
        from channels.layers import get_channel_layer

        assert events._sends_directly(get_channel_layer())

    def test_an_encrypted_channel_layer_gets_its_own_group_send(self, user, running_job, settings, monkeypatch):
        from channels.layers import get_channel_layer

        layer = dict(settings.CHANNEL_LAYERS["default"])
        layer["CONFIG"] = {**layer["CONFIG"], "symmetric_encryption_keys": ["a test key"]}
        settings.CHANNEL_LAYERS = {"default": layer}
        monkeypatch.setattr(events, "_publisher", None)

        def publish() -> None:
            events.publish(running_job, "job.started", total=6)
            assert events.get_publisher().flush(timeout=10)

        got = self.receive_all({events.user_group(user.pk): ["list"]}, publish)

        assert not events._sends_directly(get_channel_layer())
        assert [(message["event"]["type"], message["event"]["seq"]) for message in got["list"]] == [("job.started", 1)]

    def test_each_socket_gets_the_numbered_event_once_per_group_it_is_in(self, user, running_job):
        job = running_job

        def publish() -> None:
            events.publish(job, "job.progress", step=1, total=6, percent=17, eta_seconds=None, preview="data:,x")
            assert events.get_publisher().flush(timeout=10)

        got = self.receive_all(
            {events.user_group(user.pk): ["list", "page"], events.job_group(job.pk): ["page"]}, publish
        )

        expected = {"type": "job.progress", "job": job.pk, "owner": user.pk, "status": "running", "step": 1}
        expected |= {"total": 6, "percent": 17, "eta_seconds": None, "preview": "data:,x", "seq": 1}
        assert [message["type"] for message in got["list"] + got["page"]] == ["job.event"] * 3
        for message in got["list"] + got["page"]:
            event = message["event"]
            assert {key: event[key] for key in expected} == expected and event["account_seq"] >= 1
        assert len(got["list"]) == 1 and len(got["page"]) == 2

    def test_an_event_numbered_by_the_submit_is_sent_with_its_numbers_not_numbered_again(self, user, running_job):
        def publish() -> None:
            events.publish(running_job, "job.queued", new_job=True, number_now=True)
            assert events.get_publisher().flush(timeout=10)

        got = self.receive_all(
            {events.user_group(user.pk): ["list"], events.job_group(running_job.pk): ["page"]}, publish
        )

        ((message,),) = [got["list"]]
        assert message["event"]["seq"] == 1 and events.job_history(running_job.pk)[0] == 1
        assert got["page"] == [], "a new job's event goes to its owner's sockets only"

    def test_a_refused_queue_refresh_reaches_no_socket(self, user, running_job):
        def publish() -> None:
            events.publish(running_job, "job.started", total=6)
            events.publish(running_job, "job.queued", refresh=True, queue_position=0, estimated_start_seconds=1.0)
            assert events.get_publisher().flush(timeout=10)

        got = self.receive_all({events.user_group(user.pk): ["list"]}, publish)

        assert [message["event"]["type"] for message in got["list"]] == ["job.started"]
