"""Fixtures for the API as a whole: one object of every kind for a user, and the routes that name one."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.services import create_api_key
from batches.models import Batch, BatchJob
from gallery import services as gallery_services
from generation.models import GenerationJob
from templates_app.services import create_prompt_preset
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

from ..factories import (
    BrandKitFactory,
    GenerationJobFactory,
    StyleFactory,
    TemplateFactory,
    UserFactory,
    source_upload,
    stored_image,
)

API_PREFIX = "api/v1/"

# Objects that are not anyone's: the template catalogue (and its staff-only revisions) and public share links,
# whose token is the credential. Every other route that names an object must answer 404 to anyone else.
NOT_OWNED_ROUTES = {
    "templates_app-api:template-detail",
    "templates_app-api:template-revise",
    "gallery-api:public-share",
}

# The object that an id in a route names, by the path before it (`jobs/<pk>` -> the job).
OBJECT_FOR_PATH = {
    "jobs": ("job", "pk"),
    "status": ("job", "pk"),
    "images": ("image", "uuid"),
    "uploads": ("upload", "uuid"),
    "webhooks": ("webhook", "pk"),
    "trash": ("trashed_image", "uuid"),
    "folders": ("folder", "pk"),
    "tags": ("tag", "pk"),
    "share-links": ("share_link", "pk"),
    "auth/keys": ("api_key", "pk"),
    "prompt-presets": ("preset", "pk"),
    "stories": ("story", "pk"),
    "chapters": ("chapter", "pk"),
    "characters": ("character", "pk"),
    "batches": ("batch", "pk"),
    "styles": ("style", "pk"),
    "brand-kits": ("brand_kit", "pk"),
}
OBJECT_FOR_KWARG = {
    "story_id": ("story", "pk"),
    "chapter_id": ("chapter", "pk"),
    "scene_number": ("scene", "scene_number"),
    "job_id": ("job", "pk"),
    "task_id": ("job", "pk"),  # document 003's tasks are jobs (compat.doc003)
    "delivery_id": ("delivery", "pk"),
}
ID_KWARGS = {"pk", "id", "uuid", "token", "slug", *OBJECT_FOR_KWARG}


@pytest.fixture
def unthrottled(set_tier):
    """The free plan without rate limits or job caps, for tests that send many requests."""
    return set_tier("free", submit_rate="100000/min", read_rate="100000/min", max_queued_jobs=10000)


def make_world(owner) -> SimpleNamespace:
    """One object of every kind the API serves, all the owner's."""
    from scenes.models import Chapter, Character, Scene, Story, StoryImageRequest

    job = GenerationJobFactory(owner=owner, succeeded=True)
    image = stored_image(job=job)
    trashed_image = stored_image(owner)
    gallery_services.trash_image(image=trashed_image)
    folder = gallery_services.create_folder(owner=owner, name="Campaigns")
    story = Story.objects.create(owner=owner, title="The lighthouse")
    chapter = Chapter.objects.create(story=story, number=1, title="Dusk")
    character = Character.objects.create(story=story, name="Mara", description="red raincoat")
    scene = Scene.objects.create(chapter=chapter, scene_number=1, description="a lighthouse at dusk")
    StoryImageRequest.objects.create(  # so the scene has a status to report
        scene=scene,
        job=GenerationJobFactory(owner=owner, succeeded=True),
        image_type="scene",
        chapter_number=1,
        scene_number=1,
    )
    webhook = endpoint_create(owner=owner, url="https://hooks.example.com/zimage")
    batch = Batch.objects.create(owner=owner, production_path="fashion", total_cost=1)
    BatchJob.objects.create(batch=batch, job=job, position=0, prompt=job.prompt, size_preset="1:1")
    return SimpleNamespace(
        owner=owner,
        job=job,
        image=image,
        trashed_image=trashed_image,
        folder=folder,
        tag=gallery_services.create_tag(owner=owner, name="launch"),
        share_link=gallery_services.create_share_link(owner=owner, image=image),
        api_key=create_api_key(user=owner, name="ci")[0],
        preset=create_prompt_preset(owner=owner, name="Studio", text="white studio, soft light"),
        template=TemplateFactory(),
        story=story,
        chapter=chapter,
        character=character,
        scene=scene,
        upload=source_upload(owner),
        webhook=webhook,
        delivery=WebhookDelivery.objects.create(endpoint=webhook, job=job, event_type="job.succeeded", payload={}),
        batch=batch,
        style=StyleFactory(owner=owner),
        brand_kit=BrandKitFactory(owner=owner),
    )


@pytest.fixture
def world(user):
    return make_world(user)


@pytest.fixture
def their_world(other_user):
    return make_world(other_user)


