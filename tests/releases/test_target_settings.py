"""Target settings are checked when saved: types, ranges and names, each problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from releases import target_settings
from releases.models import Environment

pytestmark = pytest.mark.django_db
KUBE = {"namespace": "shop", "deployment": "churn", "kubeconfig": "/etc/dashboard/kubeconfig"}


def create(api, application, target_kind, target_config):
    return api.post(
        "/api/v1/environments/",
        {
            "application": application.name,
            "name": "prod",
            "target_kind": target_kind,
            "target_config": target_config,
        },
        format="json",
    )


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {**KUBE, "progress_deadline": "600s"},
            "\"progress_deadline\" must be a whole number from 1 to 86400 (not '600s')",
        ),
        (
            {**KUBE, "kubconfig": "/x"},
            'unknown setting "kubconfig" (a kubernetes target knows app_url, cluster, container,',
        ),
        ({**KUBE, "in_cluster": "yes"}, "\"in_cluster\" must be true or false (not 'yes')"),
        ({**KUBE, "app_url": "javascript:alert(1)"}, '"app_url" must be an http:// or https:// address'),
        ({**KUBE, "namespace": "Shop_1"}, "\"namespace\" must be a namespace name (not 'Shop_1')"),
        ({"deployment": "churn"}, '"namespace" is required'),
        ({**KUBE, "kubeconfig": "kube.yaml"}, '"kubeconfig" must be an absolute path on the deploy workers'),
        ({**KUBE, "in_cluster": True}, '"in_cluster" cannot be combined with "kubeconfig" or "context"'),
        ({**KUBE, "progress_deadline": True}, '"progress_deadline" must be a whole number'),
    ],
)
def test_a_bad_kubernetes_setting_is_refused_with_its_name(api, manager, application, config, problem):
    api.force_authenticate(manager)
    response = create(api, application, "kubernetes", config)
    assert response.status_code == 400, response.content
    assert problem in response.json()["detail"]
    assert not Environment.objects.exists()


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"port": "8101"}, "\"port\" must be a whole number from 1024 to 65535 (not '8101')"),
        ({"port": 80}, '"port" must be from 1024 to 65535 (not 80)'),
        ({"port": 8101, "health_timeout": -1}, '"health_timeout" must be from 1 to 3600 (not -1)'),
        (
            {"port": 8101, "namespace": "x"},
            'unknown setting "namespace" (a local target knows health_timeout, port)',
        ),
    ],
)
def test_a_bad_local_setting_is_refused_with_its_name(api, manager, application, config, problem):
    api.force_authenticate(manager)
    response = create(api, application, "local", config)
    assert response.status_code == 400 and problem in response.json()["detail"]


def test_every_problem_is_named_at_once(api, manager, application):
    api.force_authenticate(manager)
    detail = create(
        api, application, "kubernetes", {"deployment": "x", "progress_deadline": 0, "typo": 1}
    ).json()["detail"]
    assert all(name in detail for name in ('"typo"', '"namespace" is required', '"progress_deadline"'))


def test_valid_settings_are_saved_and_a_change_is_checked_too(api, manager, application):
    api.force_authenticate(manager)
    config = {**KUBE, "container": "app", "progress_deadline": 600, "app_url": "https://churn.example.com/"}
    created = create(api, application, "kubernetes", config)
    assert created.status_code == 201, created.content
    assert created.json()["target_config"] == config
    changed = api.patch(
        f"/api/v1/environments/{created.json()['id']}/",
        {"target_config": {**config, "progress_deadline": 600.5}},
        format="json",
    )
    assert (
        changed.status_code == 400
        and '"progress_deadline" must be a whole number' in changed.json()["detail"]
    )
    assert Environment.objects.get().target_config == config


def test_the_documentation_lists_every_setting():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "releases.md").read_text()
    assert target_settings.documentation() in docs
