"""/api/v1/notification-channels/: who may do what, the secret shown once, URLs checked, audited."""

from __future__ import annotations

import json

import pytest

from core.models import AuditEvent, JobRun
from notifications.models import Delivery, NotificationChannel

pytestmark = pytest.mark.django_db
URL = "/api/v1/notification-channels/"
SECRET = "a-secret-nobody-may-read-again"
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETPART"


@pytest.fixture
def signed_in(api, manager):
    api.force_login(manager)
    return api


def create(api, **fields):
    body = {
        "name": "ops",
        "kind": "webhook",
        "url": HOOK,
        "secret": SECRET,
        "events": ["release_failed"],
        **fields,
    }
    return api.post(URL, body, format="json")


def test_creating_a_channel_shows_its_secret_once(signed_in):
    created = create(signed_in)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"] == SECRET
    assert body["has_secret"] is True
    assert body["endpoint"] == "https://hooks.slack.com/services/…"
    assert "url" not in body

    for answer in (signed_in.get(URL), signed_in.get(f"{URL}{body['id']}/")):
        assert answer.status_code == 200
        assert SECRET not in answer.content.decode()
        assert "XXXXSECRETPART" not in answer.content.decode()
    assert signed_in.get(f"{URL}{body['id']}/").json()["has_secret"] is True


def test_a_patch_that_leaves_the_secret_alone_does_not_show_it(signed_in):
    pk = create(signed_in).json()["id"]

    changed = signed_in.patch(f"{URL}{pk}/", {"enabled": False}, format="json")

    assert changed.status_code == 200
    assert changed.json()["secret"] is None and changed.json()["enabled"] is False
    assert SECRET not in changed.content.decode()


def test_an_empty_secret_on_a_webhook_channel_makes_a_new_one_shown_once(signed_in):
    pk = create(signed_in).json()["id"]

    changed = signed_in.patch(f"{URL}{pk}/", {"secret": ""}, format="json").json()

    assert changed["secret"] and changed["secret"] != SECRET
    assert NotificationChannel.objects.get(pk=pk).secret == changed["secret"]


def test_the_secret_and_url_are_stored_encrypted(signed_in):
    from django.db import connection

    pk = create(signed_in).json()["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM notifications_notificationchannel WHERE id = %s", [pk])
        url, secret = cursor.fetchone()
    assert SECRET not in secret and "XXXXSECRETPART" not in url
    assert NotificationChannel.objects.get(pk=pk).secret == SECRET


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "example.com/hook", "http://"],
)
def test_a_url_that_is_not_http_or_https_is_a_400(signed_in, url):
    answer = create(signed_in, url=url)

    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert "url" in answer.json()["errors"]
    assert not NotificationChannel.objects.exists()


def test_a_changed_url_is_checked_too(signed_in):
    pk = create(signed_in).json()["id"]

    answer = signed_in.patch(f"{URL}{pk}/", {"url": "gopher://example.com/"}, format="json")

    assert answer.status_code == 400 and "url" in answer.json()["errors"]


def test_unknown_events_and_a_foreign_environment_are_refused(signed_in, application, manager):
    from tests.releases.helpers import environment

    assert create(signed_in, events=["release_exploded"]).status_code == 400
    from builds import services as build_services

    other = build_services.create_application(
        {
            "name": "other-app",
            "repository_url": "https://example.com/other.git",
            "image_repository": "other",
            "model": application.model,
        },
        actor=manager,
    )
    staging = environment(application, "staging", actor=manager)

    answer = create(signed_in, application=other.name, environment=staging.pk)

    assert answer.status_code == 400
    assert answer.json()["field"] == "environment"


def test_an_environment_filter_implies_its_application(signed_in, application, manager):
    from tests.releases.helpers import environment

    staging = environment(application, "staging", actor=manager)

    body = create(signed_in, environment=staging.pk).json()

    assert (body["application"], body["environment"]) == (application.name, staging.pk)


def test_a_duplicate_name_is_a_409(signed_in):
    create(signed_in)
    assert create(signed_in).status_code == 409


def test_every_change_is_audited_without_the_secret_or_the_url(signed_in):
    pk = create(signed_in).json()["id"]
    signed_in.patch(f"{URL}{pk}/", {"secret": "another-long-secret-value", "name": "ops2"}, format="json")
    signed_in.patch(
        f"{URL}{pk}/", {"url": "https://hooks.slack.com/services/T1/B1/OTHERSECRET"}, format="json"
    )
    assert signed_in.delete(f"{URL}{pk}/").status_code == 204

    events = list(AuditEvent.objects.filter(object_type="notifications.notificationchannel").order_by("id"))
    assert [e.action for e in events] == [
        "notification_channel.create",
        "notification_channel.update",
        "notification_channel.update",
        "notification_channel.delete",
    ]
    assert events[0].after["secret"] == "set" and events[0].after["url"] == "set"
    assert events[1].before["secret"] == "changed" and events[1].after["secret"] == "changed"
    assert events[1].after["name"] == "ops2"
    assert events[2].after == {"url": "changed"}  # the shown part (endpoint) is the same
    text = json.dumps([[e.before, e.after] for e in events])
    for secret in (SECRET, "another-long-secret-value", "XXXXSECRETPART", "OTHERSECRET"):
        assert secret not in text
    audit_page = signed_in.get("/api/v1/audit/").content.decode()
    assert SECRET not in audit_page and "XXXXSECRETPART" not in audit_page


def test_send_test_queues_a_delivery_and_answers_202(signed_in):
    pk = create(signed_in).json()["id"]

    answer = signed_in.post(f"{URL}{pk}/test/")

    assert answer.status_code == 202
    delivery = Delivery.objects.get(pk=answer.json()["id"])
    assert (delivery.event, delivery.state, delivery.attempts) == ("test", "pending", 0)
    assert JobRun.objects.filter(name="notifications.jobs.deliver", args=[delivery.pk]).exists()
    assert AuditEvent.objects.filter(action="notification_channel.test").exists()


def test_an_unknown_channel_is_a_404_everywhere(signed_in):
    for answer in (
        signed_in.get(f"{URL}999/"),
        signed_in.get(f"{URL}999/deliveries/"),
        signed_in.post(f"{URL}999/test/"),
        signed_in.delete(f"{URL}999/"),
    ):
        assert answer.status_code == 404 and "detail" in answer.json()


# role -> (status of reads, status of each write: create, change, test, delete)
ROLES = {
    "data-scientist": (200, (403, 403, 403, 403)),
    "on-call": (200, (403, 403, 403, 403)),
    "release-manager": (200, (201, 200, 202, 204)),
    "admin": (200, (201, 200, 202, 204)),
    None: (401, (401, 401, 401, 401)),
}


@pytest.mark.parametrize("role", ROLES)
def test_permissions_per_role(api, make_user, role):
    channel = NotificationChannel.objects.create(name="existing", url=HOOK, secret=SECRET, events=[])
    read, writes = ROLES[role]
    if role:
        api.force_login(make_user(f"user-{role}", role))

    reads = [api.get(URL), api.get(f"{URL}{channel.pk}/"), api.get(f"{URL}{channel.pk}/deliveries/")]
    answers = [
        create(api, name="new"),
        api.patch(f"{URL}{channel.pk}/", {"enabled": False}, format="json"),
        api.post(f"{URL}{channel.pk}/test/"),
        api.delete(f"{URL}{channel.pk}/"),
    ]

    assert [r.status_code for r in reads] == [read] * 3
    assert tuple(a.status_code for a in answers) == writes
    for answer in reads + answers[1:]:
        assert SECRET not in answer.content.decode()
