"""Registered clusters over the wire, against the kube-apiserver stand-in: releasing to a token
cluster, and the connection test (reachability, credentials, permissions, TLS)."""

from __future__ import annotations

import datetime
import hashlib
import http.server
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client, config

from builds.models import Image
from clusters import services as cluster_services
from clusters.models import Cluster
from integrations.deploy.kubernetes_access import azure_credential
from releases import services
from releases.models import Environment, Release
from tests.fixtures.k8s import _deployment_body, _wait_available, digest_image, standin_class
from tests.releases.conftest import SETUP, free_port, run_jobs
from tests.support.http_server import serving

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TOKEN = "standin-token-" + "7" * 20


@pytest.fixture
def standin(tmp_path: Path):
    """The stand-in requiring a bearer token, with namespace ``churn`` and Deployment ``web``."""
    srv = standin_class()(port=0, controller_delay=0.05, token=TOKEN).start()
    api = config.new_client_from_config(
        config_file=str(srv.write_kubeconfig(tmp_path / "kc")), persist_config=False
    )
    client.CoreV1Api(api).create_namespace(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "churn"}}
    )
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("churn", _deployment_body("web", "app", digest_image("v1")))
    _wait_available(apps, "web", "churn", timeout=15)
    yield srv
    srv.stop()
    api.close()


def register(admin, url: str, **fields) -> Cluster:
    return cluster_services.create_cluster(
        {"name": "standin", "server_url": url, "auth_kind": "token", "token": TOKEN, **fields}, actor=admin
    )


@pytest.fixture
def admin(make_user):
    return make_user("admin", "admin")


def environment_on(cluster: Cluster, application, admin) -> Environment:
    return services.create_environment(
        {
            "application": application,
            "name": "prod",
            "target_kind": Environment.TargetKind.KUBERNETES,
            "target_config": {"cluster": cluster.name, "namespace": "churn", "deployment": "web"},
            "required_approvals": 0,
            "rollout_timeout": 30,
        },
        actor=SETUP,  # no approvals without a rule proposal
    )


def release(environment, churn_model, name, actor) -> Release:
    reference = digest_image(name)
    image = Image.objects.create(
        repository=reference.split("@")[0],
        digest=reference.split("@")[1],
        reference=reference,
        model_version=churn_model.versions.get(),
        commit=hashlib.sha1(name.encode()).hexdigest(),
    )
    created = services.request_release(environment, image=image, actor=actor)
    run_jobs()
    created.refresh_from_db()
    return created


def test_an_environment_on_a_token_cluster_releases_and_rolls_back(standin, application, churn_model, admin):
    environment = environment_on(register(admin, standin.url), application, admin)
    good = release(environment, churn_model, "v2", admin)
    assert good.state == "succeeded", good.state_reason
    bad = release(environment, churn_model, "v3-pullfail", admin)
    assert bad.state == "rolled_back", bad.state_reason
    assert Release.objects.get(rollback_of=bad).state == "succeeded"
    assert all(r["authorization"] for r in standin.requests if r["path"].startswith("/apis/apps"))


def test_releasing_to_an_unreachable_cluster_fails_with_the_reason(application, churn_model, admin):
    environment = environment_on(register(admin, f"http://127.0.0.1:{free_port()}"), application, admin)
    failed = release(environment, churn_model, "v2", admin)
    assert failed.state == "failed"
    assert "127.0.0.1" in failed.state_reason and TOKEN not in failed.state_reason


def run_connection_test(cluster: Cluster, admin, namespace: str = "churn") -> Cluster:
    cluster_services.request_connection_test(cluster, namespace, actor=admin)
    run_jobs("clusters.jobs.test_connection")
    cluster.refresh_from_db()
    return cluster


