"""An audited update records every field it changed, before and after; secrets only as "changed"."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from core.models import AuditEvent
from tests.releases.helpers import environment

pytestmark = pytest.mark.django_db


def test_an_application_update_records_each_changed_field_and_hides_the_secret(api, manager, application):
    api.force_authenticate(manager)
    response = api.patch(
        f"/api/v1/applications/{application.name}/",
        {"description": "scores churn", "webhook_secret": "n3w-s3cret", "port": 9000},
        format="json",
    )
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action="application.update")
    assert event.before == {"description": "", "webhook_secret": "changed", "port": 8080}
    assert event.after == {"description": "scores churn", "webhook_secret": "changed", "port": 9000}
    created = AuditEvent.objects.get(action="application.create")
    assert created.after["webhook_secret"] == "set" and "s3cret" not in str(created.after)
    assert "n3w-s3cret" not in str(list(AuditEvent.objects.values("before", "after")))


def test_an_environment_update_records_fields_the_old_trail_left_out(api, manager, application):
    staging = environment(application, actor=manager)
    api.force_authenticate(manager)
    response = api.patch(
        f"/api/v1/environments/{staging.pk}/", {"rollout_timeout": 900, "soak_minutes": 30}, format="json"
    )
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action="environment.update")
    assert (event.before, event.after) == (
        {"soak_minutes": 0, "rollout_timeout": 600},
        {"soak_minutes": 30, "rollout_timeout": 900},
    )
    created = AuditEvent.objects.get(action="environment.create")
    assert created.after["approver_group"] == Group.objects.get(name="Release manager").name


def test_an_update_that_changes_nothing_writes_no_event(api, manager, application):
    api.force_authenticate(manager)
    api.patch(f"/api/v1/applications/{application.name}/", {"description": ""}, format="json")
    assert not AuditEvent.objects.filter(action="application.update").exists()
