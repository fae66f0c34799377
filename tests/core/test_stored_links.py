"""Stored addresses become links only when they are http(s): no javascript: for every reader."""

from __future__ import annotations

import pytest

from builds.models import Build
from releases.models import Environment
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


def test_an_app_url_saved_before_it_was_checked_is_not_a_link(client, api, manager, application):
    env = environment(application, actor=manager)
    Environment.objects.filter(pk=env.pk).update(
        target_kind="kubernetes",
        target_config={"namespace": "n", "deployment": "d", "app_url": "javascript:alert(1)"},
    )
    client.force_login(manager)
    page = client.get(f"/environments/{env.pk}/").content.decode()
    assert "javascript:alert(1)" not in page.split("<dt>Target</dt>")[0]  # shown as text in settings only
    assert 'href="javascript:' not in page
    api.force_authenticate(manager)
    assert api.get(f"/api/v1/environments/{env.pk}/").json()["url"] is None


def test_a_build_service_link_that_is_not_a_web_address_is_not_shown(
    client, manager, application, churn_model
):
    image = candidate(application, churn_model.versions.get(), "v2")
    build = Build.objects.get(image=image)
    Build.objects.filter(pk=build.pk).update(
        external_id="77", external_url="javascript:alert(document.cookie)"
    )
    client.force_login(manager)
    page = client.get(f"/builds/{build.pk}/").content.decode()
    assert "javascript:" not in page
    Build.objects.filter(pk=build.pk).update(
        external_url="https://dev.azure.com/org/p/_build/results?buildId=77"
    )
    assert (
        'href="https://dev.azure.com/org/p/_build/results?buildId=77"'
        in client.get(f"/builds/{build.pk}/").content.decode()
    )
