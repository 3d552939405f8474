"""Scheduled gallery housekeeping (Celery beat). Both tasks are idempotent: a rerun finds nothing left to do."""

from celery import shared_task

from . import services


@shared_task(name="gallery.empty_trash", ignore_result=True)
def empty_trash() -> int:
    """Purge images trashed more than GALLERY_TRASH_DAYS ago, with their stored objects."""
    return services.empty_trash()


@shared_task(name="gallery.clean_expired_share_links", ignore_result=True)
def clean_expired_share_links() -> int:
    return services.clean_expired_share_links()
