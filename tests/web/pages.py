"""Every page of the website, found in the URL conf: each named route outside the API, the admin and the plumbing,
its ids filled from one object of every kind (tests/api/conftest.make_world), asked for with GET; the routes that
answer 200 with HTML are the pages. A new page joins by itself; a route whose id this module cannot fill fails
with what to add to OBJECT_FOR_PATH (or ROUTE_KWARGS). EXTRA_PAGES adds the states of a page a plain GET misses.
The accessibility and layout sweeps (tests/web/test_accessibility.py) and the screenshots run over these."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ..api.conftest import OBJECT_FOR_PATH as API_OBJECT_FOR_PATH
from ..api.conftest import make_world
from ..factories import GenerationJobFactory

# Not the website's pages: the REST API and its documentation, Django's admin, the language switcher and the
# JavaScript catalog, health and metrics, and the signed file downloads (an image, not a page).
NOT_WEBSITE = ("api/", "admin/", "i18n/", "healthz", "readyz", "metrics", "media/files/")

# The object that an id in a website route names, by the path before it (`jobs/<pk>` -> the job), where the path
# differs from the API's (tests/api/conftest.OBJECT_FOR_PATH, which covers the rest: `styles/<pk>`, ...).
OBJECT_FOR_PATH: dict[str, tuple[str, str]] = {
    "jobs": ("job", "pk"),
    "gallery/images": ("image", "uuid"),
    "gallery/folders": ("folder", "pk"),
    "gallery/share-links": ("share_link", "pk"),
    "gallery/trash": ("trashed_image", "uuid"),
    "s": ("share_link", "token"),
    "templates": ("template", "slug"),
    "stories": ("story", "pk"),
    "stories/chapters": ("chapter", "pk"),
    "stories/characters": ("character", "pk"),
    "stories/scenes": ("scene", "pk"),
    "accounts/keys": ("api_key", "pk"),
    "presets": ("preset", "pk"),
}

# Routes whose arguments are not an object's id: a link from an e-mail, shown here with a token that is not valid
# (the page that says so is what a visitor with an old link meets).
ROUTE_KWARGS: dict[str, Callable[[SimpleNamespace], dict[str, str]]] = {
    "accounts:verify-email": lambda world: {"token": "expired-link"},
    "accounts:password_reset_confirm": lambda world: {"uidb64": "MQ", "token": "expired-link"},
}

# Pages with a state a plain GET does not show: (name, url for the world).
EXTRA_PAGES: list[tuple[str, Callable[[SimpleNamespace], str]]] = [
    ("generate from an image", lambda w: reverse("generation:generate") + f"?from_image={w.image.uuid}"),
    ("generate edit region", lambda w: reverse("generation:generate") + f"?from_image={w.image.uuid}&edit=region"),
    ("generate from a template", lambda w: reverse("generation:generate") + f"?template={w.template.slug}"),
    ("running job", lambda w: reverse("generation:job", args=[w.running_job.pk])),
    ("gallery folder", lambda w: reverse("gallery:list") + f"?folder={w.folder.pk}"),
    ("jobs running", lambda w: reverse("generation:jobs") + "?status=running"),
]


@dataclass(frozen=True)
class Page:
    name: str
    url: str

    def __str__(self) -> str:
        return self.name


def _website_routes(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if route.startswith(NOT_WEBSITE):
            continue
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _website_routes(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}".strip(":"), route, tuple(pattern.pattern.regex.groupindex)


def _url(name: str, route: str, kwargs: tuple[str, ...], world: SimpleNamespace) -> str:
    if name in ROUTE_KWARGS:
        return reverse(name, kwargs=ROUTE_KWARGS[name](world))
    values = {}
    for kwarg in kwargs:
        start = re.search(rf"<(\w+:)?{kwarg}>", route).start()  # type: ignore[union-attr]
        before = route[:start].rpartition(">")[2].strip("/")
        objects = OBJECT_FOR_PATH | {path: o for path, o in API_OBJECT_FOR_PATH.items() if path not in OBJECT_FOR_PATH}
        if before not in objects:
            raise LookupError(f"{route}: add the object its {kwarg!r} names to OBJECT_FOR_PATH in tests/web/pages.py")
        obj, attribute = objects[before]
        values[kwarg] = getattr(getattr(world, obj), attribute)
    return reverse(name, kwargs=values)


def _is_page(client: Client, url: str) -> bool:
    response = client.get(url)
    return response.status_code in (200, 400) and response["Content-Type"].startswith("text/html")


def website_pages(world: SimpleNamespace, *, signed_in: bool) -> list[Page]:
    """The pages a visitor (signed in as world.owner, or not) can open: every website route that answers GET with
    HTML, then EXTRA_PAGES for the signed-in. 400 counts: an expired link's page is a page."""
    client = Client()
    if signed_in:
        client.force_login(world.owner)
    pages = [
        Page(name, url)
        for name, route, kwargs in _website_routes(get_resolver().url_patterns)
        if _is_page(client, url := _url(name, route, kwargs, world))
    ]
    if signed_in:
        pages += [Page(name, make(world)) for name, make in EXTRA_PAGES]
    return pages


def page_world(owner) -> SimpleNamespace:
    """One object of every kind (the API sweep's world) and a job still running, all the owner's."""
    world = make_world(owner)
    world.running_job = GenerationJobFactory(owner=owner, running=True, progress_step=2)
    return world
