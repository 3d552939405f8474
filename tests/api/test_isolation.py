"""Another user's object is a 404 on every endpoint that names one, with every method it allows.

The routes come from the URL resolver, so an endpoint added later is in this matrix without anyone
remembering to add it (and fails loudly if the objects below do not cover what its id names).
"""

from __future__ import annotations

import pytest

from generation.models import GenerationJob

from ..conftest import client_for
from .conftest import NOT_OWNED_ROUTES, api_routes, make_world, object_routes, owned_rows

ROUTES = object_routes()
FIRST_METHOD = ("GET", "POST", "PATCH", "PUT", "DELETE")


def send(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, {}, format="json")


def test_the_matrix_covers_every_app():
    names = {route.name.split(":")[0] for route in ROUTES}
    assert {"generation-api", "gallery-api", "templates_app-api", "scenes-api", "accounts-api", "compat-api"} <= names
    assert {
        "generation-api:job-detail",
        "generation-api:job-retry",
        "compat-api:status",
        "compat-api:task",
        "compat-api:generate-stream",
        "compat-api:scene-image-status",
        "gallery-api:trash-item",
    } <= {route.name for route in ROUTES}
    assert len(ROUTES) >= 25
    assert {route.name for route in api_routes()} >= NOT_OWNED_ROUTES, "an exempt route no longer exists"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_another_users_object_is_not_found(route, user, other_user, unthrottled):
    theirs = make_world(other_user)
    url = route.url(theirs)
    before = owned_rows(other_user)
    client = client_for(user)
    for method in route.methods:
        response = send(client, method, url)
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found", (method, url)
    assert owned_rows(other_user) == before, "a request for another user's object changed it"
    assert not GenerationJob.objects.filter(owner=user).exists()


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_owner_reaches_the_same_object(route, user, unthrottled):
    """The control: the objects above are the right ones, so the 404s come from ownership alone."""
    mine = make_world(user)
    method = next(method for method in FIRST_METHOD if method in route.methods)
    response = send(client_for(user), method, route.url(mine))
    assert response.status_code != 404, (method, route.route, response.content)
    assert response.status_code < 500
