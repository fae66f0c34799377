"""Creating and editing environments in the pages: a Kubernetes one on a registered cluster, bad
input as form errors, weaker approval rules proposed, and only for roles that may."""

from __future__ import annotations

import re

import pytest

from clusters import services as cluster_services
from core.models import AuditEvent
from releases.models import Environment, RuleChange
from tests.releases.helpers import environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(make_user):
    return cluster_services.create_cluster(
        {
            "name": "aks-prod",
            "server_url": "https://aks-prod.example.com",
            "auth_kind": "token",
            "token": "t0k",
        },
        actor=make_user("admin", "admin"),
    )


def form(**fields):
    return {
        "name": "prod",
        "order": "3",
        "previous": "",
        "soak_minutes": "0",
        "required_approvals": "1",
        "approval_validity_hours": "24",
        "auto_rollback": "on",
        "rollout_timeout": "600",
        "target_kind": "kubernetes",
        "port": "",
        "cluster": "aks-prod",
        "namespace": "churn",
        "deployment": "web",
        "container": "",
        "target_config": '{"progress_deadline": 300}',
        **fields,
    }


def test_a_release_manager_creates_a_kubernetes_environment_on_a_registered_cluster(
    client, application, manager, cluster
):
    staging = environment(application, "staging", actor=manager)
    client.force_login(manager)
    page = client.get(f"/applications/{application.name}/").content.decode()
    assert f'href="/applications/{application.name}/environments/new/"' in page

    new = client.get(f"/applications/{application.name}/environments/new/").content.decode()
    assert '<option value="aks-prod">aks-prod</option>' in new
    inputs = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', new)
    assert inputs and not set(inputs) - set(re.findall(r'<label[^>]*\bfor="([^"]+)"', new))

    answer = client.post(
        f"/applications/{application.name}/environments/new/",
        form(previous=str(staging.pk), soak_minutes="30"),
    )
    prod = Environment.objects.get(application=application, name="prod")
    assert answer.status_code == 302 and answer["Location"] == prod.get_absolute_url()
    assert prod.target_kind == "kubernetes" and prod.previous == staging and prod.soak_minutes == 30
    assert prod.target_config == {
        "cluster": "aks-prod",
        "namespace": "churn",
        "deployment": "web",
        "progress_deadline": 300,
    }
    event = AuditEvent.objects.get(action="environment.create", object_id=str(prod.pk))
    assert event.actor_name == manager.username and event.after["target_config"]["cluster"] == "aks-prod"


def test_editing_shows_the_settings_and_saves_a_change_with_its_audit(client, application, manager, cluster):
    prod = environment(
        application,
        "prod",
        actor=manager,
        target_kind="kubernetes",
        target_config={
            "cluster": "aks-prod",
            "namespace": "churn",
            "deployment": "web",
            "app_url": "https://x.io",
        },
    )
    client.force_login(manager)
    assert f'href="/environments/{prod.pk}/settings/"' in client.get(prod.get_absolute_url()).content.decode()

    page = client.get(f"/environments/{prod.pk}/settings/").content.decode()
    assert '<option value="aks-prod" selected>aks-prod</option>' in page
    assert 'name="namespace" value="churn"' in page and "app_url" in page and 'name="name"' not in page

    answer = client.post(
        f"/environments/{prod.pk}/settings/",
        form(namespace="churn-2", rollout_timeout="900", target_config='{"app_url": "https://x.io"}'),
    )
    assert answer.status_code == 302
    prod.refresh_from_db()
    assert prod.rollout_timeout == 900 and prod.name == "prod"
    assert prod.target_config == {
        "cluster": "aks-prod",
        "namespace": "churn-2",
        "deployment": "web",
        "app_url": "https://x.io",
    }
    event = AuditEvent.objects.get(action="environment.update", object_id=str(prod.pk))
    assert event.before["rollout_timeout"] == 600 and event.after["rollout_timeout"] == 900


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"cluster": "no-such-cluster"}, "Select a valid choice"),
        ({"namespace": "Not_A_Namespace"}, "&quot;namespace&quot; must be a namespace name"),
        ({"namespace": ""}, "&quot;namespace&quot; is required"),
        ({"target_config": "[1, 2]"}, "Must be a JSON object"),
        ({"target_config": "{not json"}, "Enter a valid JSON"),
        ({"target_config": '{"kubconfig": "/x"}'}, "unknown setting &quot;kubconfig&quot;"),
        ({"rollout_timeout": "0"}, "greater than or equal to 1"),
        ({"name": "Prod!"}, "Use 1-40 lower-case letters, digits and &#x27;-&#x27;"),
        ({"target_kind": "local", "port": "80"}, "greater than or equal to 1024"),
        ({"target_kind": "local", "port": "", "target_config": ""}, "&quot;port&quot; is required"),
    ],
)
def test_bad_settings_are_form_errors_and_nothing_is_saved(
    client, application, manager, cluster, fields, error
):
    client.force_login(manager)
    answer = client.post(f"/applications/{application.name}/environments/new/", form(**fields))
    assert answer.status_code == 200 and error in answer.content.decode()
    assert not Environment.objects.filter(name__iexact="prod").exists()
    assert not AuditEvent.objects.filter(action="environment.create").exists()


def test_a_second_environment_of_the_same_name_is_a_form_error(client, application, manager, cluster):
    environment(application, "prod", actor=manager)
    client.force_login(manager)
    answer = client.post(f"/applications/{application.name}/environments/new/", form())
    assert answer.status_code == 200 and "already exists" in answer.content.decode()
    assert Environment.objects.filter(name="prod").count() == 1


def test_weaker_approval_rules_from_the_page_wait_for_a_second_person(client, application, manager, cluster):
    prod = environment(
        application,
        "prod",
        actor=manager,
        required_approvals=2,
        target_kind="kubernetes",
        target_config={"cluster": "aks-prod", "namespace": "churn", "deployment": "web"},
    )
    client.force_login(manager)
    answer = client.post(f"/environments/{prod.pk}/settings/", form(required_approvals="0"), follow=True)
    assert "wait for a second person" in answer.content.decode()
    prod.refresh_from_db()
    assert prod.required_approvals == 2
    assert RuleChange.objects.get(environment=prod, state="pending").changes["required_approvals"] == [2, 0]


def test_only_roles_that_may_change_environments_see_or_use_the_forms(
    client, application, manager, scientist
):
    prod = environment(application, "prod", actor=manager)
    client.force_login(scientist)
    assert "/settings/" not in client.get(prod.get_absolute_url()).content.decode()
    assert "environments/new/" not in client.get(f"/applications/{application.name}/").content.decode()
    for url in (f"/environments/{prod.pk}/settings/", f"/applications/{application.name}/environments/new/"):
        assert client.get(url).status_code == 403
        assert client.post(url, form(name="other")).status_code == 403
    assert Environment.objects.count() == 1
    assert client.get("/applications/no-such-app/environments/new/").status_code == 403
    client.force_login(manager)
    assert client.get("/applications/no-such-app/environments/new/").status_code == 404
    assert client.get("/environments/999999/settings/").status_code == 404
