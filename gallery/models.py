import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImageType(models.TextChoices):
    GENERAL = "general", "General"
    SCENE = "scene", "Scene"
    CHARACTER = "character", "Character"


class GeneratedImage(models.Model):
    """One stored result of a job, with everything needed to reproduce it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    job = models.ForeignKey("generation.GenerationJob", on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(help_text="Position within the job, from 0.")
    image_type = models.CharField(max_length=16, choices=ImageType, default=ImageType.GENERAL)
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    model = models.CharField(max_length=128)
    backend = models.CharField(max_length=32, help_text="Which diffusion backend drew it (tiny = random weights).")
    steps = models.PositiveSmallIntegerField()
    guidance = models.FloatField()
    prompt_used = models.TextField()
    negative_prompt_used = models.TextField(blank=True)
    generation_seconds = models.FloatField()
    production_path = models.CharField(max_length=32)
    template = models.ForeignKey(
        "templates_app.Template", null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    is_favourite = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            # A job's n-th image exists at most once, however often the task runs.
            models.UniqueConstraint(fields=["job", "index"], name="image_once_per_job_index"),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="image_owner_created"),
            models.Index(fields=["owner", "production_path", "-created_at"], name="image_owner_path"),
        ]

    def __str__(self) -> str:
        return f"Image {self.uuid} of job {self.job_id}"
