"""The shipped manifests (``k8s/``) are valid Kubernetes objects, grant the deploy target what it
calls, and probe URLs the product serves on the ports its containers open."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from django.urls import Resolver404, resolve
from kubernetes import client as k8s

from tests.fixtures.shared import PROJECT_ROOT

K8S = PROJECT_ROOT / "k8s"
KUBERNETES_TARGET = PROJECT_ROOT / "integrations" / "deploy" / "kubernetes.py"
# Objects of custom resources, whose schema the official client does not know.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor")}
# The API group of each client class the deploy target calls through.
API_GROUPS = {"AppsV1Api": "apps", "CoreV1Api": ""}
VERBS = {"read": "get", "list": "list", "patch": "patch"}


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                yield f"{path.relative_to(PROJECT_ROOT)}#{index}", doc


def resources() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in k8s/: kustomize's own files are instructions, not objects."""
    return [
        (where, doc)
        for where, doc in documents()
        if not doc["apiVersion"].startswith("kustomize.config.k8s.io/")
    ]


def model_class(doc: dict[str, Any]) -> str:
    """``apps/v1`` + ``Deployment`` -> ``V1Deployment``: the client's naming of its models."""
    version = doc["apiVersion"].rpartition("/")[2]
    return f"{version[0].upper()}{version[1:]}{doc['kind']}"


def deserialize(doc: dict[str, Any]) -> Any:
    # The client's own deserializer (what it applies to the API server's answers); it checks
    # required fields and types but ignores keys it does not know.
    return k8s.ApiClient()._ApiClient__deserialize(doc, model_class(doc))


def unknown_keys(original: Any, known: Any, where: str = "") -> list[str]:
    """Keys of ``original`` that did not survive the round trip through the client's model."""
    if isinstance(original, dict):
        if not isinstance(known, dict):
            return [where or "/"]
        missing = []
        for key, value in original.items():
            if key not in known:
                if value is not None:  # the client drops null values, which are not typos
                    missing.append(f"{where}/{key}")
            else:
                missing += unknown_keys(value, known[key], f"{where}/{key}")
        return missing
    if isinstance(original, list) and isinstance(known, list) and len(original) == len(known):
        return [
            m
            for i, (o, k) in enumerate(zip(original, known, strict=True))
            for m in unknown_keys(o, k, f"{where}[{i}]")
        ]
    return []


def round_trip(doc: dict[str, Any]) -> list[str]:
    return unknown_keys(doc, k8s.ApiClient().sanitize_for_serialization(deserialize(doc)))


RESOURCES = resources()


def test_it_finds_the_objects_every_part_ships():
    kinds = {doc["kind"] for _, doc in RESOURCES}
    assert {"Deployment", "Service", "Role", "RoleBinding", "Job", "Secret"} <= kinds
    for kustomization in K8S.rglob("kustomization.yaml"):
        for name in yaml.safe_load(kustomization.read_text()).get("resources", []):
            assert (kustomization.parent / name).exists(), f"{kustomization}: {name} does not exist"


@pytest.mark.parametrize(("where", "doc"), RESOURCES, ids=[where for where, _ in RESOURCES])
def test_each_object_is_a_valid_kubernetes_object_without_unknown_fields(where, doc):
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES:
        assert doc["metadata"]["name"] and isinstance(doc["spec"], dict)
        return
    assert hasattr(k8s, model_class(doc)), f"{where}: no {doc['apiVersion']} {doc['kind']} in the client"
    assert round_trip(doc) == [], f"{where}: fields Kubernetes does not know"


