"""Run periods of past releases, from the audit trail: each ``release.succeeded`` event is the
moment that release became what ran in its environment, until the next one there."""

from django.db import migrations


def backfill(apps, schema_editor):
    Release = apps.get_model("releases", "Release")
    RunPeriod = apps.get_model("releases", "RunPeriod")
    AuditEvent = apps.get_model("dashboard", "AuditEvent")
    if RunPeriod.objects.exists():
        return
    successes = AuditEvent.objects.filter(object_type="releases.release", action="release.succeeded").order_by(
        "created_at", "id"
    )
    environment_of = dict(Release.objects.values_list("pk", "environment_id"))
    open_period = {}
    for event in successes.iterator():
        release_id = int(event.object_id)
        environment_id = environment_of.get(release_id)
        if environment_id is None:
            continue
        previous = open_period.get(environment_id)
        if previous is not None:
            previous.ended_at = event.created_at
            previous.save(update_fields=["ended_at"])
        open_period[environment_id] = RunPeriod.objects.create(
            environment_id=environment_id, release_id=release_id, started_at=event.created_at
        )


class Migration(migrations.Migration):
    dependencies = [("releases", "0007_run_periods"), ("dashboard", "0006_hash_existing_tokens")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
