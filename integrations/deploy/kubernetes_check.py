"""Test a cluster connection: is the API server reachable, and what may our credentials do?

Reachability is ``GET /version``; the permissions are SelfSubjectAccessReviews, one per verb
the deploy target uses, in the namespace given.

https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from integrations.deploy.kubernetes_access import ClusterAccess, cluster_client
from integrations.deploy.kubernetes_api import server_message
from integrations.errors import PermanentError

# (verb, API group, resource): what deploying, watching a rollout and reading its reasons need.
CHECKED_VERBS = (
    ("get", "apps", "deployments"),
    ("patch", "apps", "deployments"),
    ("list", "", "pods"),
    ("list", "", "events"),
)
TIMEOUT = (5.0, 10.0)  # connect, read, per call
DEADLINE = 30.0  # the whole test, whatever the server does (five calls, each retried once on a timeout)


class _OutOfTime(Exception):
    pass


@dataclass
class ConnectionReport:
    ok: bool
    reason: str
    server_version: str = ""
    verbs: dict[str, str] = field(default_factory=dict)  # "patch deployments": "allowed" | "denied: why"


def check_connection(access: ClusterAccess, namespace: str) -> ConnectionReport:
    """Reach the API server and ask what we may do in ``namespace``; never raises."""
    try:
        api = cluster_client(access)
    except PermanentError as e:
        return ConnectionReport(False, str(e))
    try:
        return _checks(api, access, namespace, time.monotonic() + DEADLINE)
    finally:
        api.close()


def _checks(
    api: client.ApiClient, access: ClusterAccess, namespace: str, deadline: float
) -> ConnectionReport:
    report = ConnectionReport(False, "")
    reached = False
    try:
        info = client.VersionApi(api).get_code(_request_timeout=_timeout(deadline))
        reached, report.server_version = True, str(info.git_version or "")
        for verb, group, resource in CHECKED_VERBS:
            report.verbs[f"{verb} {resource}"] = _review(api, namespace, verb, group, resource, deadline)
    except (ApiException, urllib3.exceptions.HTTPError) as e:
        report.reason = _review_failed(access, e) if reached else _unreachable(access, e)
        return report
    except _OutOfTime:
        report.reason = f"{access.url or 'the API server'} did not answer every check within {DEADLINE:g}s"
        return report
    denied = [name for name, answer in report.verbs.items() if answer != "allowed"]
    report.ok = not denied
    report.reason = (
        f"reachable (Kubernetes {report.server_version}); may not {', '.join(denied)} in {namespace}"
        if denied
        else f"reachable (Kubernetes {report.server_version}); every deploy permission granted in {namespace}"
    )
    return report


def _timeout(deadline: float) -> tuple[float, float]:
    """(connect, read) seconds for the next call. urllib3 retries a timed-out connect or read once
    (``kubernetes_access``), so two tries of both must fit in what is left of the deadline."""
    left = deadline - time.monotonic()
    if left < 1:
        raise _OutOfTime
    return min(TIMEOUT[0], left / 4), min(TIMEOUT[1], left / 4)


def _review(
    api: client.ApiClient, namespace: str, verb: str, group: str, resource: str, deadline: float
) -> str:
    body: Any = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource}
        },
    }
    answer = client.AuthorizationV1Api(api).create_self_subject_access_review(
        body, _request_timeout=_timeout(deadline)
    )
    status = answer.status
    if status is not None and status.allowed:
        return "allowed"
    why = (status.reason or "").strip() if status is not None else ""
    return f"denied: {why}" if why else "denied"


def _unreachable(access: ClusterAccess, e: Exception) -> str:
    where = access.url or "the API server"
    if isinstance(e, ApiException):
        if e.status == 401:
            return f"{where} rejected the credentials (401 Unauthorized: {server_message(e)})"
        if e.status == 403:
            return f"{where} refused these credentials (403 Forbidden: {server_message(e)})"
        return f"{where} answered HTTP {e.status} to GET /version ({server_message(e)})"
    cause = getattr(e, "reason", None) or e
    if isinstance(cause, urllib3.exceptions.SSLError | ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(
        cause
    ):
        return (
            f"TLS to {where} failed: the server's certificate is not trusted by the cluster's CA bundle "
            f"({_short(cause)})"
        )
    if isinstance(cause, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
        return f"{where} is unreachable: cannot connect ({_short(cause)})"
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return f"{where} did not answer in time ({_short(cause)})"
    return f"{where} is unreachable: {_short(cause)}"


def _review_failed(access: ClusterAccess, e: Exception) -> str:
    if isinstance(e, ApiException) and e.status == 404:
        return (
            f"{access.url or 'the API server'} is reachable but does not offer SelfSubjectAccessReview "
            "(authorization.k8s.io/v1): the permissions could not be checked"
        )
    return f"checking permissions failed: {_unreachable(access, e)}"


def _short(e: object) -> str:
    text = str(e)
    return text if len(text) <= 300 else text[:297] + "..."