def test_a_connection_test_reaches_the_stand_in_but_it_has_no_access_reviews(standin, admin):
    # The stand-in serves core/v1 and apps/v1 only: POST selfsubjectaccessreviews is a 404 there.
    tested = run_connection_test(register(admin, standin.url), admin)
    assert tested.check_state == "failed" and tested.checked_at is not None
    assert "does not offer SelfSubjectAccessReview" in tested.check_reason
    assert any(r["path"] == "/version" for r in standin.requests)


def test_a_connection_test_with_a_wrong_token_says_the_credentials_were_rejected(standin, admin):
    tested = run_connection_test(register(admin, standin.url, token="wrong-token-0123456789"), admin)
    assert tested.check_state == "failed"
    assert "rejected the credentials (401" in tested.check_reason


def test_a_connection_test_of_an_unreachable_url_says_so(admin):
    tested = run_connection_test(register(admin, f"http://127.0.0.1:{free_port()}"), admin)
    assert tested.check_state == "failed"
    assert "is unreachable: cannot connect" in tested.check_reason


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_a_connection_test_with_the_wrong_ca_says_the_certificate_is_not_trusted(tmp_path, admin):
    server_cert, server_key = _self_signed(tmp_path, "server")
    other_ca, _ = _self_signed(tmp_path, f"other-{uuid.uuid4().hex[:6]}")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{httpd.server_address[1]}"
        tested = run_connection_test(register(admin, url, ca_bundle=other_ca.read_text()), admin)
    finally:
        httpd.shutdown()
    assert tested.check_state == "failed"
    assert "certificate is not trusted by the cluster's CA bundle" in tested.check_reason


def test_a_connection_test_reports_each_permission(admin):
    """Per verb, as SelfSubjectAccessReviews answer (a small server for that endpoint: the
    Kubernetes stand-in does not serve authorization.k8s.io)."""
    from tests.support.access_review_server import access_review_server

    granted = {("get", "deployments"), ("list", "pods"), ("list", "events")}
    with access_review_server(TOKEN, granted) as server:
        tested = run_connection_test(register(admin, server.url), admin, namespace="churn-prod")
    assert tested.check_state == "failed"  # patch deployments is missing: a deploy would fail
    assert tested.check_verbs["get deployments"] == "allowed"
    assert tested.check_verbs["patch deployments"].startswith("denied: RBAC")
    assert "may not patch deployments in churn-prod" in tested.check_reason
    assert {a["namespace"] for a in server.asked} == {"churn-prod"}

    with access_review_server(TOKEN, granted | {("patch", "deployments")}) as server:
        tested = run_connection_test(
            register(admin, server.url, name="aks-ok"), admin, namespace="churn-prod"
        )
    assert tested.check_state == "ok"
    assert set(tested.check_verbs.values()) == {"allowed"}
    assert "every deploy permission granted in churn-prod" in tested.check_reason


def test_an_answer_the_client_cannot_read_fails_the_test_instead_of_leaving_it_testing(admin):
    from tests.support.access_review_server import access_review_server

    with access_review_server(TOKEN, set(), version={"major": "1"}) as server:  # a body the client refuses
        tested = run_connection_test(register(admin, server.url), admin)
    assert tested.check_state == "failed" and "the connection test failed" in tested.check_reason


@pytest.mark.parametrize("code", [403, 409, 429, 500, 503])
def test_an_api_server_that_answers_an_error_fails_the_test_with_its_status(admin, code):
    from tests.support.refusing_http import refusing_server

    with refusing_server(code) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        tested = run_connection_test(register(admin, url), admin)
    assert tested.check_state == "failed" and tested.checked_at is not None
    expected = (
        "refused these credentials (403 Forbidden" if code == 403 else f"answered HTTP {code} to GET /version"
    )
    assert expected in tested.check_reason


