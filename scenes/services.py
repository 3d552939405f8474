"""Writes for stories: the story tree, character references, and scene / character image jobs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils.translation import gettext as _

from accounts.exceptions import AccountsError
from brands.services import style_choices
from gallery.models import GeneratedImage, ImageType, SourceImage
from gallery.services import SourceInUse, delete_source_image, delete_stored, store_source_image
from generation.engine.job_input import fit_prompt
from generation.engine.paths import get_path
from generation.models import GenerationJob
from generation.services import submit_job
from templates_app.models import Template
from templates_app.selectors import template_for_jobs

from .models import Chapter, Character, Scene, Story, StoryImageRequest

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

CHARACTER_SHEET_STYLE = ("character portrait", "full body", "neutral background")

_Row = TypeVar("_Row", bound=models.Model)


# --- the story tree --------------------------------------------------------------------------


def _save(instance: _Row, changes: dict[str, Any], fields: Iterable[str], *, numbered_by: str | None = None) -> _Row:
    """Apply `changes`, validate, save. A clash on a per-parent unique number or name is reported on
    that field (`numbered_by`), not as a whole-object error."""
    fields = tuple(fields)
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"{type(instance).__name__} does not take {', '.join(sorted(unknown))} here.")
    for name in fields:
        if name in changes:
            setattr(instance, name, changes[name])
    try:
        instance.full_clean()
    except ValidationError as error:
        errors = error.message_dict
        if numbered_by and NON_FIELD_ERRORS in errors:
            errors.setdefault(numbered_by, []).extend(errors.pop(NON_FIELD_ERRORS))
        raise ValidationError(errors) from None
    instance.save()
    return instance


def create_story(*, owner: User, **fields: Any) -> Story:
    return update_story(story=Story(owner=owner), **fields)


def update_story(*, story: Story, **changes: Any) -> Story:
    template = changes.get("template")
    if template is not None:
        changes["production_path"] = template.production_path  # a template brings its own path
    if "styles" in changes:  # applied to every image unless the template has its own (brands.services.job_styles)
        changes["styles"] = style_choices(owner=story.owner, requested=changes["styles"] or [])
    kit = changes.get("brand_kit")
    if kit is not None and kit.owner_id != story.owner_id:
        raise ValidationError({"brand_kit": _("No such brand kit.")})
    fields = ("title", "description", "template", "production_path", "style", "styles", "brand_kit")
    return _save(story, changes, fields)


def delete_story(*, story: Story) -> None:
    """Its chapters, scenes, characters (and their reference images) go with it; its jobs and images stay."""
    story.delete()


def create_chapter(*, story: Story, **fields: Any) -> Chapter:
    return update_chapter(chapter=Chapter(story=story), **fields)


def update_chapter(*, chapter: Chapter, **changes: Any) -> Chapter:
    return _save(chapter, changes, ("number", "title", "script", "style"), numbered_by="number")


def delete_chapter(*, chapter: Chapter) -> None:
    chapter.delete()


@transaction.atomic
def create_character(*, story: Story, reference_png: bytes | None = None, **fields: Any) -> Character:
    return update_character(character=Character(story=story), reference_png=reference_png, **fields)


@transaction.atomic
def update_character(*, character: Character, reference_png: bytes | None = None, **changes: Any) -> Character:
    """The seed is never changed here: it is what keeps the character's images alike."""
    _save(character, changes, ("name", "description", "reference_strength"), numbered_by="name")
    if reference_png is not None:
        _drop_reference_source(character)
        previous = character.reference_image.name
        key = default_storage.save(
            f"characters/{character.story.owner_id}/{character.story_id}/{character.pk}-{uuid.uuid4().hex}.png",
            ContentFile(reference_png),
        )
        if previous:
            transaction.on_commit(lambda: delete_stored(previous))
        character.reference_image = key
        character.save(update_fields=["reference_image", "reference_source"])
    return character


def _drop_reference_source(character: Character) -> None:
    """Unlink the source image made from the old reference; delete it unless a waiting job still reads it (then
    it stays among the owner's uploads, deletable once the job is done)."""
    source = character.reference_source
    character.reference_source = None
    if source is None:
        return
    try:
        with transaction.atomic():
            delete_source_image(source=source)
    except SourceInUse:
        logger.info("old character reference kept: a job still reads it", extra={"source": source.pk})


