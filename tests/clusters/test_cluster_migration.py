"""The upgrade turns Kubernetes environments that named a kubeconfig file into registered clusters,
and no environment loses its target."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from clusters.models import Cluster
from releases.models import Environment
from tests.releases.conftest import SETUP
from tests.releases.helpers import environment

pytestmark = pytest.mark.django_db

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
contexts: [{name: prod, context: {cluster: aks-prod, user: deployer}}]
clusters: [{name: aks-prod, cluster: {server: "https://aks-prod.example.io:443"}}]
users: [{name: deployer, user: {token: migrated-sekret}}]
"""


def migrate() -> None:
    import_module("releases.migrations.0011_kubernetes_environments_to_clusters").forwards(apps, None)


def old_style(application, name, config):
    env = environment(application, name, actor=SETUP)
    base = {"namespace": "churn", "deployment": "web", "container": "app"}
    Environment.objects.filter(pk=env.pk).update(target_kind="kubernetes", target_config={**base, **config})
    return env


def test_readable_unreadable_and_in_cluster_environments(application, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    readable = old_style(application, "prod", {"kubeconfig": str(path), "context": "prod"})
    also = old_style(application, "prod-eu", {"kubeconfig": str(path), "context": "prod"})
    unreadable = old_style(application, "staging", {"kubeconfig": "/nowhere/config", "context": "stage"})
    inside = old_style(application, "dev", {"in_cluster": True})

    migrate()

    prod = Cluster.objects.get(auth_kind="kubeconfig", context="prod")
    assert (prod.name, prod.server_url, prod.kubeconfig) == (
        "prod",
        "https://aks-prod.example.io:443",
        KUBECONFIG,
    )
    for env in (readable, also):  # one cluster for the same file and context
        env.refresh_from_db()
        assert env.target_config == {
            "cluster": "prod",
            "namespace": "churn",
            "deployment": "web",
            "container": "app",
        }
    stage = Cluster.objects.get(context="stage")
    assert stage.needs_credentials and not stage.has_credentials
    unreadable.refresh_from_db()
    assert unreadable.target_config["kubeconfig"] == "/nowhere/config"  # keeps its target until an admin acts
    inside.refresh_from_db()
    assert Cluster.objects.get(name=inside.target_config["cluster"]).auth_kind == "in-cluster"
    assert "in_cluster" not in inside.target_config
    assert Cluster.objects.count() == 3

    migrate()  # running again changes nothing
    assert Cluster.objects.count() == 3
