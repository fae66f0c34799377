"""Kubernetes environments that name a kubeconfig file (or rely on $KUBECONFIG) deploy to a
registered cluster instead, when that file can be read here.

For each distinct (kubeconfig file, context): a readable file becomes a ``kubeconfig`` cluster
(its text stored encrypted) and the environments' ``kubeconfig``/``context`` give way to
``"cluster": <name>``. An unreadable file (e.g. it exists only on the deploy workers) still
gets a cluster, named after the context, with no credentials ("needs credentials" on the
Clusters page); those environments keep their kubeconfig settings, so none loses its target,
until an admin adds the credentials and points them at the cluster. ``in_cluster``
environments get the one ``in-cluster`` cluster.
"""

import os
import re
from pathlib import Path

import yaml
from django.db import migrations



def _server(text, context):
    try:
        loaded = yaml.safe_load(text)
        name = context or loaded.get("current-context") or ""
        ctx = next(c["context"] for c in loaded.get("contexts") or [] if c.get("name") == name)
        return str(next(c["cluster"]["server"] for c in loaded["clusters"] if c.get("name") == ctx["cluster"])), name
    except Exception:  # not a kubeconfig we can read: no server to show
        return "", context


def _name(wanted, taken):
    base = re.sub(r"[^a-z0-9-]+", "-", (wanted or "cluster").lower()).strip("-")[:55] or "cluster"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def forwards(apps, schema_editor):
    Environment = apps.get_model("releases", "Environment")
    Cluster = apps.get_model("clusters", "Cluster")
    taken = set(Cluster.objects.values_list("name", flat=True))
    made = {}
    for env in Environment.objects.filter(target_kind="kubernetes"):
        config = dict(env.target_config or {})
        if "cluster" in config:
            continue
        if config.get("in_cluster"):
            key = ("in-cluster",)
            if key not in made:
                made[key] = Cluster.objects.create(
                    name=_name("in-cluster", taken), auth_kind="in-cluster", server_url="https://kubernetes.default.svc"
                )
            config.pop("in_cluster")
            config["cluster"] = made[key].name
            env.target_config = config
            env.save(update_fields=["target_config"])
            continue
        path = config.get("kubeconfig") or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        path = path or str(Path.home() / ".kube" / "config")
        context = config.get("context", "")
        key = (path, context)
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError):
            text = None
        if key not in made and not text:
            # A cluster this upgrade made before for the same unreadable file waits for credentials.
            made[key] = Cluster.objects.filter(auth_kind="kubeconfig", context=context, kubeconfig="").first()
        if made.get(key) is None:
            server, context_name = _server(text or "", context)
            made[key] = Cluster.objects.create(
                name=_name(context_name or context or Path(path).name, taken),
                auth_kind="kubeconfig",
                server_url=server,
                kubeconfig=text or "",  # the historical field encrypts it
                context=context,
            )
        if text:
            config.pop("kubeconfig", None)
            config.pop("context", None)
            config["cluster"] = made[key].name
            env.target_config = config
            env.save(update_fields=["target_config"])


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0001_clusters"),
        ("releases", "0010_release_env_finished"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
