"""What past deploys did to their target, read from what they recorded.

A release that recorded a rollout status (an event with details) had its change applied; one
still deploying may have; any other release that started deploying was refused before it
changed anything (the only other way out of its deploy).
"""

from django.db import migrations


def fill(apps, schema_editor):
    Release = apps.get_model("releases", "Release")
    RolloutEvent = apps.get_model("releases", "RolloutEvent")
    for release in Release.objects.filter(started_at__isnull=False).iterator():
        observed = (
            RolloutEvent.objects.filter(release_id=release.pk).exclude(detail={}).order_by("at").first()
        )
        if observed is not None:
            release.target_change, release.applied_at = "applied", observed.at
        elif release.state == "deploying":
            release.target_change = "unknown"
        else:
            release.target_change = "refused"
        release.save(update_fields=["target_change", "applied_at"])


class Migration(migrations.Migration):
    dependencies = [("releases", "0004_target_change")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
