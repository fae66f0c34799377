"""Azure Container Registry.

The ACR-only metadata API (``/acr/v1``: tag and manifest properties) goes through the
``azure-containerregistry`` SDK (https://learn.microsoft.com/python/api/overview/azure/containerregistry-readme);
pushing and pulling go through the OCI distribution client against ACR's ``/v2``, authenticated
with the admin user or with an ACR refresh token exchanged for an Entra ID (AAD) token
(https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from azure.containerregistry import ContainerRegistryClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy, SansIOHTTPPolicy

from integrations.errors import NotFound, PermanentError, TemporaryError, Unauthorized
from integrations.images.oci import BuiltImage
from integrations.registry.base import ImageConfig, ImageRef, PulledImage, TagInfo, validate_repository
from integrations.registry.distribution import DistributionRegistry
from integrations.registry.transport import raise_for_status

DEFAULT_AUDIENCE = "https://containerregistry.azure.net"
SYSTEM = "Azure Container Registry"
T = TypeVar("T")


@dataclass(frozen=True)
class ManifestInfo:
    digest: str
    size: int | None
    created: datetime | None
    architecture: str
    os: str
    tags: list[str]


def _enum_value(value: Any) -> str:
    """The SDK returns str-based enums (ArtifactArchitecture.AMD64); we want the wire value."""
    return str(getattr(value, "value", value) or "")


class _AllowHttp(SansIOHTTPPolicy):
    """The SDK refuses bearer auth over plain http; only added for http:// endpoints (test doubles)."""

    def on_request(self, request: PipelineRequest) -> None:
        request.context["enforce_https"] = False


class _AdminBasicAuth(HTTPPolicy):
    """Send the admin user as Basic auth, which ACR accepts directly.

    Sits after the SDK's challenge policy so a 401 for wrong credentials (a ``Basic`` challenge,
    which the SDK cannot parse) becomes an authentication error instead of a crash.
    """

    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self._header = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def send(self, request: PipelineRequest) -> PipelineResponse:
        request.http_request.headers["Authorization"] = self._header
        response = self.next.send(request)
        if response.http_response.status_code == 401:
            raise ClientAuthenticationError(
                "admin user or password rejected", response=response.http_response
            )
        return response


