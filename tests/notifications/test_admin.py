"""Channels in the Django admin: changes audited, the URL and secret never shown, no adding there."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from notifications.models import NotificationChannel

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETPART"
SECRET = "admin-never-shows-this-secret"


@pytest.fixture
def channel():
    return NotificationChannel.objects.create(name="ops", url=HOOK, secret=SECRET, events=["build_failed"])


def test_the_change_page_shows_neither_url_nor_secret(admin_client, channel):
    html = admin_client.get(f"/admin/notifications/notificationchannel/{channel.pk}/change/").content.decode()

    assert "ops" in html and "https://hooks.slack.com/services/…" in html
    assert SECRET not in html and "XXXXSECRETPART" not in html
    assert admin_client.get("/admin/notifications/notificationchannel/add/").status_code == 403


def test_a_change_in_the_admin_is_audited_and_keeps_the_secret(admin_client, admin_user, channel):
    url = f"/admin/notifications/notificationchannel/{channel.pk}/change/"
    data = {"name": "ops-renamed", "events": '["build_failed", "release_failed"]', "enabled": "on"}

    assert admin_client.post(url, data).status_code == 302

    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.secret) == ("ops-renamed", HOOK, SECRET)
    event = AuditEvent.objects.get(action="notification_channel.update")
    assert event.actor_id == admin_user.pk
    assert event.before == {"name": "ops", "events": ["build_failed"]}
    assert event.after == {"name": "ops-renamed", "events": ["build_failed", "release_failed"]}


def test_a_delete_in_the_admin_is_audited_without_the_secret(admin_client, channel):
    url = f"/admin/notifications/notificationchannel/{channel.pk}/delete/"

    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    event = AuditEvent.objects.get(action="notification_channel.delete")
    assert event.before["secret"] == "changed" and event.before["url"] == "changed"
    assert SECRET not in str(event.before) and "XXXXSECRETPART" not in str(event.before)