def reference_source(character: Character) -> SourceImage | None:
    """The character's reference image as a source image a job can start from (None without a reference): the
    one made before, or one made now from the stored reference (re-checked like an upload) and kept. Call inside
    a transaction."""
    if not character.reference_image:
        return None
    # Locked and re-read: another copy of this row (a scene's cast) may have made the source already.
    Character.objects.select_for_update().only("pk").get(pk=character.pk)
    character.refresh_from_db(fields=["reference_image", "reference_source"])
    if character.reference_source is not None:
        return character.reference_source
    with default_storage.open(str(character.reference_image.name), "rb") as handle:
        png = handle.read()
    source = store_source_image(owner=character.story.owner, file=png, field="reference_image")
    character.reference_source = source
    character.save(update_fields=["reference_source"])
    return source


def delete_character(*, character: Character) -> None:
    character.delete()  # its reference image goes with it (scenes.signals)


@transaction.atomic
def create_scene(*, chapter: Chapter, characters: list[Character] | None = None, **fields: Any) -> Scene:
    return update_scene(scene=Scene(chapter=chapter), characters=characters, **fields)


@transaction.atomic
def update_scene(*, scene: Scene, characters: list[Character] | None = None, **changes: Any) -> Scene:
    _save(scene, changes, ("scene_number", "description"), numbered_by="scene_number")
    if characters is not None:
        strangers = [character.name for character in characters if character.story_id != scene.chapter.story_id]
        if strangers:
            raise ValidationError({"characters": _("Not in this story: %(names)s.") % {"names": ", ".join(strangers)}})
        scene.characters.set(characters)
    return scene


def delete_scene(*, scene: Scene) -> None:
    scene.delete()


class SceneMove(StrEnum):
    UP = "up"
    DOWN = "down"


@transaction.atomic
def move_scene(*, scene: Scene, direction: SceneMove) -> Scene:
    """Swap the scene's number with its neighbour's in scene order (numbers may have gaps); at either end, no
    change. The chapter row is locked, so two moves in one chapter run one after the other; the swap goes
    through a free number above the chapter's highest, as the unique number is checked on each row written."""
    Chapter.objects.select_for_update().only("pk").get(pk=scene.chapter_id)
    scene.refresh_from_db(fields=["scene_number"])
    siblings = Scene.objects.filter(chapter_id=scene.chapter_id)
    if direction == SceneMove.UP:
        neighbour = siblings.filter(scene_number__lt=scene.scene_number).order_by("-scene_number").first()
    else:
        neighbour = siblings.filter(scene_number__gt=scene.scene_number).order_by("scene_number").first()
    if neighbour is None:
        return scene
    mine, theirs = scene.scene_number, neighbour.scene_number
    free = (siblings.aggregate(n=models.Max("scene_number"))["n"] or 0) + 1
    siblings.filter(pk=scene.pk).update(scene_number=free)
    siblings.filter(pk=neighbour.pk).update(scene_number=mine)
    siblings.filter(pk=scene.pk).update(scene_number=theirs)
    scene.scene_number = theirs
    return scene


def choose_scene_image(*, scene: Scene, image: GeneratedImage | None) -> Scene:
    """Mark one of the scene's generated images as the one the story uses (None clears the choice)."""
    if image is not None and not StoryImageRequest.objects.filter(scene=scene, job_id=image.job_id).exists():
        raise ValidationError({"image": _("This image was not generated for this scene.")})
    scene.chosen_image = image
    scene.save(update_fields=["chosen_image"])
    return scene


# --- prompts ---------------------------------------------------------------------------------


def character_phrase(character: Character) -> str:
    description = " ".join(character.description.split())
    return f"{character.name} ({description})" if description else character.name


def _join(parts: Iterable[str]) -> str:
    return ", ".join(part.strip().rstrip(".,").strip() for part in parts if part and part.strip())


def scene_characters(scene: Scene) -> list[Character]:
    """In the order they joined the story: the first one's seed is the scene's seed."""
    return sorted(scene.characters.all(), key=lambda character: character.pk)


def build_scene_prompt(scene: Scene) -> str:
    """The scene's description, each character present with their description, then the chapter's
    and the story's style words. The story template's own style prompts are added by its pipeline."""
    chapter = scene.chapter
    return _join(
        [
            scene.description,
            *(character_phrase(character) for character in scene_characters(scene)),
            chapter.style,
            chapter.story.style,
        ]
    )


def build_character_prompt(character: Character) -> str:
    return _join([character_phrase(character), *CHARACTER_SHEET_STYLE, character.story.style])


# --- generation ------------------------------------------------------------------------------