def owned_rows(owner) -> dict[str, list[dict]]:
    """Everything the owner has, as plain values: equal before and after means nothing was touched."""
    from accounts.models import ApiKey
    from brands.models import BrandKit, Style
    from gallery.models import Folder, GeneratedImage, ShareLink, SourceImage, Tag
    from scenes.models import Chapter, Character, Scene, Story
    from templates_app.models import PromptPreset

    querysets = {
        "jobs": GenerationJob.objects.filter(owner=owner),
        "images": GeneratedImage.objects.filter(owner=owner),
        "uploads": SourceImage.objects.filter(owner=owner),
        "folders": Folder.objects.filter(owner=owner),
        "tags": Tag.objects.filter(owner=owner),
        "share_links": ShareLink.objects.filter(owner=owner),
        "api_keys": ApiKey.objects.filter(user=owner).defer("last_used_at"),
        "presets": PromptPreset.objects.filter(owner=owner),
        "stories": Story.objects.filter(owner=owner),
        "chapters": Chapter.objects.filter(story__owner=owner),
        "characters": Character.objects.filter(story__owner=owner),
        "scenes": Scene.objects.filter(chapter__story__owner=owner),
        "batches": Batch.objects.filter(owner=owner),
        "styles": Style.objects.filter(owner=owner),
        "brand_kits": BrandKit.objects.filter(owner=owner),
    }
    return {name: list(queryset.order_by("pk").values()) for name, queryset in querysets.items()}


# --- the routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, for reverse()
    route: str  # as written in the urlconf, after /api/v1/
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]

    def __str__(self) -> str:
        return self.name

    def object_for(self, kwarg: str) -> tuple[str, str]:
        if kwarg in OBJECT_FOR_KWARG:
            return OBJECT_FOR_KWARG[kwarg]
        before = re.split(r"<|\(\?P<", self.route.lstrip("^"))[0].strip("/")
        if before not in OBJECT_FOR_PATH:
            raise LookupError(f"{self.route}: add the object its {kwarg!r} names to OBJECT_FOR_PATH (tests/api)")
        return OBJECT_FOR_PATH[before]

    def url(self, world: SimpleNamespace) -> str:
        values = {}
        for kwarg in self.kwargs:
            name, attribute = self.object_for(kwarg)
            values[kwarg] = getattr(getattr(world, name), attribute)
        return reverse(self.name, kwargs=values)


def _methods(callback: Any) -> tuple[str, ...]:
    if getattr(callback, "actions", None):  # a viewset's route: its own methods
        methods = callback.actions.keys()
    else:
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        methods = [name for name in getattr(view, "http_method_names", []) if hasattr(view, name)]
    return tuple(method.upper() for method in methods if method not in {"options", "head"})


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            kwargs = tuple(pattern.pattern.regex.groupindex)
            yield Route(f"{namespace}:{pattern.name}".strip(":"), route, kwargs, _methods(pattern.callback))


def api_routes() -> list[Route]:
    routes = [route for route in _walk(get_resolver().url_patterns) if route.route.startswith(API_PREFIX)]
    return [Route(r.name, r.route.removeprefix(API_PREFIX), r.kwargs, r.methods) for r in routes]


def object_routes() -> list[Route]:
    """Every /api/v1/ route with an id in its path (a new endpoint joins by itself), less the unowned ones."""
    return [
        route
        for route in api_routes()
        if set(route.kwargs) & ID_KWARGS and route.name not in NOT_OWNED_ROUTES and route.methods
    ]


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


def path_values(path: str, world: SimpleNamespace) -> dict[str, str]:
    """The world's objects' ids for each parameter of an OpenAPI path (`/api/v1/jobs/{id}/cancel`)."""
    values = {}
    for match in re.finditer(r"\{(\w+)\}", path):
        name = match.group(1)
        if name == "slug":
            values[name] = world.template.slug
            continue
        if name == "token":
            values[name] = world.share_link.token
            continue
        if name in OBJECT_FOR_KWARG:
            obj, attribute = OBJECT_FOR_KWARG[name]
        else:
            before = path[: match.start()].removeprefix("/" + API_PREFIX).strip("/")
            obj, attribute = OBJECT_FOR_PATH[before]
        values[name] = str(getattr(getattr(world, obj), attribute))
    return values


def fill_path(path: str, world: SimpleNamespace) -> str:
    values = path_values(path, world)
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], path)


@functools.cache
def openapi_schema() -> dict:
    """The schema /api/v1/schema/ serves, generated in-process."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def operations() -> list[tuple[str, str, dict]]:
    return [
        (path, method.upper(), operation)
        for path, item in openapi_schema()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
    ]


def resolve_ref(schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi_schema()["components"]["schemas"][name]
    return schema


def json_body_schema(operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    return resolve_ref(content["application/json"]["schema"]) if "application/json" in content else None
