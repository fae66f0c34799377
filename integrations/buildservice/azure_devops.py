"""Azure DevOps Pipelines as the build service (``azure-devops`` SDK, Build API 7.1).

The pipeline is ours to define: its YAML declares these template parameters (all strings)
and builds, tests and pushes the image from them::

    commit, modelName, modelVersion, modelBlobUri, modelSha256, imageRepository, imageTag,
    dashboardBuildId

``dashboardBuildId`` is what ``find`` looks for, so a retried worker adopts the run it
already queued. The definition owns the repository and the test step; ``BuildRequest``'s
``application``, ``repository_url`` and ``test_command`` are for builders without one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

# The SDK reads this once, on import, and otherwise keeps service discovery answers in the
# home directory for 12 hours - across servers that share a URL, and on read-only disks.
if "AZURE_DEVOPS_CACHE_DIR" not in os.environ:
    os.environ["AZURE_DEVOPS_CACHE_DIR"] = tempfile.mkdtemp(prefix="azure-devops-cache-")

import requests
from azure.devops.client import Client
from azure.devops.connection import Connection
from azure.devops.exceptions import AzureDevOpsServiceError
from azure.devops.v7_1.build.build_client import BuildClient
from azure.devops.v7_1.build.models import Build, DefinitionReference
from msrest.authentication import BasicAuthentication
from msrest.exceptions import AuthenticationError, ClientException, ClientRequestError
from requests.adapters import HTTPAdapter

from integrations.buildservice.base import BuildRequest, BuildState, ExternalBuild
from integrations.errors import (
    IntegrationError,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
)

SYSTEM = "Azure DevOps"
BUILD_ID_PARAMETER = "dashboardBuildId"
T = TypeVar("T")


class _LastResponse(threading.local):
    """What the last HTTP exchange of this thread returned; the SDK's exceptions drop the status."""

    status: int | None = None
    retry_after: float | None = None
    body: str = ""
    sign_in_page = False  # a 203 HTML sign-in page: ADO's way of refusing some credentials

    def clear(self) -> None:
        self.status, self.retry_after, self.body, self.sign_in_page = None, None, "", False


class _BoundedAdapter(HTTPAdapter):
    """Sends every SDK request with our timeout and no retries, and notes the response.

    The SDK's default is a 100 s timeout and three retries of any method on 5xx - a retried
    POST can queue a second build. Callers retry instead, after ``find``.
    """

    def __init__(self, timeout: tuple[float, float], last: _LastResponse) -> None:
        super().__init__(max_retries=0)
        self._timeout, self._last = timeout, last

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self._last.status = None
        response = super().send(
            request, stream=stream, timeout=self._timeout, verify=verify, cert=cert, proxies=proxies
        )
        self._last.status = response.status_code
        if response.status_code == 203 and "html" in response.headers.get("Content-Type", ""):
            self._last.sign_in_page = True
        if response.status_code >= 400:
            self._last.retry_after = _seconds(response.headers.get("Retry-After"))
            self._last.body = response.text[:20_000]  # error bodies are small; read once, cached
        return response


class _PatCredentials(BasicAuthentication):
    """PAT as Basic auth with an empty user name; also fits every SDK session with our adapter."""

    def __init__(self, pat: str, timeout: tuple[float, float], last: _LastResponse) -> None:
        super().__init__("", pat)
        self._timeout, self._last = timeout, last

    def signed_session(self, session: requests.Session | None = None) -> requests.Session:
        session = super().signed_session(session)
        for prefix in ("http://", "https://"):
            if not isinstance(session.adapters.get(prefix), _BoundedAdapter):
                session.mount(prefix, _BoundedAdapter(self._timeout, self._last))
        return session


