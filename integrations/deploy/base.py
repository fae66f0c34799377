"""The deployment target interface: start a rollout of one image and follow it to the end.

A release is deployed by pointing the target at an image *digest* (``repo@sha256:...``), never
a tag, so what runs is exactly what was built and approved. ``deploy`` only starts the rollout;
``watch`` follows it until it succeeds, fails or the caller's patience runs out. Every call is
safe to repeat: a worker that restarts half-way deploys the same release id again and the target
notices it has nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from integrations.errors import PermanentError

Phase = Literal["progressing", "succeeded", "failed"]
PROGRESSING: Phase = "progressing"
SUCCEEDED: Phase = "succeeded"
FAILED: Phase = "failed"


def as_phase(value: str) -> Phase:
    """A phase read back from a document (the local supervisor's state.json)."""
    for phase in (PROGRESSING, SUCCEEDED, FAILED):
        if value == phase:
            return phase
    raise PermanentError(f"unknown rollout phase {value!r}", system="deployment")


class RunningImageChanged(PermanentError):
    """The target does not run the image we expected: someone changed it outside the product.

    Retrying the same request will not help; a person has to look at what runs and release again.
    """


@dataclass(frozen=True)
class DeployRequest:
    release_id: str
    image: str  # "repo@sha256:..." - always a digest
    model_name: str
    model_version: str
    change_cause: str  # shown in the target's own history (kubectl rollout history)
    # What the product itself last set on the target: the rollout is refused when something else
    # runs. Empty for the first release. Two when a change's outcome is not known (a worker died
    # while the target was being changed): either is a state the product produced.
    expected_images: tuple[str, ...] = ()
    expected_from: str = ""  # who set them, for the refusal's message ("release #12")

    def __post_init__(self) -> None:
        if "@sha256:" not in self.image:
            raise PermanentError(
                f"image {self.image!r} is not pinned to a digest (repo@sha256:...); "
                "deploy the digest the build produced, not a tag",
                system="deploy",
            )
        if not self.release_id:
            raise PermanentError("a deploy request needs a release id", system="deploy")

    def refusal(self, where: str, running: str | None, *, system: str) -> RunningImageChanged:
        """The refusal when ``running`` is none of the expected images: nothing was changed."""
        what = f"runs {running!r}" if running else "runs nothing"
        expected = " or ".join(repr(image) for image in self.expected_images)
        source = f" that {self.expected_from} set" if self.expected_from else ""
        return RunningImageChanged(
            f"{where} {what}, not {expected}{source}: it was changed outside the product. "
            f"Nothing was deployed. Put {expected} back, or check what runs, then release again.",
            system=system,
        )


@dataclass(frozen=True)
class RolloutStatus:
    phase: Phase
    message: str
    observed_generation: int
    generation: int
    replicas: int
    updated_replicas: int
    ready_replicas: int
    available_replicas: int
    conditions: list[dict] = field(default_factory=list)
    pod_problems: list[str] = field(default_factory=list)  # "web-abc: ImagePullBackOff: ..."
    image: str = ""
    release_id: str = ""

    @property
    def done(self) -> bool:
        return self.phase != PROGRESSING


@dataclass(frozen=True)
class RunningState:
    """What the target runs right now, to compare with what was released (drift)."""

    image: str
    release_id: str  # "" when the running version was not deployed by us
    model_version: str
    generation: int
    # What the target was last asked to run, where that can differ from what runs (the local
    # target keeps serving the old release when a new one fails); "" where it cannot.
    desired_image: str = ""
    # Health: pods (or processes) ready to serve out of those wanted; None where unknown.
    ready_replicas: int | None = None
    replicas: int | None = None

    def matches(self, images: tuple[str, ...] | list[str]) -> bool:
        """Whether the target runs, or was last asked to run, one of ``images``."""
        return bool({self.image, self.desired_image} & set(images))


class DeploymentTarget(Protocol):
    kind: str

    def check(self) -> None:
        """Raise an IntegrationError when the target cannot be reached or is misconfigured."""
        ...

    def current(self) -> RunningState | None:
        """What runs now; ``None`` when nothing has been deployed there yet."""
        ...

    def deploy(self, req: DeployRequest) -> RolloutStatus:
        """Start rolling out ``req.image`` and return at once.

        Raises ``RunningImageChanged``, changing nothing, when ``req.expected_images`` is given and
        something else runs (changed outside the product). Any other ``PermanentError`` also means
        the target was not changed. Deploying the same release id twice starts only one rollout.
        """
        ...

    def status(self) -> RolloutStatus:
        """The rollout's state now."""
        ...

    def watch(self, on_change: Callable[[RolloutStatus], None], timeout: float) -> RolloutStatus:
        """Block until the rollout succeeds or fails, or ``timeout`` seconds pass (then: phase
        ``failed``, message ``timed out after Ns``). ``on_change`` gets every observed change."""
        ...

    def url(self) -> str | None:
        """Where the application answers, when the target knows it."""
        ...
