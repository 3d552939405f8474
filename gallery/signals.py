"""Stored objects follow their rows: however an image row goes (its job deleted, the trash emptied, an admin
delete), its file, thumbnail, un-logoed original and shared copies are removed from storage once that delete has
committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import GeneratedImage, SourceImage
from .services import delete_stored


@receiver(post_delete, sender=GeneratedImage, dispatch_uid="gallery.remove_stored_files")
def remove_stored_files(sender, instance: GeneratedImage, using: str, **kwargs) -> None:
    stored = (
        instance.file,
        instance.thumbnail,
        instance.original_file,
        instance.shared_file,
        instance.shared_thumbnail,
    )
    names = [field.name for field in stored if field.name]
    # After commit only: a rolled-back delete must still find its files.
    transaction.on_commit(lambda: delete_stored(*names), using=using)


@receiver(post_delete, sender=SourceImage, dispatch_uid="gallery.remove_source_file")
def remove_source_file(sender, instance: SourceImage, using: str, **kwargs) -> None:
    name = instance.file.name
    transaction.on_commit(lambda: delete_stored(name), using=using)
