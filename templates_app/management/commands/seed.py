from django.core.management.base import BaseCommand

from accounts.services import ADMIN_EMAIL, ensure_admin
from templates_app.services import seed_curated_templates


class Command(BaseCommand):
    help = (
        "Load seed data: the first admin user (password printed once), the curated templates, "
        "and a preview drawn by the diffusion backend for each template that has none."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-previews", action="store_true", help="Do not draw template previews.")
        parser.add_argument(
            "--refresh-previews", action="store_true", help="Draw every active template's preview again."
        )

    def handle(self, *args, **options) -> None:
        password = ensure_admin()
        if password:
            self.stdout.write(
                self.style.WARNING(f"Created admin {ADMIN_EMAIL} with password {password}  (shown once: write it down)")
            )
        created = seed_curated_templates()
        self.stdout.write(f"Templates: {created} created.")
        if options["no_previews"]:
            return
        # Imported here: drawing loads torch, which only this command (never the web process) needs.
        from templates_app.sample_images import render_missing_previews

        rendered, skipped = render_missing_previews(refresh=options["refresh_previews"])
        self.stdout.write(f"Template previews: {len(rendered)} drawn.")
        for template, reason in skipped:
            self.stdout.write(self.style.WARNING(f"  no preview for {template.slug}: {reason}"))
