"""Nobody can switch off the separation of duties that constrains them: a weakening of an
environment's approval rules waits for a second release manager or an admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from core.models import AuditEvent
from releases import services
from releases.models import Environment, Release, RuleChange
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod(application, manager):
    return environment(application, "prod", actor=manager, required_approvals=2)


def patch(api, user, env, **fields):
    api.force_authenticate(user)
    return api.patch(f"/api/v1/environments/{env.pk}/", fields, format="json")


def test_a_release_manager_cannot_switch_self_approval_on_and_approve_their_own_release(
    api, manager, prod, application, churn_model
):
    response = patch(api, manager, prod, allow_self_approval=True, required_approvals=0)
    assert response.status_code == 202
    prod.refresh_from_db()
    assert (prod.allow_self_approval, prod.required_approvals) == (False, 2)  # nothing changed yet
    [change] = api.get("/api/v1/rule-changes/", {"environment": prod.pk, "state": "pending"}).json()[
        "results"
    ]
    assert change["changes"] == {"allow_self_approval": [False, True], "required_approvals": [2, 0]}

    refused = api.post(f"/api/v1/rule-changes/{change['id']}/approve/", {}, format="json")
    assert refused.status_code == 403 and "someone else has to approve it" in refused.json()["detail"]
    release = services.request_release(
        prod, image=candidate(application, churn_model.versions.get(), "v2"), actor=manager
    )
    assert release.state == Release.State.REQUESTED
    assert (
        "four-eyes" in api.post(f"/api/v1/releases/{release.pk}/approve/", {}, format="json").json()["detail"]
    )


def test_a_second_release_manager_applies_the_change_and_it_is_audited(api, manager, make_user, prod):
    other = make_user("manager2", "release-manager")
    patch(api, manager, prod, required_approvals=1)
    change = RuleChange.objects.get()
    api.force_authenticate(other)
    applied = api.post(f"/api/v1/rule-changes/{change.pk}/approve/", {"comment": "ok for now"}, format="json")
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    prod.refresh_from_db()
    assert prod.required_approvals == 1
    actions = list(
        AuditEvent.objects.filter(object_type="releases.rulechange").values_list("action", "actor_name")
    )
    assert actions == [("rule_change.applied", "manager2"), ("rule_change.propose", "manager")]
    update = AuditEvent.objects.get(action="environment.update")
    assert (update.before, update.after, update.actor_name) == (
        {"required_approvals": 2},
        {"required_approvals": 1},
        "manager2",
    )


def test_tightening_applies_at_once(api, manager, prod):
    reviewers = Group.objects.create(name="Prod reviewers")
    assert patch(api, manager, prod, required_approvals=3, approval_validity_hours=4).status_code == 200
    prod.refresh_from_db()
    assert (prod.required_approvals, prod.approval_validity_hours) == (3, 4)
    assert not RuleChange.objects.exists()
    Environment.objects.filter(pk=prod.pk).update(approver_group=None)  # any release manager approves
    services.update_environment(
        prod, {"approver_group": reviewers}, actor=manager
    )  # a group where anyone was
    assert Environment.objects.get(pk=prod.pk).approver_group == reviewers and not RuleChange.objects.exists()
    services.update_environment(prod, {"approver_group": None}, actor=manager)  # back to anyone: weaker
    assert RuleChange.objects.get().changes == {"approver_group": [reviewers.pk, None]}


def test_an_environment_created_with_weak_rules_starts_with_the_defaults(api, manager, application):
    api.force_authenticate(manager)
    created = api.post(
        "/api/v1/environments/",
        {
            "application": application.name,
            "name": "prod-eu",
            "target_config": {"port": 18111},
            "required_approvals": 0,
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["required_approvals"] == 1
    assert RuleChange.objects.get().changes == {"required_approvals": [1, 0]}


def test_who_decides(api, manager, make_user, prod, scientist, admin_user):
    patch(api, manager, prod, required_approvals=1)
    change = RuleChange.objects.get()
    api.force_authenticate(scientist)
    assert api.post(f"/api/v1/rule-changes/{change.pk}/reject/", {}, format="json").status_code == 403
    api.force_authenticate(admin_user)
    rejected = api.post(
        f"/api/v1/rule-changes/{change.pk}/reject/", {"comment": "not before the audit"}, format="json"
    )
    assert rejected.json()["state"] == "rejected" and rejected.json()["reason"] == "not before the audit"
    again = api.post(f"/api/v1/rule-changes/{change.pk}/approve/", {}, format="json")
    assert again.status_code == 409


def test_a_change_proposed_from_rules_that_changed_since_is_refused(api, manager, make_user, prod):
    other = make_user("manager2", "release-manager")
    patch(api, manager, prod, required_approvals=1)
    change = RuleChange.objects.get()
    services.update_environment(prod, {"required_approvals": 3}, actor=manager)  # tightened meanwhile
    api.force_authenticate(other)
    stale = api.post(f"/api/v1/rule-changes/{change.pk}/approve/", {}, format="json")
    assert stale.status_code == 409 and "propose the change again" in stale.json()["detail"]
    assert Environment.objects.get(pk=prod.pk).required_approvals == 3


def test_the_environment_page_offers_the_decision_to_the_second_person_only(client, manager, make_user, prod):
    other = make_user("manager2", "release-manager")
    services.update_environment(prod, {"allow_self_approval": True}, actor=manager)
    change = RuleChange.objects.get()
    client.force_login(manager)
    mine = client.get(f"/environments/{prod.pk}/").content.decode()
    assert (
        "requester may approve no → yes" in mine and "Approve the change" not in mine and "Withdraw" in mine
    )
    client.force_login(other)
    assert "Approve the change" in client.get(f"/environments/{prod.pk}/").content.decode()
    client.post(f"/environments/{prod.pk}/rule-change/", {"change": change.pk, "decision": "approve"})
    assert Environment.objects.get(pk=prod.pk).allow_self_approval is True
