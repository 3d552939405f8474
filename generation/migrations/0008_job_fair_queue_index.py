from django.db import migrations, models


class Migration(migrations.Migration):
    """The fair scheduler reads the last jobs started on a path at every claim: without this index that is a sort
    of every job the path ever ran."""

    dependencies = [
        ("generation", "0007_job_reference_method_and_request_id"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="generationjob",
            index=models.Index(fields=["production_path", "-started_at"], name="job_path_started"),
        ),
    ]