def test_an_api_server_that_never_answers_fails_the_test_within_its_deadline(admin, monkeypatch):
    import socket
    import time

    from integrations.deploy import kubernetes_check

    monkeypatch.setattr(kubernetes_check, "DEADLINE", 4.0)  # a quick test; the deadline is 30 s
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connections are taken, never answered
        cluster = register(admin, f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        tested = run_connection_test(cluster, admin)
        took = time.monotonic() - started
    assert tested.check_state == "failed" and tested.checked_at is not None
    assert "did not answer in time" in tested.check_reason, tested.check_reason
    assert took < 4.0 + 2


class IdentityEndpoint:
    """A managed identity token endpoint (App Service protocol, which DefaultAzureCredential
    reads from IDENTITY_ENDPOINT and IDENTITY_HEADER), handing out whatever token is current.
    Each token expires within the five minutes the SDK renews ahead, so every ask reaches here."""

    HEADER = "identity-header-" + "5" * 16

    def __init__(self, token: str) -> None:
        self.current, self.served = token, []
        self.on_serve: Callable[[str], None] = lambda token: None  # called before a token is sent
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if (
                    self.headers.get("X-IDENTITY-HEADER") != outer.HEADER
                    or "resource=6dae42f8" not in self.path
                ):
                    self.send_response(400)
                    self.end_headers()
                    return
                outer.on_serve(outer.current)
                outer.served.append(outer.current)
                expires = int(datetime.datetime.now(datetime.UTC).timestamp()) + 120
                body = json.dumps(
                    {
                        "access_token": outer.current,
                        "expires_on": str(expires),
                        "token_type": "Bearer",
                        "resource": "6dae42f8-4368-4678-94ff-3960e28e3630",
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.handler, self.url = Handler, ""


@pytest.fixture
def identity(monkeypatch):
    endpoint = IdentityEndpoint("aad-token-1-" + "a" * 20)
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_USERNAME",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    with serving(endpoint.handler) as server:
        endpoint.url = f"{server.url}/msi/token"
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", endpoint.HEADER)
        azure_credential.cache_clear()
        yield endpoint
    azure_credential.cache_clear()


def test_an_aks_cluster_whose_token_is_renewed_mid_rollout_keeps_the_rollout_going(
    standin, identity, application, churn_model, admin
):
    standin.token = identity.current
    cluster = cluster_services.create_cluster(
        {"name": "aks", "server_url": standin.url, "auth_kind": "azure"}, actor=admin
    )
    environment = environment_on(cluster, application, admin)
    standin.sim.paused = True  # the rollout waits until the token has been replaced

    def renew_the_token_once_the_deployment_is_patched() -> None:
        deadline = time.monotonic() + 20
        while not any(r["method"] == "PATCH" for r in standin.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        renewed = "aad-token-2-" + "b" * 20

        def api_server_takes_only(token: str) -> None:
            standin.token = token

        # The API server takes the new token, and refuses the first one, from the moment the
        # identity hands it out. A real one takes both until the first expires; this stand-in
        # takes one, and switching at any other moment would refuse a request sent in between.
        identity.on_serve = api_server_takes_only
        identity.current = renewed
        while standin.token != renewed and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        standin.sim.paused = False

    renewer = threading.Thread(target=renew_the_token_once_the_deployment_is_patched)
    renewer.start()
    done = release(environment, churn_model, "v2", admin)
    renewer.join()
    assert done.state == "succeeded", done.state_reason
    assert identity.served[0].startswith("aad-token-1") and identity.served[-1].startswith("aad-token-2")


def test_an_aks_cluster_without_an_azure_identity_fails_the_release_saying_so(
    standin, identity, application, churn_model, admin, monkeypatch
):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")  # the endpoint refuses to hand out tokens
    azure_credential.cache_clear()
    cluster = cluster_services.create_cluster(
        {"name": "aks", "server_url": standin.url, "auth_kind": "azure"}, actor=admin
    )
    failed = release(environment_on(cluster, application, admin), churn_model, "v2", admin)
    assert failed.state == "failed"
    assert "cluster aks: no Azure token for AKS" in failed.state_reason
    assert identity.served == [] and not any(r["method"] == "PATCH" for r in standin.requests)
