"""The installed 3D-render template declares the inputs the source documents' requests set (render_engine,
lighting_setup): as a new version, so the jobs of the version before keep pointing at what they ran with."""

from django.db import migrations

SLUG = "3d-render"


def add_render_inputs(apps, schema_editor):
    from templates_app.seed_templates import RENDER_INPUTS

    Template = apps.get_model("templates_app", "Template")
    current = Template.objects.filter(slug=SLUG, is_active=True).order_by("-version").first()
    if current is None or "inputs" in current.config:  # not seeded here, or staff declared inputs already
        return
    latest = Template.objects.filter(slug=SLUG).order_by("-version").values_list("version", flat=True).first()
    Template.objects.filter(pk=current.pk).update(is_active=False)
    current.pk = None
    current.version = latest + 1
    current.is_active = True
    current.config = {**current.config, "inputs": RENDER_INPUTS}
    current.save()


class Migration(migrations.Migration):
    dependencies = [
        ("templates_app", "0003_template_styles"),
    ]

    operations = [migrations.RunPython(add_render_inputs, migrations.RunPython.noop)]
