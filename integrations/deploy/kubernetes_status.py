"""Reading a rollout's state out of Deployment and Pod objects (plain dicts, as the API sends them).

The rules follow ``kubectl rollout status`` (DeploymentStatusViewer) and the Deployment
controller's Progressing condition:
https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
"""

from __future__ import annotations

from typing import Any

from integrations.deploy.base import FAILED, PROGRESSING, SUCCEEDED, Phase, RolloutStatus

RELEASE_ID = "ai.release/release-id"
MODEL_VERSION = "ai.release/model-version"
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"

# Container waiting reasons worth showing to the person watching a rollout.
WAITING_PROBLEMS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "InvalidImageName",
    "ErrImageNeverPull",
}
# Reasons no amount of waiting fixes, so the rollout can be called failed before its deadline.
# ImagePullBackOff and CrashLoopBackOff are not among them: a registry hiccup or a slow
# dependency clears up on its own, and the Deployment's progress deadline decides those.
TERMINAL_WAITING = {"InvalidImageName", "ErrImageNeverPull"}


def container_image(dep: dict[str, Any], container: str) -> str | None:
    for c in dep["spec"]["template"]["spec"].get("containers") or []:
        if c.get("name") == container:
            return c.get("image")
    return None


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def progressing_condition(dep: dict[str, Any]) -> dict[str, Any] | None:
    conds = (dep.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c.get("type") == "Progressing"), None)


def rollout_status(dep: dict[str, Any], container: str, pod_problems: list[str]) -> RolloutStatus:
    """The phase of the Deployment's current rollout, kubectl's rules plus pod-level reasons."""
    st = dep.get("status") or {}
    gen = int(dep["metadata"].get("generation") or 0)
    counts = {
        "replicas": int(st.get("replicas") or 0),
        "updated_replicas": int(st.get("updatedReplicas") or 0),
        "ready_replicas": int(st.get("readyReplicas") or 0),
        "available_replicas": int(st.get("availableReplicas") or 0),
    }
    phase, message = _phase(dep, counts, pod_problems)
    return RolloutStatus(
        phase=phase,
        message=message,
        observed_generation=int(st.get("observedGeneration") or 0),
        generation=gen,
        conditions=[dict(c) for c in st.get("conditions") or []],
        pod_problems=list(pod_problems),
        image=container_image(dep, container) or "",
        release_id=annotations_of(dep).get(RELEASE_ID, ""),
        **counts,
    )


def _phase(dep: dict[str, Any], counts: dict[str, int], pod_problems: list[str]) -> tuple[Phase, str]:
    st, name = dep.get("status") or {}, dep["metadata"]["name"]
    want = int(dep["spec"].get("replicas", 1))
    updated, total, available = counts["updated_replicas"], counts["replicas"], counts["available_replicas"]
    cond = progressing_condition(dep)
    first_problem = f" ({pod_problems[0]})" if pod_problems else ""
    # Until the controller has seen the latest spec, the status describes the previous rollout.
    if int(st.get("observedGeneration") or 0) < int(dep["metadata"].get("generation") or 0):
        return PROGRESSING, f"waiting for the controller to pick up the change to deployment {name}"
    if cond and cond.get("reason") == "ProgressDeadlineExceeded":
        why = cond.get("message", "")
        return FAILED, f"rollout made no progress within its deadline: {why}{first_problem}"
    terminal = [p for p in pod_problems if problem_reason(p) in TERMINAL_WAITING]
    if terminal:
        return FAILED, f"new pods cannot start: {terminal[0]}"
    if dep["spec"].get("paused"):
        return PROGRESSING, f"deployment {name} is paused; resume it to continue the rollout"
    if updated < want:
        return PROGRESSING, f"{updated} of {want} replicas updated{first_problem}"
    if total > updated:
        return PROGRESSING, f"{total - updated} old replicas pending termination"
    if available < updated:
        return PROGRESSING, f"{available} of {updated} updated replicas available{first_problem}"
    if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return SUCCEEDED, f"deployment {name}: all {want} replicas updated and available"
    return PROGRESSING, "waiting for the controller to confirm the rollout"


def problem_reason(problem: str) -> str:
    """The reason part of a "pod: Reason: message" line."""
    parts = problem.split(": ", 2)
    return parts[1] if len(parts) > 1 else ""


def pod_problems(pods: list[dict[str, Any]]) -> list[str]:
    """Why pods of the new ReplicaSet are not starting, one line per container problem."""
    problems: list[str] = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        name, st = pod["metadata"]["name"], pod.get("status") or {}
        for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in WAITING_PROBLEMS:
                problems.append(_container_problem(name, cs, waiting))
        sched = next((c for c in st.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        if sched and sched.get("status") == "False" and sched.get("reason"):
            problems.append(f"{name}: {sched['reason']}: {sched.get('message', '')}".rstrip(": "))
    return problems


def _container_problem(pod: str, cs: dict[str, Any], waiting: dict[str, Any]) -> str:
    text = f"{pod}: {waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    restarts = int(cs.get("restartCount") or 0)
    if restarts:
        last = (cs.get("lastState") or {}).get("terminated") or {}
        exit_code = f", last exit code {last['exitCode']}" if "exitCode" in last else ""
        text += f" (restarts: {restarts}{exit_code})"
    return text
