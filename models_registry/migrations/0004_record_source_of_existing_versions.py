"""Versions registered before pinning were read from the key they were published under."""

from django.db import migrations
from django.db.models import F


def record_sources(apps, schema_editor):
    ModelVersion = apps.get_model("models_registry", "ModelVersion")
    ModelVersion.objects.filter(source_key="").update(source_key=F("storage_key"), source_etag=F("etag"))


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0003_version_state_and_pinning"),
    ]

    operations = [
        migrations.RunPython(record_sources, migrations.RunPython.noop),
    ]
