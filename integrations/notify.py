"""Posting a notification to a webhook receiver: a generic JSON endpoint, a Microsoft Teams
workflow or incoming webhook, or a Slack incoming webhook. All three take a JSON POST.

References: Slack incoming webhooks (https://api.slack.com/messaging/webhooks); Teams
(https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).

When a secret is given the body is signed, so a receiver can tell the dashboard sent it and that
it is fresh: ``X-Dashboard-Timestamp: <unix seconds>`` and ``X-Dashboard-Signature:
sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` (see docs/notifications.md).

Error messages name the receiver's host only: a Slack or Teams URL holds its own credential.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from integrations.errors import PermanentError, TemporaryError

SYSTEM = "notification receiver"
USER_AGENT = "ai-release-dashboard-notify/1"


class RetryableResponse(TemporaryError):
    """The receiver answered 5xx or 429: try again later (after ``retry_after`` when it said)."""

    def __init__(self, message: str, *, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message, system=SYSTEM, retry_after=retry_after)
        self.status_code = status_code


class RefusedResponse(PermanentError):
    """The receiver answered another 4xx: the request itself is wrong; retrying will not help."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message, system=SYSTEM)
        self.status_code = status_code


@dataclass(frozen=True)
class Sent:
    status_code: int


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-Dashboard-Signature`` for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "X-Dashboard-Timestamp": str(timestamp),
        "X-Dashboard-Signature": signature(secret, timestamp, body),
    }


def signature_problem(
    secret: str, timestamp: str, given: str, body: bytes, *, now: float | None = None, max_age: int = 300
) -> str | None:
    """What is wrong with a message's ``X-Dashboard-Timestamp`` and ``X-Dashboard-Signature``
    (as a receiver checks them), or None when they prove ``secret``'s holder sent ``body``
    within ``max_age`` seconds of ``now``."""
    if not given:
        return "it is not signed"
    if not (timestamp.isascii() and timestamp.isdecimal()):
        return "its timestamp is missing or not a number"
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > max_age:
        return (
            f"its timestamp is {abs(age):.0f} s {'old' if age > 0 else 'ahead'} (at most {max_age} s allowed)"
        )
    if not hmac.compare_digest(signature(secret, int(timestamp), body), given):
        return "its signature does not match the secret"
    return None


def post(
    url: str, body: bytes, *, secret: str = "", timeout: float, headers: dict[str, str] | None = None
) -> Sent:
    """POST ``body`` (JSON) to ``url`` within ``timeout`` seconds (to connect, and to answer)."""
    host = urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    if secret:
        all_headers.update(signed_headers(secret, body))
    try:
        response = requests.post(url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise TemporaryError(f"{host} did not answer within {timeout:g} s", system=SYSTEM) from None
    except requests.ConnectionError:
        raise TemporaryError(f"cannot connect to {host}", system=SYSTEM) from None
    except requests.RequestException as exc:
        raise PermanentError(f"cannot send to {host}: {type(exc).__name__}", system=SYSTEM) from None
    return _outcome(response, host)


def _outcome(response: requests.Response, host: str) -> Sent:
    status = response.status_code
    if status < 300:
        return Sent(status)
    detail = f"{host} answered HTTP {status} {response.reason or ''}".strip()
    text = response.text[:200].strip()
    if text:
        detail = f"{detail}: {text}"
    if status == 429 or status >= 500:
        raise RetryableResponse(detail, status_code=status, retry_after=_retry_after(response))
    # 3xx too: a receiver that moved must be configured with its new address, not followed blindly.
    raise RefusedResponse(detail, status_code=status)


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from ``Retry-After`` when it is a number (the HTTP-date form is rare for webhooks)."""
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), 3600.0) if value.replace(".", "", 1).isdigit() else None
