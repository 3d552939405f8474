from django.core.management.base import BaseCommand

from accounts.services import ADMIN_EMAIL, ensure_admin
from templates_app.services import seed_curated_templates


class Command(BaseCommand):
    help = "Load seed data: the first admin user (password printed once) and the curated templates."

    def handle(self, *args, **options) -> None:
        password = ensure_admin()
        if password:
            self.stdout.write(
                self.style.WARNING(f"Created admin {ADMIN_EMAIL} with password {password}  (shown once: write it down)")
            )
        created = seed_curated_templates()
        self.stdout.write(f"Templates: {created} created.")
