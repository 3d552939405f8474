"""The template catalogue's website page and API share one FilterSet (templates_app.filters.TemplateFilter)."""

from __future__ import annotations

import pytest
from django.test import Client

from ..factories import TemplateFactory


@pytest.mark.parametrize("path", ["beauty", "eats", "nope"])
def test_the_website_and_the_api_list_the_same_templates_for_a_path(api_client, user, path):
    for production_path in ("beauty", "beauty", "eats", "fashion"):
        TemplateFactory(production_path=production_path)
    browser = Client()
    browser.force_login(user)

    page = browser.get("/templates/", {"path": path})
    api = api_client.get("/api/v1/templates", {"path": path, "page_size": 100})

    assert page.status_code == 200
    on_page = [template.slug for template in page.context["templates"]]
    if path == "nope":  # the website ignores a path it does not know; the API refuses it
        assert api.status_code == 400 and set(api.json()["error"]["fields"]) == {"path"}
        assert len(on_page) >= 4
    else:
        assert on_page == [template["slug"] for template in api.json()["results"]]
        assert on_page and len(on_page) < 4
