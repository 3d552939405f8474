from django.db import transaction

from .catalog import CURATED_TEMPLATES
from .models import Template


@transaction.atomic
def seed_curated_templates() -> int:
    """Create the curated templates that are missing; existing ones are left as staff edited them."""
    created = 0
    for spec in CURATED_TEMPLATES:
        _, was_created = Template.objects.get_or_create(slug=spec["slug"], version=1, defaults=spec)
        created += was_created
    return created
