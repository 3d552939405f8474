"""Brand styles: LoRA adapters (`Style`) and brand kits (`BrandKit`), which jobs, templates and stories apply.

A style with no owner is in the public library (installed by staff); one with an owner is private to it. A job
keeps a snapshot of the styles it used (`GenerationJob.styles`), so deleting a style never changes what an
image records.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generation.engine.models_catalog import MODELS

MAX_STYLES_PER_JOB = 3  # fal's Z-Image-Turbo LoRA endpoint takes up to three; so do we
MIN_STYLE_WEIGHT = -2.0
MAX_STYLE_WEIGHT = 2.0
MAX_PALETTE_COLOURS = 8
# The logo's placement bounds (min, max), as shares of the image's width; the model, the API and the form use them.
LOGO_MARGIN_RANGE = (0.0, 0.25)
LOGO_SCALE_RANGE = (0.02, 0.5)
LOGO_OPACITY_RANGE = (0.05, 1.0)

BASE_MODEL_CHOICES = [(spec.name, spec.label) for spec in MODELS.values()]


class Style(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="styles",
        help_text=_("Empty: a public style, in everyone's library."),
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    base_model = models.CharField(_("base model"), max_length=128, choices=BASE_MODEL_CHOICES)
    file = models.FileField(_("file"), max_length=255, help_text=_("Storage key of the .safetensors LoRA."))
    file_size = models.PositiveBigIntegerField(_("file size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)
    trigger_words = models.CharField(_("trigger words"), max_length=300, blank=True)
    default_weight = models.FloatField(
        _("default weight"),
        default=1.0,
        validators=[MinValueValidator(MIN_STYLE_WEIGHT), MaxValueValidator(MAX_STYLE_WEIGHT)],
    )
    preview = models.FileField(_("preview"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("style")
        verbose_name_plural = _("styles")
        constraints = [
            models.UniqueConstraint("owner", Lower("name"), name="style_name_unique_per_owner"),
            models.CheckConstraint(
                condition=models.Q(default_weight__gte=MIN_STYLE_WEIGHT, default_weight__lte=MAX_STYLE_WEIGHT),
                name="style_default_weight_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.owner_id is None


class LogoCorner(models.TextChoices):
    TOP_LEFT = "top-left", _("Top left")
    TOP_RIGHT = "top-right", _("Top right")
    BOTTOM_LEFT = "bottom-left", _("Bottom left")
    BOTTOM_RIGHT = "bottom-right", _("Bottom right")


class LogoApply(models.TextChoices):
    NONE = "none", _("No outputs")
    ALL = "all", _("Every output")
    PER_JOB = "per_job", _("Chosen per job")


class BrandKit(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brand_kits", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=100)
    palette = models.JSONField(_("palette"), default=list, blank=True, help_text=_("Up to 8 colours as #rrggbb."))
    tone_words = models.CharField(_("tone words"), max_length=300, blank=True)
    avoid_words = models.CharField(
        _("words to avoid"), max_length=300, blank=True, help_text=_("Added to every job's negative prompt.")
    )
    default_styles = models.JSONField(
        _("default styles"), default=list, blank=True, help_text=_('[{"id": style id, "weight": -2..2}], up to 3.')
    )
    logo = models.FileField(_("logo"), max_length=255, blank=True, help_text=_("Storage key of a re-encoded PNG."))
    logo_corner = models.CharField(_("logo corner"), max_length=16, choices=LogoCorner, default=LogoCorner.BOTTOM_RIGHT)
    logo_margin = models.FloatField(
        _("logo margin"),
        default=0.03,
        validators=[MinValueValidator(LOGO_MARGIN_RANGE[0]), MaxValueValidator(LOGO_MARGIN_RANGE[1])],
        help_text=_("Gap from the edges, as a share of the image's width."),
    )
    logo_scale = models.FloatField(
        _("logo size"),
        default=0.15,
        validators=[MinValueValidator(LOGO_SCALE_RANGE[0]), MaxValueValidator(LOGO_SCALE_RANGE[1])],
        help_text=_("The logo's width as a share of the image's width."),
    )
    logo_opacity = models.FloatField(
        _("logo opacity"),
        default=1.0,
        validators=[MinValueValidator(LOGO_OPACITY_RANGE[0]), MaxValueValidator(LOGO_OPACITY_RANGE[1])],
    )
    logo_apply = models.CharField(_("logo on"), max_length=16, choices=LogoApply, default=LogoApply.NONE)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("brand kit")
        verbose_name_plural = _("brand kits")
        constraints = [models.UniqueConstraint("owner", Lower("name"), name="brand_kit_name_unique_per_owner")]

    def __str__(self) -> str:
        return self.name