class AzureDevOpsBuildService:
    kind = "azure_devops"

    def __init__(
        self,
        organization_url: str,
        project: str,
        definition_id: int,
        pat: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        find_window: int = 200,
        log_batch: int = 5000,
    ) -> None:
        if not (organization_url and project and pat):
            raise ValueError("Azure DevOps needs an organization URL, a project and a personal access token")
        self.organization_url = organization_url.rstrip("/")
        self.project = project
        self.definition_id = int(definition_id)
        self.find_window = find_window  # how many recent runs of the pipeline find() looks at
        self.log_batch = log_batch  # most log lines one logs() call returns
        self._last = _LastResponse()
        self._connection = Connection(
            base_url=self.organization_url, creds=_PatCredentials(pat, timeout, self._last)
        )
        self._client: BuildClient | None = None
        # The SDK keeps discovered API routes per URL for the life of the process; a new
        # instance asks again rather than trusting whatever answered at that URL before.
        Client._locations_cache.pop(Client._normalize_url(self.organization_url), None)

    # ------------------------------------------------------------------ operations

    def check(self) -> None:
        """Fetch the pipeline definition: proves the URL, the PAT and the ids.

        https://learn.microsoft.com/rest/api/azure/devops/build/definitions/get?view=azure-devops-rest-7.1
        """
        self._call(
            f"read pipeline {self.definition_id} in project {self.project}",
            lambda c: c.get_definition(self.project, self.definition_id),
        )

    def queue(self, req: BuildRequest) -> ExternalBuild:
        """Queue a run of the pipeline at ``req.commit`` with the model as template parameters.

        https://learn.microsoft.com/rest/api/azure/devops/build/builds/queue?view=azure-devops-rest-7.1
        """
        build = Build(
            definition=DefinitionReference(id=self.definition_id),
            source_version=req.commit,
            template_parameters=template_parameters(req),
        )
        queued = self._call(
            f"queue pipeline {self.definition_id} in project {self.project} for build {req.build_id}",
            lambda c: c.queue_build(build, self.project),
        )
        return self._external(queued)

    def get(self, external_id: str) -> ExternalBuild:
        """https://learn.microsoft.com/rest/api/azure/devops/build/builds/get?view=azure-devops-rest-7.1"""
        return self._external(self._get_build(external_id))

    def logs(self, external_id: str, since_line: int = 0) -> list[str]:
        """Lines of all the run's logs in log order, from global position ``since_line``.

        Only the newest log grows while a run goes on (steps run one after another), so
        positions in the concatenation stay stable between calls.
        https://learn.microsoft.com/rest/api/azure/devops/build/builds/get-build-logs?view=azure-devops-rest-7.1
        https://learn.microsoft.com/rest/api/azure/devops/build/builds/get-build-log-lines?view=azure-devops-rest-7.1
        """
        run = _run_number(external_id)
        action = f"read the logs of build {run}"
        listed = self._call(action, lambda c: c.get_build_logs(self.project, run)) or []
        listed.sort(key=lambda log: log.id)
        lines: list[str] = []
        offset = 0  # global position of the current log's first line
        for i, log in enumerate(listed):
            count = log.line_count or 0
            if offset + count <= since_line and i < len(listed) - 1:
                offset += count  # wholly consumed already: skip without fetching
                continue
            skip = max(since_line - offset, 0)
            room = self.log_batch - len(lines)

            def read_lines(
                c: BuildClient, log_id: int = log.id, skip: int = skip, room: int = room
            ) -> list[str]:
                return c.get_build_log_lines(
                    self.project, run, log_id, start_line=skip + 1, end_line=skip + room
                )

            got = self._call(action, read_lines)
            lines += got or []
            if len(lines) >= self.log_batch:
                break
            offset += max(count, skip + len(got or []))
        return lines

    def cancel(self, external_id: str) -> None:
        """Set the run's status to ``cancelling``; ADO finishes it as ``canceled``.

        https://learn.microsoft.com/rest/api/azure/devops/build/builds/update-build?view=azure-devops-rest-7.1
        """
        current = self._get_build(external_id)
        if current.status == "completed":
            return
        self._call(
            f"cancel build {current.id}",
            lambda c: c.update_build(Build(status="cancelling"), self.project, current.id),
        )

    def find(self, build_id: int) -> ExternalBuild | None:
        """The newest of the pipeline's recent runs whose ``dashboardBuildId`` is ``build_id``.

        https://learn.microsoft.com/rest/api/azure/devops/build/builds/list?view=azure-devops-rest-7.1
        """
        runs = self._call(
            f"list runs of pipeline {self.definition_id} in project {self.project}",
            lambda c: c.get_builds(
                self.project,
                definitions=[self.definition_id],
                query_order="queueTimeDescending",
                top=self.find_window,
            ),
        )
        for run in runs or []:
            if (run.template_parameters or {}).get(BUILD_ID_PARAMETER) == str(build_id):
                return self._external(run)
        return None

    # ------------------------------------------------------------------ helpers

    def _get_build(self, external_id: str) -> Build:
        run = _run_number(external_id)
        return self._call(f"read build {run}", lambda c: c.get_build(self.project, run))

    def _external(self, build: Build) -> ExternalBuild:
        state, reason = state_of(build.status, build.result)
        if state == BuildState.FAILED:
            reason = self._failure_reason(build.id) or reason
        # ADO's "_links" has no "links" member; the SDK keeps its entries as additional properties
        links = getattr(build._links, "additional_properties", None) or {}
        web = (links.get("web") or {}).get("href") or (
            f"{self.organization_url}/{self.project}/_build/results?buildId={build.id}"
        )
        return ExternalBuild(
            external_id=str(build.id),
            url=web,
            state=state,
            result_reason=reason,
            started_at=_utc(build.start_time),
            finished_at=_utc(build.finish_time),
        )

    def _failure_reason(self, run: int) -> str:
        """The error issues of the run's timeline ("Bash exited with code '1'.").

        https://learn.microsoft.com/rest/api/azure/devops/build/timeline/get?view=azure-devops-rest-7.1
        """
        try:
            timeline = self._call(
                f"read the timeline of build {run}",
                lambda c: c.get_build_timeline(self.project, run),
            )
        except NotFound:
            return ""
        messages: list[str] = []
        for record in (timeline.records if timeline else None) or []:
            for issue in record.issues or []:
                text = f"{record.name}: {issue.message}"
                if issue.type == "error" and issue.message and text not in messages:
                    messages.append(text)
        return "; ".join(messages[:5])

    def _build_client(self) -> BuildClient:
        if self._client is None:
            self._client = self._connection.clients_v7_1.get_build_client()
        return self._client

    def _call(self, action: str, fn: Callable[[BuildClient], T]) -> T:
        """Run one SDK call and turn whatever it raises into our errors."""
        self._last.clear()
        try:
            result = fn(self._build_client())
        # ValueError: the SDK's answer when the server does not offer a route it needs
        except (ClientException, requests.RequestException, ValueError) as exc:
            raise self._translate(action, exc) from exc
        if self._last.sign_in_page:
            raise self._unauthorized(action, "the server answered with a sign-in page")
        return result

    def _translate(self, action: str, exc: Exception) -> IntegrationError:
        last = self._last
        status = last.status
        detail = _detail(exc, last.body)
        if last.sign_in_page or status in (401, 403) or isinstance(exc, AuthenticationError):
            return self._unauthorized(action, detail)
        if status == 404:
            return NotFound(f"cannot {action}: {detail}", system=SYSTEM)
        if status is not None and (status >= 500 or status in (408, 429)):
            return TemporaryError(
                f"cannot {action} (HTTP {status}, try again later): {detail}",
                system=SYSTEM,
                retry_after=last.retry_after,
            )
        inner = exc.inner_exception if isinstance(exc, ClientRequestError) else exc
        if status is None and isinstance(inner, _TRANSIENT):
            return TemporaryError(
                f"cannot {action}: no answer from {self.organization_url} ({inner})", system=SYSTEM
            )
        return PermanentError(f"cannot {action}: {detail}", system=SYSTEM)

    def _unauthorized(self, action: str, detail: str) -> Unauthorized:
        return Unauthorized(
            f"cannot {action}: the personal access token was refused ({detail}). Check that it is "
            f"valid, not expired, and may read and queue builds in project {self.project}.",
            system=SYSTEM,
        )


