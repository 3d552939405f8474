"""Every page of the website, found in the URL conf: each named route outside the API, the admin and the plumbing,
its ids filled from one object of every kind (tests/api/conftest.make_world), asked for with GET; the routes that
answer 200 with HTML are the pages. A new page joins by itself; a route whose id this module cannot fill fails
with what to add to OBJECT_FOR_PATH (or ROUTE_KWARGS). EXTRA_PAGES adds the states of a page a plain GET misses
(some set up by a script); NOT_PAGES names the routes that are not pages, and why (tests/web/test_page_list.py
holds the two lists to the URL conf). The accessibility and layout sweep (tests/web/test_accessibility.py) and
the screenshots run over these."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from templates_app.seed_templates import CURATED_TEMPLATES

from ..api.conftest import OBJECT_FOR_PATH as API_OBJECT_FOR_PATH
from ..api.conftest import make_world
from ..factories import GenerationJobFactory, TemplateFactory

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

# The website's named routes that are not pages, each with why: a form's action answers POST only (the page is the
# one its form is on), a JSON endpoint feeds a page's script. tests/web/test_page_list.py fails on a route that is
# neither a page nor here, and on an entry here that has become a page or no longer exists.
POST_ONLY = "a form's action (POST only); its form is on a page of the sweep"
NOT_PAGES: dict[str, str] = {
    "generation:generate-estimate": "JSON for the generate page's estimate (the sweep's generate pages call it)",
    **dict.fromkeys(
        [
            "accounts:key-create",
            "accounts:key-revoke",
            "accounts:language",
            "accounts:logout",
            "accounts:logout-everywhere",
            "accounts:verify-email-resend",
            "batches:create",
            "brands:kit-delete",
            "brands:style-delete",
            "gallery:bulk",
            "gallery:folder-create",
            "gallery:folder-delete",
            "gallery:folder-share",
            "gallery:image-favourite",
            "gallery:image-organise",
            "gallery:image-share",
            "gallery:image-trash",
            "gallery:share-link-revoke",
            "gallery:trash-empty",
            "gallery:trash-restore",
            "generation:image-extend",
            "generation:image-upscale",
            "generation:image-vary",
            "generation:job-cancel",
            "generation:job-retry",
            "scenes:chapter-create",
            "scenes:chapter-generate",
            "scenes:character-create",
            "scenes:character-generate",
            "scenes:scene-choose",
            "scenes:scene-create",
            "scenes:scene-generate",
            "scenes:scene-move",
        ],
        POST_ONLY,
    ),
}

# The states of the generate page that its estimate drives (the fields it shows and requires), set up by a script.
CHOOSE = "(s => {{ s.value = {value!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})"
CHOOSE += "(document.querySelector('select[name={name}]'))"
SHOWN = "!document.querySelector({selector!r}).hidden"


@dataclass(frozen=True)
class Page:
    """A page's URL; `prepare` (JavaScript) puts it in a state its URL alone does not, `ready` says when it is."""

    name: str
    url: str
    prepare: str = ""
    ready: str = ""

    def __str__(self) -> str:
        return self.name


def _generate(query: str) -> str:
    return reverse("generation:generate") + query


# Pages with a state a plain GET does not show: a page for the world.
EXTRA_PAGES: list[Callable[[SimpleNamespace], Page]] = [
    lambda w: Page("generate from an image", _generate(f"?from_image={w.image.uuid}")),
    lambda w: Page("generate edit region", _generate(f"?from_image={w.image.uuid}&edit=region")),
    lambda w: Page("generate from a template", _generate(f"?template={w.template.slug}")),
    lambda w: Page("generate again from a job", _generate(f"?from_job={w.job.pk}")),
    lambda w: Page("generate for a production path", _generate("?path=cinema")),
    lambda w: Page(
        "generate extend",
        _generate(f"?from_image={w.image.uuid}"),
        prepare=CHOOSE.format(name="extend_to", value="16:9"),
        ready=SHOWN.format(selector="[data-extend-anchor]"),
    ),
    lambda w: Page(
        "generate with a template that needs an image",
        _generate(f"?template={w.banner_template.slug}"),
        prepare=CHOOSE.format(name="template", value=w.banner_template.slug),
        ready=SHOWN.format(selector="[data-source-required]"),
    ),
    lambda w: Page("running job", reverse("generation:job", args=[w.running_job.pk])),
    lambda w: Page("failed job", reverse("generation:job", args=[w.failed_job.pk])),
    lambda w: Page("gallery folder", reverse("gallery:list") + f"?folder={w.folder.pk}"),
    lambda w: Page("gallery search without a match", reverse("gallery:list") + "?q=nothing-matches"),
    lambda w: Page(
        "gallery bulk selection",
        reverse("gallery:list"),
        prepare="document.querySelector('[data-select-all]').click();" + CHOOSE.format(name="action", value="tag"),
        ready="document.querySelector('[data-select]').checked",
    ),
    lambda w: Page("jobs running", reverse("generation:jobs") + "?status=running"),
]


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


def website_routes(world: SimpleNamespace) -> list[tuple[str, str]]:
    """Every named website route, (name, url) with its ids filled from the world."""
    return [
        (name, _url(name, route, kwargs, world)) for name, route, kwargs in _website_routes(get_resolver().url_patterns)
    ]


def website_pages(world: SimpleNamespace, *, signed_in: bool) -> list[Page]:
    """The pages a visitor (signed in as world.owner, or not) can open: every website route that answers GET with
    HTML, then EXTRA_PAGES for the signed-in. 400 counts: an expired link's page is a page."""
    client = Client()
    if signed_in:
        client.force_login(world.owner)
    pages = [Page(name, url) for name, url in website_routes(world) if _is_page(client, url)]
    if signed_in:
        pages += [make(world) for make in EXTRA_PAGES]
    return pages


def page_world(owner) -> SimpleNamespace:
    """One object of every kind (the API sweep's world), a job still running and one failed, and the curated
    template that extends a product shot (it asks for an image), all the owner's."""
    world = make_world(owner)
    world.running_job = GenerationJobFactory(owner=owner, running=True, progress_step=2)
    world.failed_job = GenerationJobFactory(owner=owner, failed=True)
    banner = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")
    world.banner_template = TemplateFactory(**banner)
    return world
