"""Azure Container Registry: /acr/v1 through the SDK, /v2 through our distribution client.

Runs against the ACR double (../shared/testing/azure/acr_double.py), which implements ACR's
token flow (/oauth2/exchange, /oauth2/token), admin Basic auth, Link paging and faults.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken

from integrations.errors import NotFound, TemporaryError, Unauthorized
from integrations.images import labels
from integrations.registry import TagDetails
from integrations.registry.acr import AcrRegistry
from tests.fixtures.registry import ACR_AAD_TOKEN, ACR_ADMIN, build_small_image


class StaticCredential:
    """A TokenCredential handing out a fixed Entra ID token (what DefaultAzureCredential would)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def admin_registry(double: Any, password: str = ACR_ADMIN[1], **kwargs: Any) -> AcrRegistry:
    return AcrRegistry(double.endpoint, username=ACR_ADMIN[0], password=password, **kwargs)


def token_registry(double: Any, token: str = ACR_AAD_TOKEN, **kwargs: Any) -> AcrRegistry:
    return AcrRegistry(double.endpoint, credential=StaticCredential(token), **kwargs)


def request_log(double: Any) -> list[dict[str, Any]]:
    return requests.get(f"{double.endpoint}/_double/requests", timeout=5).json()["value"]


def add_fault(double: Any, path_regex: str, status: int, count: int = 5, **extra: Any) -> None:
    fault = {"path_regex": path_regex, "status": status, "count": count, **extra}
    requests.post(f"{double.endpoint}/_double/faults", json=fault, timeout=5).raise_for_status()


@pytest.fixture(params=["admin", "aad-token"])
def registry(request: pytest.FixtureRequest, acr_double: Any) -> AcrRegistry:
    return admin_registry(acr_double) if request.param == "admin" else token_registry(acr_double)


def test_it_pushes_and_reads_tag_details_through_acr_v1(
    registry: AcrRegistry, small_image, tmp_path: Path
) -> None:
    registry.push_image("team/churn", "v1", small_image)
    newer = build_small_image(tmp_path / "newer", revision="def456")
    registry.push_image("team/churn", "v2", newer)
    assert isinstance(registry, TagDetails)
    details = {t.tag: t for t in registry.tag_details("team/churn")}
    assert (
        details["v1"].digest == small_image.manifest_digest and details["v2"].digest == newer.manifest_digest
    )
    assert details["v1"].created is not None and details["v1"].created <= details["v2"].created


def test_it_reads_manifest_properties(registry: AcrRegistry, small_image) -> None:
    registry.push_image("team/churn", "v1", small_image)
    registry.push_image("team/churn", "stable", small_image)
    props = registry.manifest_properties("team/churn", "v1")
    assert props.digest == small_image.manifest_digest
    assert (props.architecture, props.os) == ("amd64", "linux")
    assert sorted(props.tags) == ["stable", "v1"]
    assert props.size == sum(b.size for b in small_image.blobs)


def test_v2_operations_work_against_acr(
    registry: AcrRegistry, small_image, tmp_path: Path, acr_double: Any
) -> None:
    registry.check()
    ref = registry.push_image("team/churn", "v1", small_image)
    assert registry.resolve("team/churn", "v1") == ref.digest
    config = registry.get_config("team/churn", "v1")
    assert config.labels[labels.MODEL_NAME] == "churn" and config.exposed_ports == [8000]
    pulled = registry.pull("team/churn", ref.digest, tmp_path / "pulled")  # blobs come via a 307 to storage
    assert [p.read_bytes() for p in pulled.layer_paths] == [b.path.read_bytes() for b in small_image.layers]
    assert (
        registry.reference("team/churn", ref.digest) == f"{acr_double.endpoint[7:]}/team/churn@{ref.digest}"
    )


