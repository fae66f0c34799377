"""The notifications page: channels, the form, the secret shown once, send test, the delivery log."""

from __future__ import annotations

import re

import pytest

from core.models import JobRun
from notifications.models import Delivery, NotificationChannel

pytestmark = pytest.mark.django_db
PAGE = "/notifications/"
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETPART"


def form(**fields):
    return {
        "name": "ops",
        "kind": "webhook",
        "url": HOOK,
        "events": ["release_failed"],
        "enabled": "on",
        **fields,
    }


def test_every_input_of_the_form_has_a_label(client, manager):
    client.force_login(manager)
    html = client.get(PAGE).content.decode()

    inputs = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert inputs and not set(inputs) - labels


def test_creating_a_channel_shows_the_made_secret_once(client, manager):
    client.force_login(manager)

    created = client.post(PAGE, form())

    channel = NotificationChannel.objects.get()
    assert channel.secret and channel.secret in created.content.decode()
    for page in (client.get(PAGE), client.get(channel.get_absolute_url())):
        html = page.content.decode()
        assert channel.secret not in html and "XXXXSECRETPART" not in html
        assert "https://hooks.slack.com/services/…" in html


def test_the_page_shown_after_creating_saves_to_the_channel_not_to_the_list(client, manager):
    client.force_login(manager)
    created = client.post(PAGE, form()).content.decode()
    channel = NotificationChannel.objects.get()
    # That page is answered at the list's URL: a form without an action would create a second channel.
    assert f'<form method="post" action="{channel.get_absolute_url()}" class="card stack">' in created
    client.post(channel.get_absolute_url(), form(name="ops-renamed"))
    assert list(NotificationChannel.objects.values_list("name", flat=True)) == ["ops-renamed"]


def test_saving_without_typing_the_secret_or_url_keeps_them(client, manager):
    client.force_login(manager)
    client.post(PAGE, form(secret="typed-secret-of-enough-length"))
    channel = NotificationChannel.objects.get()

    saved = client.post(channel.get_absolute_url(), form(url="", name="ops-renamed"))

    assert saved.status_code == 200
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.secret) == (
        "ops-renamed",
        HOOK,
        "typed-secret-of-enough-length",
    )
    assert "typed-secret-of-enough-length" not in saved.content.decode()


def test_a_url_that_is_not_http_is_a_form_error(client, manager):
    client.force_login(manager)

    answer = client.post(PAGE, form(url="ftp://example.com/hook"))

    assert answer.status_code == 200
    assert "Enter an http:// or https:// URL." in answer.content.decode()
    assert not NotificationChannel.objects.exists()


def test_send_test_queues_a_delivery_the_page_shows(client, manager):
    client.force_login(manager)
    client.post(PAGE, form())
    channel = NotificationChannel.objects.get()

    answer = client.post(f"{PAGE}{channel.pk}/test/", follow=True)

    delivery = Delivery.objects.get()
    assert delivery.event == "test"
    assert JobRun.objects.filter(name="notifications.jobs.deliver", args=[delivery.pk]).exists()
    assert "Test message queued" in answer.content.decode()


def test_delete_removes_the_channel(client, manager):
    client.force_login(manager)
    client.post(PAGE, form())
    channel = NotificationChannel.objects.get()

    client.post(f"{PAGE}{channel.pk}/delete/")

    assert not NotificationChannel.objects.exists()


def test_the_delivery_log_shows_each_delivery_in_a_constant_number_of_queries(
    client, manager, django_assert_max_num_queries
):
    channel = NotificationChannel.objects.create(name="ops", url=HOOK, events=[])
    client.force_login(manager)
    counts = []
    for total in (3, 60):
        Delivery.objects.bulk_create(
            Delivery(
                channel=channel,
                event="release_failed",
                payload={},
                state="failed",
                attempts=2,
                response_code=404,
                last_error="attempt 2: refused",
            )
            for _ in range(total - Delivery.objects.count())
        )
        with django_assert_max_num_queries(30) as captured:
            html = client.get(channel.get_absolute_url()).content.decode()
        counts.append(len(captured))
        assert "attempt 2: refused" in html and "404" in html
    assert counts[0] == counts[1]
    assert "Deliveries 1" in html and "50 of 60" in html


def test_other_roles_see_the_channels_but_cannot_change_them(client, make_user, manager):
    channel = NotificationChannel.objects.create(name="ops", url=HOOK, secret="s" * 20, events=[])
    client.force_login(make_user("ds", "data-scientist"))

    assert client.get(PAGE).status_code == 200
    html = client.get(channel.get_absolute_url()).content.decode()
    assert "Delivery log" in html and "Send test" not in html and "s" * 20 not in html
    assert client.post(PAGE, form(name="mine")).status_code == 403
    assert client.post(channel.get_absolute_url(), form()).status_code == 403
    assert client.post(f"{PAGE}{channel.pk}/test/").status_code == 403
    assert client.post(f"{PAGE}{channel.pk}/delete/").status_code == 403
    assert NotificationChannel.objects.get().name == "ops"
