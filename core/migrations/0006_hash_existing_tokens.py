"""Existing API tokens (Django REST framework's, stored in clear) become hashed ApiTokens.

Their keys keep working; the clear-text rows are then deleted. The old table is read with SQL
because its app is no longer installed.
"""

import hashlib

from django.db import migrations
from django.utils import timezone

OLD_TABLE = "authtoken_token"


def hash_existing(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("dashboard", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {OLD_TABLE}")
        rows = cursor.fetchall()
        for key, user_id, created in rows:
            ApiToken.objects.get_or_create(
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                defaults={"user_id": user_id, "name": "api", "prefix": key[:11], "created_at": created or timezone.now()},
            )
        cursor.execute(f"DELETE FROM {OLD_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0005_api_tokens")]

    operations = [migrations.RunPython(hash_existing, migrations.RunPython.noop)]