_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def template_parameters(req: BuildRequest) -> dict[str, str]:
    """What the pipeline YAML receives; ADO passes template parameters as strings."""
    return {
        "commit": req.commit,
        "modelName": req.model_name,
        "modelVersion": str(req.model_version),
        "modelBlobUri": req.model_uri,
        "modelSha256": req.model_sha256,
        "imageRepository": req.image_repository,
        "imageTag": req.image_tag,
        BUILD_ID_PARAMETER: str(req.build_id),
    }


def state_of(status: str | None, result: str | None) -> tuple[BuildState, str]:
    """Our state (and a default reason) for an ADO build status and result."""
    if status != "completed":
        # "cancelling" stays running: steps may still be pushing until ADO says canceled
        queued = status in (None, "notStarted", "postponed", "none")
        return (BuildState.QUEUED if queued else BuildState.RUNNING), ""
    if result == "succeeded":
        return BuildState.SUCCEEDED, ""
    if result == "canceled":
        return BuildState.CANCELLED, "the run was cancelled in Azure DevOps"
    if result == "partiallySucceeded":
        # a step failed but was allowed to continue: do not release what it produced
        return BuildState.FAILED, "only partially succeeded: a step failed but was allowed to continue"
    if result == "failed":
        return BuildState.FAILED, "the run failed"
    return BuildState.FAILED, f"the run finished with result {result!r}"


def _utc(moment: datetime | None) -> datetime | None:
    """The SDK's datetimes carry isodate's UTC; callers compare against the standard one."""
    return moment.astimezone(UTC) if moment else None


def _run_number(external_id: str) -> int:
    try:
        return int(external_id)
    except (TypeError, ValueError):
        raise NotFound(f"{external_id!r} is not an Azure DevOps build id", system=SYSTEM) from None


def _detail(exc: Exception, body: str) -> str:
    """ADO's own message, plus the validation messages a refused queue request carries."""
    message = exc.message if isinstance(exc, AzureDevOpsServiceError) else str(exc)
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        results = data.get("validationResults") or (data.get("customProperties") or {}).get(
            "ValidationResults"
        )
        extra = [r["message"] for r in results or [] if isinstance(r, dict) and r.get("message")]
        if extra:
            message = f"{message} {'; '.join(extra)}"
    return (message or type(exc).__name__).strip()


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds; it may be a number or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(float(retry_after), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(retry_after) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None
