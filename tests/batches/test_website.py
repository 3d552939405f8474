"""The website: the generate page's "All channel sizes" block makes a batch; the batch page is its owner's."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from batches.models import Batch
from generation.engine.models_catalog import SIZE_PRESETS
from generation.models import GenerationJob

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

FORM = {"prompt": "a linen summer dress", "production_path": "fashion", "num_images": "1", "steps": "2"}


@pytest.fixture
def site(client, user):
    client.force_login(user)
    return client


def test_the_generate_page_offers_every_channel_size_ticked(site):
    page = site.get("/generate/").content.decode()
    assert "data-batch-sizes" in page and 'formaction="/batches/"' in page
    for name in SIZE_PRESETS:
        assert f'name="batch_sizes" value="{name}" checked' in page


def test_a_chosen_subset_of_sizes_makes_a_batch_and_opens_its_page(site, user):
    response = site.post("/batches/", FORM | {"batch_sizes": ["1:1", "9:16"]})
    batch = Batch.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert sorted(batch.entries.values_list("size_preset", flat=True)) == ["1:1", "9:16"]
    page = site.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="job-row"') == 2 and "data-jobs-live" in html
    assert "/download" not in html  # no image yet: no zip link


def test_no_size_ticked_goes_back_to_the_form_with_a_message_and_creates_nothing(site, user):
    response = site.post("/batches/", FORM)
    assert response.status_code == 302 and response["Location"] == "/generate/"
    assert any("Channel sizes" in str(message) for message in get_messages(response.wsgi_request))
    assert not Batch.objects.exists() and not GenerationJob.objects.exists()


def test_a_batch_the_credits_do_not_cover_creates_nothing(client):
    poor = UserFactory(credits=1)
    client.force_login(poor)
    response = client.post("/batches/", FORM | {"batch_sizes": ["1:1", "9:16"]})
    assert response.status_code == 302 and response["Location"] == "/generate/"
    assert any("2 credits" in str(message) for message in get_messages(response.wsgi_request))
    assert not Batch.objects.exists()


def test_another_users_batch_page_is_a_404(site):
    other = UserFactory()
    from ..conftest import client_for

    theirs = (
        client_for(other).post("/api/v1/batches", {"prompt": "x", "size_presets": ["1:1"]}, format="json").json()["id"]
    )
    assert site.get(f"/batches/{theirs}/").status_code == 404
