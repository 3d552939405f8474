import importlib.util

from django.core.management.base import BaseCommand, CommandParser
from kombu.exceptions import OperationalError

from accounts.services import ADMIN_EMAIL, ensure_admin
from templates_app.models import Template
from templates_app.services import seed_curated_templates
from templates_app.tasks import render_missing_previews_task


def diffusion_stack_installed() -> bool:
    """The worker image has torch; the web image (which runs `migrate` in compose) does not."""
    return importlib.util.find_spec("torch") is not None


class Command(BaseCommand):
    help = (
        "Load seed data: the first admin user (password printed once), the curated templates, and a preview "
        "for each template that has none, drawn here where torch is installed or else by a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--previews",
            choices=["auto", "here", "worker", "none"],
            default="auto",
            help="Where template previews are drawn: here (needs torch), by a worker (queued), or not at all. "
            "auto: here when torch is installed, else by a worker.",
        )
        parser.add_argument("--no-previews", action="store_true", help="Same as --previews none.")
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
        where = "none" if options["no_previews"] else options["previews"]
        if where == "auto":
            where = "here" if diffusion_stack_installed() else "worker"
        if where == "here":
            self.draw_here(refresh=options["refresh_previews"])
        elif where == "worker":
            self.leave_for_worker(refresh=options["refresh_previews"])

    def draw_here(self, *, refresh: bool) -> None:
        # Imported here: drawing loads torch, which the web image does not have.
        from templates_app.sample_images import render_missing_previews

        rendered, skipped = render_missing_previews(refresh=refresh)
        self.stdout.write(f"Template previews: {len(rendered)} drawn.")
        for template, reason in skipped:
            self.stdout.write(self.style.WARNING(f"  no preview for {template.slug}: {reason}"))

    def leave_for_worker(self, *, refresh: bool) -> None:
        listed = Template.objects.listed()
        missing = listed.count() if refresh else listed.filter(preview="").count()
        if not missing:
            self.stdout.write("Template previews: none missing.")
            return
        try:
            render_missing_previews_task.delay(refresh=refresh)
        except OperationalError as error:
            self.stdout.write(
                self.style.WARNING(
                    f"Template previews: {missing} missing, and the broker is unreachable ({error}): "
                    "run `manage.py seed` again once Redis is up. The site shows a placeholder until then."
                )
            )
            return
        self.stdout.write(
            f"Template previews: {missing} left for a worker (no diffusion stack here); the first worker "
            "to start draws them, and the site shows a placeholder until then."
        )
