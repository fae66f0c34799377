"""The build service interface: something that turns code + a model into a container image.

A build is queued once per dashboard build (``BuildRequest.build_id``); the service runs the
application's tests, bakes the model file into the image and pushes it to the registry.
Implementations are polled: ``get`` reports progress, ``logs`` streams new log lines and
``find`` lets a retried worker pick up a run it already queued instead of queueing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({BuildState.SUCCEEDED, BuildState.FAILED, BuildState.CANCELLED})


@dataclass(frozen=True)
class BuildRequest:
    build_id: int  # the dashboard's build id; the key that makes queueing idempotent
    application: str
    repository_url: str
    commit: str
    model_name: str
    model_version: int
    model_uri: str  # where the build fetches the model file from
    model_sha256: str  # the build verifies the downloaded model against it
    image_repository: str
    image_tag: str
    test_command: str
    # Used by the local builder (the Azure pipeline has its own defaults for these):
    app_path: str = ""  # the application's directory inside the repository ("" = its root)
    model_key: str = ""  # the model's key in the model store
    model_version_id: str = ""  # the blob version the model is pinned to ("" = the key's only content)
    model_etag: str = ""  # without a version id: the etag the model's object must still have
    model_filename: str = "model.bin"  # the model lands at /model/<model_filename> in the image
    command: str = "python3 serve.py"  # the image's entrypoint, split like a shell would
    port: int = 8080
    base_image: str = ""  # "repository:tag" or "repository@sha256:…" in the same registry; "" = none


@dataclass(frozen=True)
class ExternalBuild:
    external_id: str  # the service's own id for the run
    url: str  # a page a person can open to follow the run
    state: str  # a BuildState value
    result_reason: str = ""  # why it failed or was cancelled, in the service's words
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class BuildService(Protocol):
    kind: str

    def check(self) -> None:
        """Raise an IntegrationError when the service cannot be reached or is misconfigured."""
        ...

    def queue(self, req: BuildRequest) -> ExternalBuild:
        """Start a build for ``req``.

        Does not look for an earlier run itself: callers that may be retrying call ``find``
        first, because a request that timed out may still have queued a run.
        """
        ...

    def get(self, external_id: str) -> ExternalBuild:
        """The run's current state. Raises ``NotFound``."""
        ...

    def logs(self, external_id: str, since_line: int = 0) -> list[str]:
        """Log lines after the first ``since_line`` lines of the run's whole log, in order.

        Call again with ``since_line + len(result)`` to stream a running build. The result
        may be capped in size, so an empty list (not a short one) means "nothing new yet".
        """
        ...

    def cancel(self, external_id: str) -> None:
        """Ask the run to stop; returns at once (``get`` reports ``cancelled`` later).

        Cancelling a run that has already finished does nothing.
        """
        ...

    def find(self, build_id: int) -> ExternalBuild | None:
        """The run already queued for dashboard build ``build_id`` (the latest one), if any."""
        ...
