from django.db import migrations, models
from django.db.models import F


def trust_existing_addresses(apps, schema_editor):
    """Accounts made before verification existed already have their credits: they count as confirmed."""
    apps.get_model("accounts", "User").objects.filter(email_verified_at__isnull=True).update(
        email_verified_at=F("date_joined")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_seed_tiers"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the owner confirmed the address; empty: no credits are granted.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="token_version",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(trust_existing_addresses, migrations.RunPython.noop),
    ]
