"""Celery entry points for templates: the sample images are drawn where the diffusion stack lives."""

from celery import shared_task


@shared_task(name="templates_app.render_missing_previews", ignore_result=True, queue="default")
def render_missing_previews_task(refresh: bool = False) -> int:
    """Draw the previews `manage.py seed` left for a worker (the web image has no torch); returns how many."""
    # Imported here: the web image (beat, seed) loads this module to send the task, and has no torch.
    from .sample_images import render_missing_previews

    rendered, _ = render_missing_previews(refresh=refresh, keep_backend=True)
    return len(rendered)
