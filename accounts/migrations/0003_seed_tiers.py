from django.db import migrations

# A frozen copy of accounts.tiers.DEFAULT_TIERS at the time of writing: staff edit the rows afterwards.
TIERS = [
    ("free", 100, 1, 5, "20/min", "1200/min", 4, 1536),
    ("pro", 2000, 4, 25, "120/min", "6000/min", 4, 2048),
    ("enterprise", 20000, 16, 100, "600/min", "30000/min", 4, 2048),
]
FIELDS = (
    "monthly_credits",
    "max_running_jobs",
    "max_queued_jobs",
    "submit_rate",
    "read_rate",
    "max_images_per_job",
    "max_side",
)


def seed(apps, schema_editor):
    Tier = apps.get_model("accounts", "Tier")
    for name, *values in TIERS:
        Tier.objects.get_or_create(name=name, defaults=dict(zip(FIELDS, values, strict=True)))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_credits_ledger_tiers_api_keys")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
