"""Deploy to a Kubernetes Deployment by patching one container's image to a digest.

Uses the official ``kubernetes`` client with an ApiClient of its own (never the process-wide
default configuration), so several targets with different clusters can live side by side.
Responses are read as plain JSON dicts: the rollout rules in ``kubernetes_status`` work on the
objects exactly as the API server sends them.

API reference: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from integrations.deploy.base import (
    FAILED,
    SUCCEEDED,
    DeployRequest,
    RolloutStatus,
    RunningImageChanged,
    RunningState,
)
from integrations.deploy.kubernetes_access import ClusterAccess, cluster_client
from integrations.deploy.kubernetes_api import SYSTEM, api_client, api_error, server_message
from integrations.deploy.kubernetes_status import (
    CHANGE_CAUSE,
    MODEL_VERSION,
    RELEASE_ID,
    REVISION,
    annotations_of,
    container_image,
    pod_problems,
    rollout_status,
)
from integrations.errors import (
    Conflict,
    IntegrationError,
    NotFound,
    PermanentError,
    TemporaryError,
)

JSON_PATCH = "application/json-patch+json"
# While a rollout is under way, pods can start failing without the Deployment changing; the
# watch is re-opened this often so pod-level reasons are re-read.
POD_REFRESH_SECONDS = 2.0
WATCH_RETRY_PAUSE = 0.2


class _Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again and watch from there."""