def test_a_typo_in_a_field_name_is_caught():
    (web,) = [doc for where, doc in RESOURCES if "web-deployment" in where]
    typo = yaml.safe_load(yaml.safe_dump(web))
    container = typo["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    container["livenessProbe"]["httpGet"]["paht"] = container["livenessProbe"]["httpGet"].pop("path")
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    assert sorted(round_trip(typo)) == [
        "/spec/replica",
        "/spec/template/spec/containers[0]/livenessProbe/httpGet/paht",
        "/spec/template/spec/containers[0]/readinesProbe",
    ]


def test_a_missing_required_field_is_caught():
    service = next(doc for _, doc in RESOURCES if doc["kind"] == "Service")
    broken = yaml.safe_load(yaml.safe_dump(service))
    del broken["spec"]["ports"][0]["port"]
    with pytest.raises(ValueError, match="port"):
        deserialize(broken)


# --- what the deploy target may do ------------------------------------------------------------------


def target_api_calls() -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every call the Kubernetes deploy target makes, read from
    its source: ``self._apps.list_namespaced_replica_set(..., watch=True)`` and the like."""
    tree = ast.parse(KUBERNETES_TARGET.read_text())
    clients = {}  # attribute -> API group, from ``self._apps = client.AppsV1Api(...)``
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in API_GROUPS:
                for target in node.targets:
                    if isinstance(target, ast.Attribute):
                        clients[target.attr] = API_GROUPS[func.attr]
    assert set(clients.values()) == set(API_GROUPS.values()), clients
    calls = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)):
            continue
        if node.value.attr not in clients:
            continue
        match = re.fullmatch(r"(read|list|patch)_namespaced_(\w+)", node.attr)
        assert match, f"a call the test does not know how to check: {node.attr}"
        group, resource = clients[node.value.attr], match[2].replace("_", "") + "s"
        calls.add((group, resource, VERBS[match[1]]))
    for node in ast.walk(tree):  # a list with watch=True is a watch
        if isinstance(node, ast.Call) and any(
            k.arg == "watch" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        ):
            func = node.func
            assert isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
            resource = re.sub(r"^list_namespaced_", "", func.attr).replace("_", "") + "s"
            calls.add((clients[func.value.attr], resource, "watch"))
    return calls


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_target_role_grants_every_call_the_kubernetes_target_makes():
    calls = target_api_calls()
    assert {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "patch"),
        ("apps", "deployments", "watch"),
        ("apps", "replicasets", "list"),
        ("", "pods", "list"),
    } <= calls
    (role,) = [doc for where, doc in RESOURCES if doc["kind"] == "Role" and "target-access" in where]
    (binding,) = [
        doc for where, doc in RESOURCES if doc["kind"] == "RoleBinding" and "target-access" in where
    ]
    assert calls - granted(role) == set()
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    workers = [
        doc["spec"]["template"]["spec"]["serviceAccountName"]
        for where, doc in RESOURCES
        if doc["kind"] == "Deployment" and "worker-deploys" in where
    ]
    assert [s["name"] for s in binding["subjects"]] == workers


def test_the_target_role_may_change_nothing_but_deployments():
    (role,) = [doc for where, doc in RESOURCES if doc["kind"] == "Role" and "target-access" in where]
    writes = {(g, r) for g, r, verb in granted(role) if verb not in ("get", "list", "watch")}
    assert writes == {("apps", "deployments")}


# --- probes -------------------------------------------------------------------------------------------


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, doc in RESOURCES:
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if pod:
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                yield f"{where} {container['name']}", container


PROBES = [
    (f"{where} {kind}", container, container[kind])
    for where, container in containers()
    for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    if kind in container
]


def test_the_web_pods_have_every_kind_of_probe():
    assert {where.rsplit(" ", 1)[1] for where, _, _ in PROBES if "web-deployment" in where} == {
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
    }


@pytest.mark.parametrize(("where", "container", "probe"), PROBES, ids=[where for where, _, _ in PROBES])
def test_each_probe_asks_a_url_of_the_product_on_a_port_the_container_opens(where, container, probe, client):
    if "httpGet" not in probe:
        assert "exec" in probe or "tcpSocket" in probe, where
        return
    get = probe["httpGet"]
    try:
        resolve(get["path"])
    except Resolver404:
        pytest.fail(f"{where}: {get['path']} is no URL of the product")
    ports = container.get("ports", [])
    assert get["port"] in [p.get("name") for p in ports] + [p["containerPort"] for p in ports], where
    headers = {f"HTTP_{h['name'].upper().replace('-', '_')}": h["value"] for h in get.get("httpHeaders", [])}
    if get["path"] == "/healthz":  # readyz also needs the model store, which tests do not run
        assert client.get(get["path"], **headers).status_code == 200, where


def test_each_service_targets_a_port_its_pods_open():
    pods = {where: doc["spec"]["template"] for where, doc in RESOURCES if doc["kind"] == "Deployment"}
    for where, service in [(w, d) for w, d in RESOURCES if d["kind"] == "Service"]:
        selector = service["spec"]["selector"]
        chosen = [t for t in pods.values() if selector.items() <= t["metadata"]["labels"].items()]
        assert chosen, f"{where} selects no pods"
        for template in chosen:
            opened = [p for c in template["spec"]["containers"] for p in c.get("ports", [])]
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert target in [p.get("name") for p in opened] + [p["containerPort"] for p in opened], where
