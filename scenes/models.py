"""Stories: chapters with numbered scenes, a cast of characters, and the images requested for them."""

from __future__ import annotations

import random

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gallery.models import ImageType
from generation.engine.paths import PATH_CHOICES

# Image-to-image strength from a character's reference image (the job's 0.05-1 range).
DEFAULT_REFERENCE_STRENGTH = 0.55
MIN_REFERENCE_STRENGTH = 0.05
MAX_REFERENCE_STRENGTH = 1.0


def random_seed() -> int:
    from generation.services import MAX_SEED

    return random.SystemRandom().randint(0, MAX_SEED)


class Story(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stories", verbose_name=_("owner")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    template = models.ForeignKey(
        "templates_app.Template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stories",
        help_text=_("The story's visual style; scene images use this template's latest version."),
        verbose_name=_("template"),
    )
    production_path = models.CharField(
        _("production path"),
        max_length=32,
        choices=PATH_CHOICES,
        default="cinema",
        help_text=_("Used when the story has no template (a template brings its own path)."),
    )
    style = models.CharField(
        _("style"), max_length=300, blank=True, help_text=_("Style words added to every scene's prompt.")
    )
    styles = models.JSONField(
        _("styles"),
        default=list,
        blank=True,
        help_text=_('LoRA styles for every image of the story: [{"id", "weight"}], up to 3.'),
    )
    brand_kit = models.ForeignKey(
        "brands.BrandKit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stories",
        verbose_name=_("brand kit"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("story")
        verbose_name_plural = _("stories")
        indexes = [models.Index(fields=["owner", "-created_at"], name="story_owner_created")]

    def __str__(self) -> str:
        return self.title


class Chapter(models.Model):
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="chapters", verbose_name=_("story"))
    number = models.PositiveIntegerField(_("number"), validators=[MinValueValidator(1)])
    title = models.CharField(_("title"), max_length=200, blank=True)
    script = models.TextField(_("script"), blank=True)
    style = models.CharField(
        _("style"), max_length=300, blank=True, help_text=_("Style words for this chapter's scenes.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("story", "number")
        verbose_name = _("chapter")
        verbose_name_plural = _("chapters")
        constraints = [
            models.UniqueConstraint(
                fields=["story", "number"],
                name="chapter_number_unique_per_story",
                violation_error_message=_("This story already has a chapter with this number."),
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="chapter_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Chapter {self.number}: {self.title}" if self.title else f"Chapter {self.number}"


class Character(models.Model):
    """A recurring character. Its seed is drawn once and kept, so its images stay alike."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="characters", verbose_name=_("story"))
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Appearance, used in every prompt the character is in.")
    )
    seed = models.BigIntegerField(_("seed"), default=random_seed, editable=False)
    reference_image = models.FileField(
        _("reference image"), max_length=255, blank=True, help_text=_("Storage key of a re-encoded PNG.")
    )
    reference_strength = models.FloatField(
        _("reference strength"),
        default=DEFAULT_REFERENCE_STRENGTH,
        validators=[MinValueValidator(MIN_REFERENCE_STRENGTH), MaxValueValidator(MAX_REFERENCE_STRENGTH)],
        help_text=_(
            "How far the character's images may move from the reference image: 0.05 keeps it almost as it is, "
            "1 only keeps its colours."
        ),
    )
    # The reference as one of the owner's source images, which jobs start from: made from reference_image the
    # first time the reference conditions a job, dropped when the reference is replaced.
    reference_source = models.ForeignKey(
        "gallery.SourceImage",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reference source"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("story", "name", "id")
        verbose_name = _("character")
        verbose_name_plural = _("characters")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reference_strength__gte=MIN_REFERENCE_STRENGTH)
                & models.Q(reference_strength__lte=MAX_REFERENCE_STRENGTH),
                name="character_reference_strength_in_range",
            ),
            models.UniqueConstraint(
                fields=["story", "name"],
                name="character_name_unique_per_story",
                violation_error_message=_("This story already has a character with this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Scene(models.Model):
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="scenes", verbose_name=_("chapter"))
    scene_number = models.PositiveIntegerField(_("scene number"), validators=[MinValueValidator(1)])
    description = models.TextField(_("description"))
    characters = models.ManyToManyField(Character, blank=True, related_name="scenes", verbose_name=_("characters"))
    chosen_image = models.ForeignKey(
        "gallery.GeneratedImage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("chosen image"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("chapter", "scene_number")
        verbose_name = _("scene")
        verbose_name_plural = _("scenes")
        constraints = [
            models.UniqueConstraint(
                fields=["chapter", "scene_number"],
                name="scene_number_unique_per_chapter",
                violation_error_message=_("This chapter already has a scene with this number."),
            ),
            models.CheckConstraint(condition=models.Q(scene_number__gte=1), name="scene_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Scene {self.scene_number} of chapter {self.chapter.number}"


class StoryImageRequest(models.Model):
    """The pending record of one generation job asked for a scene or a character; kept as history."""

    scene = models.ForeignKey(
        Scene, null=True, blank=True, on_delete=models.CASCADE, related_name="image_requests", verbose_name=_("scene")
    )
    character = models.ForeignKey(
        Character,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="image_requests",
        verbose_name=_("character"),
    )
    job = models.OneToOneField(
        "generation.GenerationJob", on_delete=models.CASCADE, related_name="story_request", verbose_name=_("job")
    )
    image_type = models.CharField(_("image type"), max_length=16, choices=ImageType)
    # Where the scene stood when asked: scenes may be renumbered later, history should not move.
    chapter_number = models.PositiveIntegerField(_("chapter number"), null=True, blank=True)
    scene_number = models.PositiveIntegerField(_("scene number"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("story image request")
        verbose_name_plural = _("story image requests")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scene__isnull=False, character__isnull=True, image_type=ImageType.SCENE)
                | models.Q(scene__isnull=True, character__isnull=False, image_type=ImageType.CHARACTER),
                name="story_image_request_one_target",
            ),
        ]
        indexes = [
            models.Index(fields=["scene", "-created_at"], name="story_request_scene"),
            models.Index(fields=["character", "-created_at"], name="story_request_character"),
        ]

    def __str__(self) -> str:
        target = f"scene {self.scene_id}" if self.scene_id else f"character {self.character_id}"
        return f"Image request for {target} (job {self.job_id})"
