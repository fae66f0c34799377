"""Choosing among many builds and model versions: the newest are suggested, typing finds older ones.

The suggestions are a ``<datalist>`` refreshed by htmx from the server as people type; picking
one fills the field with its text, which the form accepts.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.releases.helpers import candidate, environment

try:
    from playwright.sync_api import Page, expect
except ImportError:
    pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_a_commit_prefix_finds_an_old_build_to_release(
    page: Page, login_as: Any, scientist: Any, manager: Any, application: Any, churn_model: Any
) -> None:
    staging = environment(application, "staging", actor=manager)
    version = churn_model.versions.get()
    builds = [candidate(application, version, f"many-{i}").builds.get() for i in range(25)]
    oldest = builds[0]
    login_as(page, scientist)
    page.goto(f"/environments/{staging.pk}/")
    suggestions = page.locator("#id_build-suggestions option")
    expect(suggestions).to_have_count(20)
    expect(suggestions.first).to_have_attribute(
        "value",
        f"#{builds[-1].pk} · {builds[-1].commit[:10]} · churn-model v1 · {builds[-1].image.digest[:19]}",
    )

    page.get_by_label("Build").press_sequentially(oldest.commit[:8])

    expect(suggestions).to_have_count(1)  # swapped in by htmx from the server
    picked = suggestions.first.get_attribute("value")
    assert picked.startswith(f"#{oldest.pk} · {oldest.commit[:10]}")
    page.get_by_label("Build").fill(picked)  # what choosing the suggestion does
    page.get_by_role("button", name="Request release").click()
    page.wait_for_url("**/releases/*/")

    from releases.models import Release

    assert Release.objects.get().build_id == oldest.pk
    expect(page.locator("dl.facts dt:text-is('Commit') + dd").first).to_have_text(oldest.commit)


def test_build_now_suggests_model_versions_as_digits_are_typed(
    page: Page, login_as: Any, manager: Any, application: Any, churn_model: Any, scientist: Any
) -> None:
    from models_registry import services as model_services
    from tests.registry.helpers import upload

    type(application).objects.filter(pk=application.pk).update(
        rebuild_on_new_model=False
    )  # 22 builds otherwise
    for i in range(2, 24):
        model_services.register_uploaded_version(
            churn_model,
            upload(f"model {i}".encode()),
            model_services.VersionInfo(metrics={}),
            actor=scientist,
        )
    login_as(page, manager)
    page.goto(f"/applications/{application.name}/")
    suggestions = page.locator("#id_model_version-suggestions option")
    expect(suggestions).to_have_count(20)
    expect(suggestions.last).to_have_attribute("value", "v4")

    page.get_by_label("Model version").press_sequentially("v1")

    expect(suggestions).to_have_count(11)  # v19 … v10 and v1, newest first
    expect(suggestions.last).to_have_attribute("value", "v1")
