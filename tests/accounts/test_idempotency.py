"""Idempotency-Key on job submits: replay, conflicts, concurrent duplicates, and what is not stored."""

import contextlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from accounts.idempotency import fingerprint, purge_expired, run_idempotent
from accounts.models import IdempotencyRecord
from accounts.services import grant_credits
from generation.models import GenerationJob

from ..conftest import client_for
from ..factories import JOB_REQUEST, GenerationJobFactory, UserFactory
from ..waiting import wait_until

pytestmark = pytest.mark.django_db


def post(client, body, key="key-1"):
    return client.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def client_and_user():
    user = UserFactory(credits=10)
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def test_the_same_key_and_body_return_the_first_response_without_a_second_job(client_and_user):
    client, user = client_and_user
    first = post(client, JOB_REQUEST)
    again = post(client, dict(reversed(list(JOB_REQUEST.items()))))  # same body, other key order
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert GenerationJob.objects.filter(owner=user).count() == 1
    user.refresh_from_db()
    assert user.credit_balance == 9


def test_the_same_key_with_another_body_is_409(client_and_user):
    client, user = client_and_user
    post(client, JOB_REQUEST)
    response = post(client, JOB_REQUEST | {"prompt": "something else"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert GenerationJob.objects.filter(owner=user).count() == 1


def test_keys_are_per_user(client_and_user):
    client, _ = client_and_user
    post(client, JOB_REQUEST)
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert post(other, JOB_REQUEST).status_code == 202
    assert GenerationJob.objects.count() == 2


def test_a_validation_failure_stores_nothing(client_and_user):
    client, _ = client_and_user
    assert post(client, JOB_REQUEST | {"width": 1}).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert post(client, JOB_REQUEST).status_code == 202


def test_a_refusal_for_credits_stores_nothing_so_a_retry_after_topping_up_works(client_and_user):
    client, user = client_and_user
    body = JOB_REQUEST | {"num_images": 4}
    assert post(client, body, key="k1").status_code == 202
    assert post(client, body, key="k2").status_code == 202
    assert post(client, body, key="k3").status_code == 402
    assert not IdempotencyRecord.objects.filter(key="k3").exists()
    grant_credits(user=user, amount=10, reason="Top-up", idempotency_key="top-up")
    assert post(client, body, key="k3").status_code == 202


def test_without_a_key_every_post_is_a_new_job(client_and_user):
    client, user = client_and_user
    client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    assert GenerationJob.objects.filter(owner=user).count() == 2


def test_an_overlong_key_is_400(client_and_user):
    client, _ = client_and_user
    assert post(client, JOB_REQUEST, key="k" * 300).status_code == 400


def test_records_are_kept_24_hours_then_purged(client_and_user):
    client, _ = client_and_user
    post(client, JOB_REQUEST, key="old")
    post(client, JOB_REQUEST | {"seed": 8}, key="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyRecord.objects.filter(key="new").update(created_at=timezone.now() - timedelta(hours=23))
    assert purge_expired() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def legacy_in_flight(user, *, age):
    """A committed record without a response: what the release before #19 left when its process died."""
    return IdempotencyRecord.objects.create(
        user=user,
        key="in-flight",
        request_hash=fingerprint("POST", "/api/v1/jobs", JOB_REQUEST),
        created_at=timezone.now() - age,
    )


def test_a_record_left_without_a_response_by_the_old_release_is_taken_over(client_and_user):
    client, user = client_and_user
    legacy_in_flight(user, age=timedelta(minutes=5))
    assert post(client, JOB_REQUEST, key="in-flight").status_code == 202
    assert GenerationJob.objects.filter(owner=user).count() == 1
    assert IdempotencyRecord.objects.get(key="in-flight").response_status == 202


class FirstRequest:
    """The first request with a key, run in a thread through run_idempotent and held open inside its
    transaction (after the claim) until `finish()`: a request that has not answered yet."""

    def __init__(self, user, key, body=JOB_REQUEST, answer=None):
        self.inside = threading.Event()
        self.release = threading.Event()
        self.answer = answer or {"first": True}
        self.thread = threading.Thread(target=self._run, args=(user, key, body))
        self.thread.start()
        assert self.inside.wait(10)

    def _run(self, user, key, body):
        def handler():
            self.inside.set()
            self.release.wait(30)
            return Response(self.answer, status=202)

        try:
            run_idempotent(user=user, key=key, request_hash=fingerprint("POST", "/api/v1/jobs", body), handler=handler)
        finally:
            connection.close()

    def finish(self):
        self.release.set()
        self.thread.join(30)


def post_in_thread(user, key, answers) -> threading.Thread:
    def run():
        try:
            answers.append(post(client_for(user), JOB_REQUEST, key=key))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_sent_while_the_first_runs_waits_for_it_then_replays_its_answer():
    user = UserFactory(credits=10)
    first = FirstRequest(user, "dup")
    answers = []
    duplicate = post_in_thread(user, "dup", answers)
    try:
        wait_until(waiting_on_a_lock, timeout=10, message="the duplicate to wait on the key's row")
        assert not answers
    finally:
        first.finish()
        duplicate.join(30)
    assert answers[0].status_code == 202
    assert answers[0].json() == {"first": True}
    assert answers[0]["Idempotent-Replayed"] == "true"
    assert not GenerationJob.objects.exists()  # the duplicate ran nothing of its own


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_still_waiting_after_the_wait_limit_is_409_in_progress(settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    user = UserFactory(credits=10)
    first = FirstRequest(user, "slow")
    try:
        response = post(client_for(user), JOB_REQUEST, key="slow")
    finally:
        first.finish()
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not GenerationJob.objects.filter(owner=user).exists()


@pytest.mark.django_db(transaction=True)
def test_a_first_request_that_fails_leaves_the_key_free_for_the_duplicate_waiting_on_it(broker):
    user = UserFactory(credits=10)
    holder = threading.Event()
    release = threading.Event()

    def fail():
        holder.set()
        release.wait(30)
        raise RuntimeError("the first request failed")

    def run_first():
        with contextlib.suppress(RuntimeError):
            run_idempotent(
                user=user, key="k", request_hash=fingerprint("POST", "/api/v1/jobs", JOB_REQUEST), handler=fail
            )
        connection.close()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert holder.wait(10)
    answers = []
    duplicate = post_in_thread(user, "k", answers)
    wait_until(waiting_on_a_lock, timeout=10, message="the duplicate to wait on the key's row")
    release.set()
    thread.join(30)
    duplicate.join(30)
    assert answers[0].status_code == 202
    assert "Idempotent-Replayed" not in answers[0]
    assert GenerationJob.objects.filter(owner=user).count() == 1


SPENDING_POSTS = {
    "scene image": lambda w: f"/api/v1/chapters/{w.chapter.pk}/scenes/{w.scene.scene_number}/images",
    "chapter images": lambda w: f"/api/v1/chapters/{w.chapter.pk}/images",
    "character image": lambda w: f"/api/v1/characters/{w.character.pk}/images",
    "variations": lambda w: f"/api/v1/images/{w.image.uuid}/variations",
    "upscale": lambda w: f"/api/v1/images/{w.image.uuid}/upscale",
    "retry": lambda w: f"/api/v1/jobs/{GenerationJobFactory(owner=w.owner, failed=True).pk}/retry",
}


@pytest.mark.parametrize("route", SPENDING_POSTS)
def test_every_credit_spending_post_replays_its_first_answer_for_the_same_key(route):
    from ..api.conftest import make_world

    user = UserFactory(credits=50, tier="pro")
    world = make_world(user)
    url = SPENDING_POSTS[route](world)
    client = client_for(user)
    jobs_before = GenerationJob.objects.filter(owner=user).count()
    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="spend-1")
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="spend-1")
    assert first.status_code == again.status_code == 202, first.content
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert GenerationJob.objects.filter(owner=user).count() == jobs_before + 1  # the world's chapter has one scene
    assert IdempotencyRecord.objects.get(user=user, key="spend-1").response_status == 202
