from django.core.exceptions import ValidationError
from django.db import models

from generation.catalog import MAX_IMAGES_PER_JOB
from generation.models import ProductionPath
from generation.workflow import validate_workflow_config

OVERRIDABLE_PARAMETERS = ("width", "height", "steps", "guidance", "seed", "negative_prompt", "num_images")


def default_overridable() -> list[str]:
    return list(OVERRIDABLE_PARAMETERS)


class Template(models.Model):
    """A named, versioned preset: model, sampler settings, size and a workflow pipeline."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    version = models.PositiveIntegerField(default=1)
    production_path = models.CharField(max_length=32, choices=ProductionPath)
    description = models.TextField(blank=True)
    preview = models.FileField(max_length=255, blank=True)
    credit_cost = models.PositiveIntegerField(default=1, help_text="Credits per image.")
    is_active = models.BooleanField(default=True)
    config = models.JSONField(help_text="model, scheduler, steps, cfg_scale, width, height, pipeline[]")
    overridable = models.JSONField(default=default_overridable, help_text="Parameters a job may override.")
    max_images = models.PositiveSmallIntegerField(default=MAX_IMAGES_PER_JOB)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("production_path", "name", "-version")
        constraints = [models.UniqueConstraint(fields=["slug", "version"], name="template_slug_version")]
        indexes = [models.Index(fields=["production_path", "is_active"], name="template_path_active")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        # The config is validated on every save, not only through forms: an invalid one never lands.
        self.config = validate_workflow_config(self.config)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.config = validate_workflow_config(self.config)
        unknown = set(self.overridable or []) - set(OVERRIDABLE_PARAMETERS)
        if unknown:
            raise ValidationError({"overridable": f"Unknown parameters: {', '.join(sorted(unknown))}."})
