"""`manage.py ensure_bucket`: create the private image bucket when S3 storage is configured and it is missing.

Run once at start-up (the launcher and compose's migrate service do). Idempotent; a no-op for local storage.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gallery.storage import BucketError, ensure_bucket


class Command(BaseCommand):
    help = "Create the S3 image bucket if it does not exist (private: no ACL, no public policy)."

    def handle(self, *args, **options) -> None:
        try:
            outcome = ensure_bucket()
        except BucketError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(outcome)