def story_template(story: Story) -> Template | None:
    """The latest active version of the story's template: a revised template restyles the story."""
    if story.template is None:
        return None
    template = template_for_jobs(story.template.slug)
    if template is None:
        raise ValidationError(
            {
                "template": _("The story's template %(name)s is no longer available.")
                % {"name": repr(story.template.name)}
            }
        )
    return template


def _story_size(story: Story, template: Template | None) -> dict[str, int]:
    """The story's own image size, for a job from a character's reference (whose size would win otherwise): the
    path's default, or the template's when it lets the size be given; {} for a template of fixed size."""
    if template is None:
        width, height = get_path(story.production_path).default_size
        return {"width": width, "height": height}
    if "width" in template.config and {"width", "height"} <= set(template.overridable):
        return {"width": template.config["width"], "height": template.config["height"]}
    return {}


def _submit(*, story: Story, prompt: str, seed: int | None, image_type: str, reference: Character | None = None) -> Any:
    """A story's prompts are composed from its own text, so one too long is cut (and the job says so),
    never refused. Call inside a transaction: the job is marked before its worker can read it.

    With `reference` (a character with a reference image), at the story's size: SDXL's IP-Adapter conditioned on
    that image where its weights are installed (at a scale from the character's reference_strength), else
    image-to-image from it at that strength; the job records which (reference_method)."""
    template = story_template(story)
    if template is not None and "seed" not in template.overridable:
        seed = None  # the template fixes its own seed policy
    prompt, cut = fit_prompt(prompt)
    source = reference_source(reference) if reference is not None else None
    from_reference: dict[str, Any] = {}
    if source is not None and reference is not None:
        from_reference = {"source_image": source, "strength": reference.reference_strength, "reference": True}
        from_reference.update(_story_size(story, template))
    job = submit_job(
        user=story.owner,
        prompt=prompt,
        template=template,
        production_path=None if template else story.production_path,
        seed=seed,
        image_type=image_type,
        story_styles=story.styles or None,
        brand_kit=story.brand_kit,
        **from_reference,
    )
    if cut:
        GenerationJob.objects.filter(pk=job.pk).update(prompt_truncated=True)
        job.prompt_truncated = True
    return job


@transaction.atomic
def generate_scene_image(*, scene: Scene, seed: int | None = None) -> StoryImageRequest:
    """Queue a job for the scene and record it. Without `seed`, the first character's fixed seed. The first
    character with a reference image conditions it (image-to-image from the reference)."""
    chapter = scene.chapter
    characters = scene_characters(scene)
    if seed is None and characters:
        seed = characters[0].seed
    reference = next((character for character in characters if character.reference_image), None)
    job = _submit(
        story=chapter.story,
        prompt=build_scene_prompt(scene),
        seed=seed,
        image_type=ImageType.SCENE,
        reference=reference,
    )
    request = StoryImageRequest.objects.create(
        scene=scene,
        job=job,
        image_type=ImageType.SCENE,
        chapter_number=chapter.number,
        scene_number=scene.scene_number,
    )
    logger.info(
        "scene image queued",
        extra={"job_id": job.pk, "user_id": job.owner_id, "chapter": chapter.pk, "scene": scene.scene_number},
    )
    return request


@transaction.atomic
def generate_character_image(*, character: Character) -> StoryImageRequest:
    """Always the character's own seed and description (and its reference image, if any), so each of its images
    looks alike."""
    job = _submit(
        story=character.story,
        prompt=build_character_prompt(character),
        seed=character.seed,
        image_type=ImageType.CHARACTER,
        reference=character,
    )
    return StoryImageRequest.objects.create(character=character, job=job, image_type=ImageType.CHARACTER)


@dataclass
class ChapterGeneration:
    queued: list[StoryImageRequest] = field(default_factory=list)
    not_queued: list[Scene] = field(default_factory=list)
    error: Exception | None = None


def generate_chapter_images(*, chapter: Chapter) -> ChapterGeneration:
    """One job per scene, in scene order. The first refusal (a plan limit, credits, a bad scene)
    stops the run: the scenes before it stay queued and the result says which were not."""
    result = ChapterGeneration()
    scenes = list(chapter.scenes.order_by("scene_number").prefetch_related("characters"))
    for position, scene in enumerate(scenes):
        try:
            result.queued.append(generate_scene_image(scene=scene))
        except (ValidationError, AccountsError) as error:
            result.error = error
            result.not_queued = scenes[position:]
            logger.info(
                "chapter generation stopped",
                extra={"chapter": chapter.pk, "scene": scene.scene_number, "error": str(error)},
            )
            break
    return result