@contextmanager
def _sdk_errors(what: str) -> Iterator[None]:
    """Translate azure-core exceptions into ours."""
    try:
        yield
    except ResourceNotFoundError as exc:
        raise NotFound(f"{what}: not found", system=SYSTEM) from exc
    except ClientAuthenticationError as exc:
        raise Unauthorized(
            f"{what}: {exc.message} (check credentials and AcrPull role)", system=SYSTEM
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code or 0
        error = TemporaryError if status == 429 or status >= 500 else PermanentError
        if status in (401, 403):
            error = Unauthorized
        raise error(f"{what}: HTTP {status} {exc.reason or ''}".strip(), system=SYSTEM) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TemporaryError(f"{what}: cannot reach the registry: {exc.message}", system=SYSTEM) from exc
    except AzureError as exc:
        raise PermanentError(f"{what}: {exc.message}", system=SYSTEM) from exc


class _RefreshTokens:
    """ACR refresh tokens from an AAD credential, via POST /oauth2/exchange (AAD-OAuth.md)."""

    def __init__(self, endpoint: str, credential: TokenCredential, audience: str, timeout: float) -> None:
        self.endpoint, self.credential, self.audience, self.timeout = endpoint, credential, audience, timeout
        self._token = ""
        self._lock = threading.Lock()

    def __call__(self, force: bool) -> str:
        with self._lock:
            if force or not self._token:
                self._token = self._exchange()
            return self._token

    def _exchange(self) -> str:
        try:
            aad = self.credential.get_token(f"{self.audience}/.default").token
            response = requests.post(
                f"{self.endpoint}/oauth2/exchange",
                data={
                    "grant_type": "access_token",
                    "service": urlsplit(self.endpoint).netloc,
                    "access_token": aad,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TemporaryError(f"token exchange failed: {exc}", system=SYSTEM) from exc
        except AzureError as exc:
            raise Unauthorized(f"cannot get an Entra ID token: {exc.message}", system=SYSTEM) from exc
        raise_for_status(response, "token exchange (/oauth2/exchange)", SYSTEM)
        return response.json().get("refresh_token", "")


class AcrRegistry:
    kind = "acr"

    def __init__(
        self,
        endpoint: str,
        *,
        username: str = "",
        password: str = "",
        credential: TokenCredential | None = None,
        audience: str = DEFAULT_AUDIENCE,
        timeout: float = 60.0,
        chunk_size: int | None = None,
    ) -> None:
        self.endpoint = (endpoint if "://" in endpoint else f"https://{endpoint}").rstrip("/")
        if not username and credential is None:
            from azure.identity import DefaultAzureCredential  # only when it is the chosen way in

            credential = DefaultAzureCredential()
        per_call = [_AllowHttp()] if self.endpoint.startswith("http://") else []
        per_retry = [_AdminBasicAuth(username, password)] if username else []
        # Retries belong to the job layer (TemporaryError); the SDK must not sleep on them too.
        self.client = ContainerRegistryClient(
            self.endpoint, None if username else credential, audience=audience,
            per_call_policies=per_call, per_retry_policies=per_retry, retry_total=0,
            connection_timeout=timeout, read_timeout=timeout,
        )  # fmt: skip
        refresh = None if username else _RefreshTokens(self.endpoint, credential, audience, timeout)  # type: ignore[arg-type]  # set above without a user name
        extra: dict[str, Any] = {"chunk_size": chunk_size} if chunk_size else {}
        self.v2 = DistributionRegistry(
            self.endpoint, username=username, password=password, refresh_token=refresh,
            timeout=(10.0, timeout), system=SYSTEM, **extra,
        )  # fmt: skip

    def _sdk(self, what: str, call: Callable[[], T]) -> T:
        with _sdk_errors(what):
            return call()

    # -- ACR metadata (/acr/v1) ------------------------------------------------
    def tag_details(self, repository: str) -> Iterator[TagInfo]:
        """GET /acr/v1/{name}/_tags, paged (https://learn.microsoft.com/rest/api/containerregistry/tag/get-list)."""
        validate_repository(repository)
        with _sdk_errors(f"tags of {repository}"):
            for tag in self.client.list_tag_properties(repository, results_per_page=500):
                yield TagInfo(tag.name, tag.digest, tag.created_on)

    def manifest_properties(self, repository: str, reference: str) -> ManifestInfo:
        """GET /acr/v1/{name}/_manifests/{digest}
        (https://learn.microsoft.com/rest/api/containerregistry/manifests/get-properties)."""
        props = self._sdk(
            f"manifest {repository}:{reference}",
            lambda: self.client.get_manifest_properties(validate_repository(repository), reference),
        )
        return ManifestInfo(
            digest=props.digest,
            size=props.size_in_bytes,
            created=props.created_on,
            architecture=_enum_value(props.architecture),
            os=_enum_value(props.operating_system),
            tags=list(props.tags or []),
        )

    # -- everything else through /v2 -------------------------------------------
    def check(self) -> None:
        self.v2.check()

    def push_image(self, repository: str, tag: str, image: BuiltImage) -> ImageRef:
        return self.v2.push_image(repository, tag, image)

    def list_tags(self, repository: str) -> Iterator[str]:
        return self.v2.list_tags(repository)

    def resolve(self, repository: str, tag: str) -> str:
        return self.v2.resolve(repository, tag)

    def get_config(self, repository: str, reference: str) -> ImageConfig:
        return self.v2.get_config(repository, reference)

    def pull(self, repository: str, digest: str, dest_dir: Path) -> PulledImage:
        return self.v2.pull(repository, digest, dest_dir)

    def reference(self, repository: str, digest: str) -> str:
        return self.v2.reference(repository, digest)
