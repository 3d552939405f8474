"""A character's reference image follows its row, however the row goes (its story deleted, an admin delete)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.models import SourceImage
from gallery.services import SourceInUse, delete_source_image, delete_stored

from .models import Character


@receiver(post_delete, sender=Character, dispatch_uid="scenes.remove_reference_image")
def remove_reference_image(sender, instance: Character, using: str, **kwargs) -> None:
    if instance.reference_source_id is not None:  # the source image made from it, unless a waiting job reads it
        source = SourceImage.objects.filter(pk=instance.reference_source_id).first()
        if source is not None:
            try:
                with transaction.atomic(using=using):
                    delete_source_image(source=source)
            except SourceInUse:
                pass
    name = instance.reference_image.name
    if name:
        # After commit only: a rolled-back delete must still find its file.
        transaction.on_commit(lambda: delete_stored(name), using=using)
