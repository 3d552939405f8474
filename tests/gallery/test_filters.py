"""One FilterSet (gallery.filters.ImageFilter) behind both the images API and the website's grid: the same query
finds the same images in both; the API refuses what it cannot read, the website ignores it and says so."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from gallery.models import Folder, Tag

from ..factories import GeneratedImageFactory

QUERIES = [
    {},
    {"path": "beauty"},
    {"favourite": "1"},
    {"favourite": "false"},
    {"tag": "campaign"},
    {"q": "red dress"},
    {"folder": "none"},
    {"folder": "FOLDER"},
    {"created_after": "2020-01-01", "q": "red"},
]


@pytest.fixture
def gallery_of():
    """Six images of the user's, and one of someone else's in a folder of theirs."""

    def make(user, other_user):
        folder = Folder.objects.create(owner=user, name="Lookbook")
        campaign = Tag.objects.create(owner=user, name="Campaign")
        GeneratedImageFactory(owner=user, prompt_used="a red dress", folder=folder).tags.add(campaign)
        GeneratedImageFactory(owner=user, prompt_used="red sneakers", is_favourite=True)
        GeneratedImageFactory(owner=user, prompt_used="pink lipstick", production_path="beauty")
        GeneratedImageFactory(owner=user, prompt_used="a burger").tags.add(campaign)
        GeneratedImageFactory(owner=user, prompt_used="red dress, back view", folder=folder)
        GeneratedImageFactory(owner=user, prompt_used="a green dress")
        theirs = Folder.objects.create(owner=other_user, name="Theirs")
        GeneratedImageFactory(owner=other_user, prompt_used="a red dress", folder=theirs)
        return folder

    return make


def website_ids(client: Client, query: dict) -> list[str]:
    response = client.get("/gallery/", query)
    assert response.status_code == 200
    return [str(image.uuid) for image in response.context["page"]]


@pytest.mark.parametrize("query", QUERIES)
def test_the_website_and_the_api_find_the_same_images(api_client, user, other_user, gallery_of, query):
    folder = gallery_of(user, other_user)
    query = {key: (str(folder.pk) if value == "FOLDER" else value) for key, value in query.items()}
    browser = Client()
    browser.force_login(user)

    from_api = [item["id"] for item in api_client.get("/api/v1/images", {**query, "page_size": 100}).json()["results"]]

    assert from_api == website_ids(browser, query)
    assert len(from_api) < 6 or not query  # each filter narrows: the comparison is not vacuous


def test_the_website_ignores_an_unreadable_filter_and_says_so(user, other_user, gallery_of):
    gallery_of(user, other_user)
    browser = Client()
    browser.force_login(user)

    response = browser.get("/gallery/", {"path": "nope", "folder": "9223372036854775808", "q": "dress"})

    assert response.status_code == 200
    assert len(response.context["page"]) == 3  # the readable filter (q) still applies
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("path" in note and "folder" in note for note in notes), notes


def test_the_website_ignores_unknown_parameters_silently(user, other_user, gallery_of):
    gallery_of(user, other_user)
    browser = Client()
    browser.force_login(user)

    response = browser.get("/gallery/", {"utm_source": "newsletter"})

    assert response.status_code == 200
    assert len(response.context["page"]) == 6
    assert not list(get_messages(response.wsgi_request))


def test_the_api_refuses_an_unknown_parameter_naming_it(api_client):
    error = api_client.get("/api/v1/images", {"colour": "red", "path": "beauty"}).json()["error"]

    assert error["code"] == "invalid"
    assert error["fields"] == {"colour": ["Unknown field."]}


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/templates", "/api/v1/prompt-presets"])
def test_every_filtered_list_refuses_an_unknown_parameter(api_client, path):
    response = api_client.get(path, {"colour": "red"})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"colour": ["Unknown field."]}
