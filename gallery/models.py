import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImageType(models.TextChoices):
    GENERAL = "general", _("General")
    SCENE = "scene", _("Scene")
    CHARACTER = "character", _("Character")


class Folder(models.Model):
    """A user's folder of images. Nested at most one level: a parent never has a parent itself."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_folders", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        verbose_name=_("parent folder"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        constraints = [
            models.UniqueConstraint(
                "owner", Lower("name"), condition=models.Q(parent__isnull=True), name="folder_root_name_unique"
            ),
            models.UniqueConstraint(
                "owner", "parent", Lower("name"), condition=models.Q(parent__isnull=False), name="folder_name_unique"
            ),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="folder_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()
        if self.parent_id is None:
            return
        parent = self.parent
        if self.pk is not None and parent.pk == self.pk:
            raise ValidationError({"parent": _("A folder cannot be its own parent.")})
        if parent.owner_id != self.owner_id:
            raise ValidationError({"parent": _("No such folder.")})
        if parent.parent_id is not None:
            raise ValidationError({"parent": _("Folders nest one level only: this parent is already a subfolder.")})
        if self.pk is not None and Folder.objects.filter(parent_id=self.pk).exists():
            raise ValidationError({"parent": _("A folder with subfolders cannot become a subfolder.")})


class Tag(models.Model):
    """A user's label for images; names are unique per user, ignoring case."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_tags", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=50)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint("owner", Lower("name"), name="tag_name_unique_per_owner")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = (self.name or "").strip()


class GeneratedImage(models.Model):
    """One stored result of a job, with everything needed to reproduce it."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images", verbose_name=_("owner")
    )
    job = models.ForeignKey(
        "generation.GenerationJob", on_delete=models.CASCADE, related_name="images", verbose_name=_("job")
    )
    index = models.PositiveSmallIntegerField(_("index"), help_text=_("Position within the job, from 0."))
    image_type = models.CharField(_("image type"), max_length=16, choices=ImageType, default=ImageType.GENERAL)
    file = models.FileField(_("file"), max_length=255)
    thumbnail = models.FileField(_("thumbnail"), max_length=255)
    # What a share link serves: the PNG without its generation metadata and a copy of the thumbnail, under keys
    # that name no owner or job (the originals' do). Made on the first view of a share (services.share_copies).
    shared_file = models.FileField(_("shared file"), max_length=255, blank=True)
    shared_thumbnail = models.FileField(_("shared thumbnail"), max_length=255, blank=True)
    # When the job's brand kit put its logo on `file`, the image as the model drew it (both are downloadable).
    original_file = models.FileField(_("original file"), max_length=255, blank=True)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    seed = models.BigIntegerField(_("seed"))
    model = models.CharField(_("model"), max_length=128)
    backend = models.CharField(
        _("backend"), max_length=32, help_text=_("Which diffusion backend drew it (tiny = random weights).")
    )
    steps = models.PositiveSmallIntegerField(_("steps"))
    guidance = models.FloatField(_("guidance"))
    prompt_used = models.TextField(_("prompt used"))
    negative_prompt_used = models.TextField(_("negative prompt used"), blank=True)
    generation_seconds = models.FloatField(_("generation seconds"))
    production_path = models.CharField(_("production path"), max_length=32)
    template = models.ForeignKey(
        "templates_app.Template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="images",
        verbose_name=_("template"),
    )
    is_favourite = models.BooleanField(_("favourite"), default=False)
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="images", verbose_name=_("folder")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="images", verbose_name=_("tags"))
    deleted_at = models.DateTimeField(
        _("deleted at"),
        null=True,
        blank=True,
        help_text=_("In the trash since; purged with its files after GALLERY_TRASH_DAYS."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("generated image")
        verbose_name_plural = _("generated images")
        constraints = [
            # A job's n-th image exists at most once, however often the task runs.
            models.UniqueConstraint(fields=["job", "index"], name="image_once_per_job_index"),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="image_owner_created"),
            models.Index(fields=["owner", "production_path", "-created_at"], name="image_owner_path"),
            models.Index(fields=["deleted_at"], name="image_deleted_at", condition=models.Q(deleted_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"Image {self.uuid} of job {self.job_id}"


class SourceKind(models.TextChoices):
    IMAGE = "image", _("Image")
    MASK = "mask", _("Mask")


class SourceImage(models.Model):
    """An image the customer brought as a job's input (a product shot, a painted mask): private and re-encoded.

    Only the re-encoded PNG is kept (gallery.uploads), so nothing of the uploaded bytes survives; `sha256` is of
    that PNG, so the same picture uploaded twice has the same digest.
    """

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="source_images", verbose_name=_("owner")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=SourceKind, default=SourceKind.IMAGE)
    file = models.FileField(_("file"), max_length=255)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    byte_size = models.PositiveIntegerField(_("byte size"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("source image")
        verbose_name_plural = _("source images")
        indexes = [models.Index(fields=["owner", "-created_at"], name="source_owner_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uuid}"


def new_share_token() -> str:
    return secrets.token_urlsafe(32)


class ShareLinkQuerySet(models.QuerySet):
    def active(self, now=None) -> "ShareLinkQuerySet":
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ShareLink(models.Model):
    """A public, revocable link to one image or one folder. The token is the only secret."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links", verbose_name=_("owner")
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_share_token, editable=False)
    image = models.ForeignKey(
        GeneratedImage, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("image")
    )
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("folder")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(image__isnull=False, folder__isnull=True)
                | models.Q(image__isnull=True, folder__isnull=False),
                name="share_link_one_target",
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="share_link_expires_at")]

    def __str__(self) -> str:
        target = f"image {self.image_id}" if self.image_id else f"folder {self.folder_id}"
        return f"Share link to {target}"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
