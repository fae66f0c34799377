"""Repository URLs stored with credentials lose them; the change is audited without the secret.

Builds of such an application then need the token in the workers' git credentials file
(GIT_CREDENTIALS_FILE, see docs/builds.md).
"""

import re

from django.db import migrations

USERINFO = re.compile(r"(?i)^([a-z][a-z0-9+.-]*://)([^/@]+)@")


def strip(apps, schema_editor):
    Application = apps.get_model("builds", "Application")
    AuditEvent = apps.get_model("dashboard", "AuditEvent")
    for application in Application.objects.all().iterator():
        match = USERINFO.match(application.repository_url)
        secret = match and (":" in match.group(2) or match.group(1).lower() in ("http://", "https://"))
        if not secret:
            continue
        application.repository_url = USERINFO.sub(r"\1", application.repository_url)
        application.save(update_fields=["repository_url"])
        AuditEvent.objects.create(
            actor_name="system:migration",
            action="application.credentials_removed",
            object_type="builds.application",
            object_id=str(application.pk),
            object_repr=application.name[:200],
            before={"repository_url": "changed"},
            after={"repository_url": application.repository_url},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("builds", "0005_repository_url_without_credentials"),
        ("dashboard", "0006_hash_existing_tokens"),
    ]

    operations = [migrations.RunPython(strip, migrations.RunPython.noop)]