def test_second_push_skips_blobs_acr_already_has(registry: AcrRegistry, small_image, acr_double: Any) -> None:
    registry.push_image("app", "v1", small_image)
    requests.delete(f"{acr_double.endpoint}/_double/requests", timeout=5)
    registry.push_image("app", "v2", small_image)
    methods = [(r["method"], r["status"]) for r in request_log(acr_double) if r["path"].startswith("/v2/")]
    assert ("POST", 202) not in methods and ("POST", 201) not in methods
    assert methods[-1] == ("PUT", 201)


def test_tags_are_listed_page_by_page_following_link_headers(acr_double: Any, small_image) -> None:
    registry = admin_registry(acr_double)
    registry.v2.page_size = 7
    registry.push_image("app", "t000", small_image)
    for i in range(1, 40):
        registry.v2._put_manifest("app", f"t{i:03d}", small_image)
    assert list(registry.list_tags("app")) == [f"t{i:03d}" for i in range(40)]
    pages = [r for r in request_log(acr_double) if r["path"] == "/v2/app/tags/list" and r["status"] == 200]
    assert len(pages) == 6
    assert len(list(registry.tag_details("app"))) == 40


def test_token_flow_exchanges_the_aad_token_and_asks_per_scope(acr_double: Any, small_image) -> None:
    registry = token_registry(acr_double)
    registry.push_image("app", "v1", small_image)
    registry.resolve("app", "v1")
    log = request_log(acr_double)
    exchanges = [r for r in log if r["path"] == "/oauth2/exchange"]
    assert exchanges and exchanges[0]["form"]["grant_type"] == ["access_token"]
    token_scopes = {r["form"]["scope"][0] for r in log if r["path"] == "/oauth2/token" and r["form"]}
    assert {"repository:app:pull,push", "repository:app:pull"} <= token_scopes


def test_expired_tokens_are_renewed(acr_double: Any, small_image) -> None:
    registry = token_registry(acr_double)
    registry.push_image("app", "v1", small_image)
    requests.post(f"{acr_double.endpoint}/_double/tokens/expire", timeout=5)
    assert registry.resolve("app", "v1") == small_image.manifest_digest
    assert [t.tag for t in registry.tag_details("app")] == ["v1"]


def test_a_wrong_password_is_unauthorized(acr_double: Any, small_image) -> None:
    admin_registry(acr_double).push_image("app", "v1", small_image)
    registry = admin_registry(acr_double, password="wrong")
    with pytest.raises(Unauthorized):
        registry.resolve("app", "v1")
    with pytest.raises(Unauthorized):
        list(registry.tag_details("app"))
    with pytest.raises(Unauthorized):
        token_registry(acr_double, token="unknown-aad-token").resolve("app", "v1")


def test_server_errors_are_temporary(acr_double: Any, small_image, tmp_path: Path) -> None:
    registry = admin_registry(acr_double)
    registry.push_image("app", "v1", small_image)
    add_fault(acr_double, r"^/acr/v1/", 503)
    with pytest.raises(TemporaryError):
        list(registry.tag_details("app"))
    with pytest.raises(TemporaryError):
        registry.manifest_properties("app", "v1")
    requests.delete(f"{acr_double.endpoint}/_double/faults", timeout=5)
    add_fault(acr_double, r"/manifests/", 429, retry_after=7)
    with pytest.raises(TemporaryError) as raised:
        registry.resolve("app", "v1")
    assert raised.value.retry_after == 7
    add_fault(acr_double, r"/blobs/uploads/", 500)
    with pytest.raises(TemporaryError):
        registry.push_image("app", "v2", build_small_image(tmp_path / "other"))


def test_unknown_tags_and_manifests_are_not_found(acr_double: Any, small_image) -> None:
    registry = admin_registry(acr_double)
    registry.push_image("app", "v1", small_image)
    with pytest.raises(NotFound):
        registry.resolve("app", "nope")
    with pytest.raises(NotFound):
        registry.manifest_properties("app", "nope")
    with pytest.raises(NotFound):
        list(registry.tag_details("missing"))
