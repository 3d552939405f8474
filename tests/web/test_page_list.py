"""The sweep's page list (tests/web/pages.py) against the URL conf: every named website route is a page a visitor
opens (signed in or out) or is named in NOT_PAGES with why, and NOT_PAGES names no page and no route that is gone,
so a new page cannot miss the accessibility sweep and the list of exceptions cannot go stale."""

from __future__ import annotations

import pytest
from django.test import Client

from ..factories import UserFactory
from .pages import NOT_PAGES, _is_page, page_world, website_pages, website_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return page_world(UserFactory())


def routes_that_are_pages(world) -> set[str]:
    """The routes a signed-in or a signed-out visitor gets as an HTML page."""
    signed_in, signed_out = Client(), Client()
    signed_in.force_login(world.owner)
    return {name for name, url in website_routes(world) if _is_page(signed_in, url) or _is_page(signed_out, url)}


def test_every_website_route_is_in_the_sweep_or_excluded_with_a_reason(world):
    routes = {name for name, _url in website_routes(world)}
    pages = routes_that_are_pages(world)
    assert routes - pages - NOT_PAGES.keys() == set(), "add these to the sweep (pages.py) or to NOT_PAGES with why"
    assert all(reason.strip() for reason in NOT_PAGES.values())


def test_no_excluded_route_is_a_page_or_gone(world):
    routes = {name for name, _url in website_routes(world)}
    assert NOT_PAGES.keys() - routes == set(), "NOT_PAGES names routes that no longer exist"
    assert NOT_PAGES.keys() & routes_that_are_pages(world) == set(), "these are pages now: take them out of NOT_PAGES"


def test_the_sweep_has_the_newest_pages(world):
    """Styles, brand kits, story and chapter/scene/character edit and delete, presets, the bulk gallery, the
    estimate-driven generate states: each is a page of the signed-in sweep."""
    names = {page.name for page in website_pages(world, signed_in=True)}
    assert {
        "brands:styles",
        "brands:kits",
        "brands:kit-create",
        "brands:kit-edit",
        "scenes:story-edit",
        "scenes:story-delete",
        "scenes:chapter-edit",
        "scenes:chapter-delete",
        "scenes:scene-edit",
        "scenes:scene-delete",
        "scenes:character-edit",
        "scenes:character-delete",
        "presets:list",
        "presets:edit",
        "presets:delete",
        "batches:batch",
        "gallery bulk selection",
        "generate extend",
        "generate with a template that needs an image",
    } <= names
    assert len(names) == len(website_pages(world, signed_in=True)), "two pages share a name"
