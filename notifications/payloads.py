"""The body each kind of channel wants for a notice.

- webhook: the notice's fields as JSON (docs/notifications.md lists them).
- Slack incoming webhook: ``{"text": ..., "blocks": [...]}``, ``text`` being the fallback shown in
  notifications (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks).
- Teams (a Workflows "when a webhook request is received" flow, or a classic incoming webhook): a
  message with one Adaptive Card attachment
  (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
"""

from __future__ import annotations

from typing import Any

from notifications.events import Notice
from notifications.models import NotificationChannel

Kind = NotificationChannel.Kind
FACTS = (
    ("Application", "application"),
    ("Environment", "environment"),
    ("Release", "release_id"),
    ("Build", "build_id"),
    ("Model version", "model_version"),
    ("State", "state"),
)


def payload(kind: str, notice: Notice) -> dict[str, Any]:
    if kind == Kind.SLACK:
        return slack(notice)
    if kind == Kind.TEAMS:
        return teams(notice)
    return notice.fields()


def _facts(notice: Notice) -> list[tuple[str, str]]:
    values = notice.fields()
    return [(label, str(values[name])) for label, name in FACTS if values[name] is not None]


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(notice: Notice) -> dict[str, Any]:
    title = _slack_escape(notice.title)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*<{notice.url}|{title}>*\n{_slack_escape(notice.summary)}"},
        }
    ]
    if facts := _facts(notice):
        text = " · ".join(f"{label}: {_slack_escape(value)}" for label, value in facts)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": f"{notice.title}: {notice.summary}", "blocks": blocks}


def teams(notice: Notice) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": notice.title, "wrap": True},
        {"type": "TextBlock", "text": notice.summary, "wrap": True},
    ]
    if facts := _facts(notice):
        body.append(
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in facts]}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in the dashboard", "url": notice.url}],
    }
    return {
        "type": "message",
        "summary": notice.summary,
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
