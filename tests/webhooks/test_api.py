"""The webhook endpoints' API: secrets shown once, field errors, the SSRF checks on save, owner isolation."""

import pytest
from django.test import override_settings

from generation.models import GenerationJob
from tests.conftest import client_for
from tests.factories import JOB_REQUEST
from webhooks.models import WebhookEndpoint


def create(client, **body):
    return client.post("/api/v1/webhooks", {"url": "https://example.com/hook", **body}, format="json")


def test_it_answers_the_secret_once(api_client, user):
    response = create(api_client, events=["started", "completed"], description="CRM")
    assert response.status_code == 201, response.content
    assert response.json()["secret"].startswith("whsec_")
    listed = api_client.get("/api/v1/webhooks").json()["results"]
    assert [item["id"] for item in listed] == [response.json()["id"]]
    assert "secret" not in listed[0]


def test_events_default_to_completed(api_client):
    assert create(api_client).json()["events"] == ["completed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["finished"]}, "events"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "ftp://example.com/hook"}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, body, field):
    response = create(api_client, **body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOW_HTTP=False)
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
    ],
)
def test_private_addresses_are_refused(api_client, url):
    response = create(api_client, url=url)
    assert response.status_code == 400
    assert "private" in response.json()["error"]["fields"]["url"][0]


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_is_refused_unless_allowed(api_client):
    assert create(api_client, url="http://example.com/hook").status_code == 400


def test_update_and_rotate(api_client):
    created = create(api_client).json()
    changed = api_client.patch(f"/api/v1/webhooks/{created['id']}", {"events": ["image"]}, format="json")
    assert changed.json()["events"] == ["image"]
    rotated = api_client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]


def test_another_users_objects_are_404(api_client, other_user, submit):
    theirs = create(client_for(other_user)).json()
    their_job = submit(other_user)
    for method, path in [
        ("get", f"/api/v1/webhooks/{theirs['id']}"),
        ("patch", f"/api/v1/webhooks/{theirs['id']}"),
        ("delete", f"/api/v1/webhooks/{theirs['id']}"),
        ("post", f"/api/v1/webhooks/{theirs['id']}/rotate-secret"),
        ("get", f"/api/v1/webhooks/{theirs['id']}/deliveries"),
        ("post", f"/api/v1/webhooks/{theirs['id']}/deliveries/1/redeliver"),
        ("get", f"/api/v1/jobs/{their_job.pk}/webhook-deliveries"),
        ("post", f"/api/v1/jobs/{their_job.pk}/webhook-deliveries/1/redeliver"),
    ]:
        response = getattr(api_client, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert WebhookEndpoint.objects.filter(pk=theirs["id"]).exists()


def test_a_job_takes_its_own_webhook(api_client, user, receiver):
    body = JOB_REQUEST | {"webhook_url": receiver.url, "webhook_events": ["started", "completed"]}
    response = api_client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    endpoint = WebhookEndpoint.objects.get(job_id=response.json()["id"])
    assert endpoint.events == ["started", "completed"]
    assert endpoint.secret == api_client.get("/api/v1/webhooks/default/secret").json()["secret"]


def test_a_bad_job_webhook_writes_nothing(api_client, user):
    body = JOB_REQUEST | {"webhook_url": "https://example.com/hook", "webhook_events": ["done"]}
    response = api_client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["webhook_events"]
    assert not GenerationJob.objects.filter(owner=user).exists()
    user.refresh_from_db()