class KubernetesTarget:
    kind = "kubernetes"

    def __init__(
        self,
        namespace: str,
        deployment: str,
        container: str,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        cluster: ClusterAccess | None = None,
        progress_deadline: float | None = None,
        request_timeout: float = 10.0,
        app_url: str | None = None,
    ) -> None:
        """``progress_deadline``: when set, each deploy also sets the Deployment's
        ``progressDeadlineSeconds``, so the cluster itself declares a stuck rollout failed.
        ``request_timeout``: seconds before an unanswered API call is a TemporaryError.
        ``cluster``: a registered cluster to reach; then ``kubeconfig``, ``context`` and
        ``in_cluster`` (the older way, a kubeconfig file on the worker) are not used."""
        self.namespace, self.deployment, self.container = namespace, deployment, container
        self.progress_deadline = progress_deadline
        self._connect_timeout = min(request_timeout, 5.0)
        self._read_timeout = request_timeout
        self._app_url = app_url
        self._api_client = (
            cluster_client(cluster) if cluster is not None else api_client(kubeconfig, context, in_cluster)
        )
        self._apps = client.AppsV1Api(self._api_client)
        self._core = client.CoreV1Api(self._api_client)

    @property
    def _name(self) -> str:
        return f"deployment {self.namespace}/{self.deployment}"

    def close(self) -> None:
        self._api_client.close()

    # ------------------------------------------------------------------ public interface
    def check(self) -> None:
        """Read the Deployment and make sure it has our container.

        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#get-read-the-specified-deployment
        """
        dep = self._read()
        if container_image(dep, self.container) is None:
            raise PermanentError(f"{self._name} has no container named {self.container!r}", system=SYSTEM)

    def current(self) -> RunningState | None:
        """The image the Deployment runs and the release we last deployed there; None when the
        Deployment is absent. An image that differs from that release's image means someone
        changed it outside the product (``kubectl set image``): the annotations stay behind.

        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#get-read-the-specified-deployment
        """
        try:
            dep = self._read()
        except NotFound:
            return None
        ann = annotations_of(dep)
        return RunningState(
            image=container_image(dep, self.container) or "",
            release_id=ann.get(RELEASE_ID, ""),
            model_version=ann.get(MODEL_VERSION, ""),
            generation=int(dep["metadata"].get("generation") or 0),
            ready_replicas=int((dep.get("status") or {}).get("readyReplicas") or 0),
            replicas=int((dep.get("spec") or {}).get("replicas") or 0),
        )

    def deploy(self, req: DeployRequest) -> RolloutStatus:
        """Point the container at ``req.image`` with one JSON Patch and return at once.

        A container running none of ``req.expected_images`` is refused before anything is sent,
        and the patch tests that the container still runs what was read, so a change made
        outside the product in between is never overwritten silently either. A 409 gets one retry after
        re-reading; a Deployment already carrying this release id and image is left alone.

        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#patch-patch-the-specified-deployment
        https://datatracker.ietf.org/doc/html/rfc6902 (JSON Patch: test, replace, add)
        """
        for attempt in (1, 2):
            dep = self._read()
            if _already_deployed(dep, self.container, req):
                return self._status_of(dep)  # a resumed worker must not start a second rollout
            try:
                return self._patch(dep, req)
            except RunningImageChanged:
                raise
            except Conflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def status(self) -> RolloutStatus:
        """https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#get-read-the-specified-deployment"""
        return self._status_of(self._read())

    def watch(self, on_change: Callable[[RolloutStatus], None], timeout: float) -> RolloutStatus:
        """Follow the rollout through the watch API until it succeeds, fails or ``timeout`` passes.

        ``on_change`` gets the first status, every changed one and, on timeout, the timed-out
        one. Watches are re-opened when the server ends them, and re-listed on 410 Gone.
        https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
        """
        deadline = time.monotonic() + timeout
        last: list[RolloutStatus] = []

        def observe(dep: dict[str, Any]) -> RolloutStatus:
            status = self._status_of(dep)
            if not last or status != last[-1]:
                last.append(status)
                on_change(status)
            return status

        dep, rv = self._list_one()
        status = observe(dep)
        while not status.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = replace(status, phase=FAILED, message=f"timed out after {timeout:g}s")
                on_change(timed_out)
                return timed_out
            try:
                for obj, seen_rv in self._watch_window(rv, min(remaining, POD_REFRESH_SECONDS)):
                    rv = seen_rv  # the next window resumes from here
                    if obj is not None:
                        dep = obj
                        status = observe(dep)
                        if status.done:
                            break
                else:  # window over: pods may have changed while the Deployment did not
                    status = observe(dep)
            except _Expired:
                dep, rv = self._list_one()
                status = observe(dep)
        return status

    def url(self) -> str | None:
        return self._app_url

    # ------------------------------------------------------------------ reading
    def _read(self) -> dict[str, Any]:
        return self._call(
            f"read {self._name}", self._apps.read_namespaced_deployment, self.deployment, self.namespace
        )

    def _list_one(self) -> tuple[dict[str, Any], str]:
        """The Deployment plus the list's resourceVersion, the point to start watching from.

        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#list-list-or-watch-objects-of-kind-deployment
        """
        body = self._call(
            f"list {self._name}",
            self._apps.list_namespaced_deployment,
            self.namespace,
            field_selector=f"metadata.name={self.deployment}",
        )
        if not body.get("items"):
            raise NotFound(f"{self._name} does not exist", system=SYSTEM)
        return body["items"][0], body["metadata"]["resourceVersion"]

    def _status_of(self, dep: dict[str, Any]) -> RolloutStatus:
        status = rollout_status(dep, self.container, [])
        if status.phase == SUCCEEDED:
            return status  # nothing to explain: skip the pod listing
        return rollout_status(dep, self.container, self._pod_problems(dep))

    def _pod_problems(self, dep: dict[str, Any]) -> list[str]:
        """Problems of the new ReplicaSet's pods (the one with the Deployment's revision).

        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/replica-set-v1/#list-list-or-watch-objects-of-kind-replicaset
        https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#list-list-or-watch-objects-of-kind-pod
        """
        st = dep.get("status") or {}
        if int(st.get("observedGeneration") or 0) < int(dep["metadata"].get("generation") or 0):
            return []  # the revision annotation still names the previous ReplicaSet
        rs_list = self._call(
            f"list replica sets of {self._name}",
            self._apps.list_namespaced_replica_set,
            self.namespace,
            label_selector=_selector(dep["spec"]["selector"].get("matchLabels") or {}),
        )
        revision = annotations_of(dep).get(REVISION)
        new_rs = next(
            (
                rs
                for rs in rs_list["items"]
                if _owned_by(rs, dep) and annotations_of(rs).get(REVISION) == revision
            ),
            None,
        )
        if new_rs is None:
            return []
        pods = self._call(
            f"list pods of {self._name}",
            self._core.list_namespaced_pod,
            self.namespace,
            label_selector=_selector(new_rs["spec"]["selector"].get("matchLabels") or {}),
        )
        return pod_problems([p for p in pods["items"] if _owned_by(p, new_rs)])

    def _watch_window(self, rv: str, seconds: float) -> Iterator[tuple[dict[str, Any] | None, str]]:
        """Watch the Deployment for about ``seconds``; yield (object or None for a bookmark, rv).

        A stream that breaks or times out just ends the window: the caller re-opens it.
        https://kubernetes.io/docs/reference/using-api/api-concepts/#watch-bookmarks
        """
        try:
            # With _preload_content=False the client returns the raw response, not the model it is typed to.
            resp: urllib3.HTTPResponse = self._apps.list_namespaced_deployment(  # type: ignore[assignment]
                self.namespace,
                field_selector=f"metadata.name={self.deployment}",
                watch=True,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=max(1, math.ceil(seconds)),
                _preload_content=False,
                _request_timeout=(self._connect_timeout, seconds + self._read_timeout),
            )
        except ApiException as e:
            if e.status == 410:
                raise _Expired() from e
            err = api_error(e, f"watch {self._name}")
            if not isinstance(err, TemporaryError):
                raise err from e
            time.sleep(WATCH_RETRY_PAUSE)
            return
        except urllib3.exceptions.HTTPError:
            time.sleep(WATCH_RETRY_PAUSE)
            return
        try:
            yield from self._watch_events(resp, rv)
        except urllib3.exceptions.HTTPError:
            time.sleep(WATCH_RETRY_PAUSE)
        finally:
            resp.close()
            resp.release_conn()

    def _watch_events(self, resp: Any, rv: str) -> Iterator[tuple[dict[str, Any] | None, str]]:
        for line in iter_resp_lines(resp):
            if not line.strip():
                continue
            event = json.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired()
                return  # any other in-stream error: re-open the watch
            rv = obj.get("metadata", {}).get("resourceVersion", rv)
            if kind == "DELETED":
                raise NotFound(f"{self._name} was deleted during the rollout", system=SYSTEM)
            yield (None if kind == "BOOKMARK" else obj), rv

    # ------------------------------------------------------------------ writing
    def _patch(self, dep: dict[str, Any], req: DeployRequest) -> RolloutStatus:
        what = f"patch {self._name}"
        try:
            patched = self._request(
                self._apps.patch_namespaced_deployment,
                self.deployment,
                self.namespace,
                self._patch_ops(dep, req),
                _content_type=JSON_PATCH,
            )
        except ApiException as e:
            if e.status == 422:
                raise self._rejected(dep, req, e) from e
            raise api_error(e, what) from e
        return rollout_status(patched, self.container, [])

    def _patch_ops(self, dep: dict[str, Any], req: DeployRequest) -> list[dict[str, Any]]:
        containers = dep["spec"]["template"]["spec"].get("containers") or []
        index = next((i for i, c in enumerate(containers) if c.get("name") == self.container), None)
        if index is None:
            raise PermanentError(f"{self._name} has no container named {self.container!r}", system=SYSTEM)
        base = f"/spec/template/spec/containers/{index}"
        running = containers[index].get("image")
        if req.expected_images and running not in req.expected_images:
            raise self._changed_outside(running, req)
        # The name test guards the index: containers reordered in between fail the patch too.
        ops: list[dict[str, Any]] = [{"op": "test", "path": f"{base}/name", "value": self.container}]
        if req.expected_images:
            ops.append({"op": "test", "path": f"{base}/image", "value": running})
        ops.append({"op": "replace", "path": f"{base}/image", "value": req.image})
        if not dep["metadata"].get("annotations"):
            ops.append({"op": "add", "path": "/metadata/annotations", "value": {}})
        notes = {
            RELEASE_ID: req.release_id,
            MODEL_VERSION: req.model_version,
            CHANGE_CAUSE: req.change_cause,
        }
        for key, value in notes.items():
            ops.append({"op": "add", "path": f"/metadata/annotations/{_pointer(key)}", "value": value})
        if self.progress_deadline is not None:
            deadline = max(1, math.ceil(self.progress_deadline))
            ops.append({"op": "add", "path": "/spec/progressDeadlineSeconds", "value": deadline})
        return ops

    def _rejected(self, sent_for: dict[str, Any], req: DeployRequest, e: ApiException) -> IntegrationError:
        """Tell a failed ``test`` from an invalid patch by re-reading what the patch was built on."""
        now = self._read()
        running = container_image(now, self.container)
        if req.expected_images and running not in req.expected_images:
            return self._changed_outside(running, req)
        if self._patch_ops(now, req) != self._patch_ops(sent_for, req):
            return Conflict(f"{self._name} changed while we patched it; read it again", system=SYSTEM)
        return PermanentError(
            f"{self._name}: the API server rejected the new image {req.image!r}: {server_message(e)}",
            system=SYSTEM,
        )

    def _changed_outside(self, running: str | None, req: DeployRequest) -> RunningImageChanged:
        return req.refusal(f"{self._name}: container {self.container!r}", running, system=SYSTEM)

    # ------------------------------------------------------------------ transport
    def _request(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call the API and parse its JSON; ApiException passes through for the caller to read."""
        try:
            resp = fn(
                *args,
                _preload_content=False,
                _request_timeout=(self._connect_timeout, self._read_timeout),
                **kwargs,
            )
            return json.loads(resp.data)
        except urllib3.exceptions.HTTPError as e:
            host = self._api_client.configuration.host
            raise TemporaryError(
                f"cannot reach the Kubernetes API server at {host} "
                f"(no answer within {self._read_timeout:g}s or connection failed): {e}",
                system=SYSTEM,
            ) from e
        except ValueError as e:
            raise TemporaryError("the Kubernetes API server sent a response that is not JSON") from e

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._request(fn, *args, **kwargs)
        except ApiException as e:
            raise api_error(e, what) from e


def _already_deployed(dep: dict[str, Any], container: str, req: DeployRequest) -> bool:
    ann = annotations_of(dep)
    return ann.get(RELEASE_ID) == req.release_id and container_image(dep, container) == req.image


def _pointer(key: str) -> str:
    """Escape a map key for a JSON Pointer (RFC 6901): ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return key.replace("~", "~0").replace("/", "~1")


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])
