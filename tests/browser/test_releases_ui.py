"""Releases as people use them: request on the environment page, approve, watch, roll back.

Environments run on the local target (the app as a process on a free port). Jobs run
in-process on commit in tests, so the click on "Approve" or "Roll back" returns once the
deployment has ended; the live server needs real commits, hence ``transaction=True``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.fixtures.apps import sample_model_bytes
from tests.releases.conftest import build_image, run_jobs

try:
    from playwright.sync_api import Page, expect
except ImportError:
    pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOUR_EYES = "You requested this release; someone else has to approve it (four-eyes)."


def fact(page: Page, term: str) -> Any:
    """The <dd> of a term in the first fact list that has it."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").first


def served_model_version(url: str) -> str:
    with urllib.request.urlopen(f"{url.rstrip('/')}/info", timeout=5) as response:
        return json.load(response)["model_version"]


def request_release(page: Page, environment: Any, build: Any, note: str = "") -> int:
    """Request a release of ``build`` on the environment page; returns the new release's id."""
    page.goto(f"/environments/{environment.pk}/")
    page.get_by_label("Build").fill(f"#{build.pk}")
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Request release").click()
    page.wait_for_url("**/releases/*/")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def approve_in_browser(page: Page, release_id: int, comment: str = "") -> None:
    page.goto(f"/releases/{release_id}/")
    page.get_by_placeholder("comment").fill(comment)
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()


def state_badge(page: Page) -> Any:
    return page.locator("#release-progress .badge").first


def state(name: str) -> re.Pattern[str]:
    """A release state as its badge shows it (the choice label, e.g. "Succeeded")."""
    return re.compile(rf"^\s*{re.escape(name)}\s*$", re.IGNORECASE)


def test_scientist_requests_a_release_and_a_manager_approves_it(
    new_page: Any,
    login_as: Any,
    scientist: Any,
    manager: Any,
    application: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, _ = environments
    build = build_image(application, manager)
    requester = new_page()
    login_as(requester, scientist)

    release_id = request_release(requester, staging, build, note="first model in staging")

    expect(requester.get_by_role("heading", level=1)).to_have_text(f"Release #{release_id} to {staging}")
    expect(requester.locator(".messages li.success")).to_have_text(
        f"Release #{release_id} requested; it waits for approval."
    )
    expect(state_badge(requester)).to_have_text(state("requested"))
    expect(fact(requester, "Model")).to_have_text("none → churn-model v1")
    expect(fact(requester, "Digest")).to_have_text(f"nothing → {build.image.digest}")
    expect(fact(requester, "Note")).to_have_text("first model in staging")
    expect(requester.get_by_role("heading", name="Approvals (0 of 1)")).to_be_visible()
    # A data scientist may not approve at all: no button, and no refusal text either.
    expect(requester.get_by_role("button", name="Approve")).to_have_count(0)
    expect(requester.get_by_role("button", name="Cancel")).to_be_visible()
    screenshot(requester, "release-page-requested")

    approver = new_page()
    login_as(approver, manager)
    approve_in_browser(approver, release_id, comment="lgtm")

    expect(approver.locator(".messages li.success")).to_have_text("Done: approve.")
    expect(state_badge(approver)).to_have_text(state("succeeded"))
    expect(approver.get_by_role("heading", name="Approvals (1 of 1)")).to_be_visible()
    decision = approver.locator("tr", has=approver.locator("td:text-is('manager')"))
    expect(decision).to_contain_text("approve")
    expect(decision).to_contain_text("lgtm")
    events = approver.locator("#release-progress tbody tr")
    expect(events.first).not_to_contain_text("Not started.")
    assert events.count() >= 2, events.all_inner_texts()
    screenshot(approver, "release-page-succeeded")

    # The requester's page catches up on reload.
    requester.reload()
    expect(state_badge(requester)).to_have_text(state("succeeded"))

    requester.get_by_role("link", name=str(staging)).first.click()
    expect(requester.get_by_role("heading", level=1)).to_have_text(f"Environment {staging}")
    expect(fact(requester, "Release")).to_contain_text(f"#{release_id}")
    expect(fact(requester, "Model version")).to_have_text("churn-model v1")
    url_link = fact(requester, "URL").get_by_role("link")
    url = url_link.get_attribute("href")
    assert url == f"http://127.0.0.1:{staging.target_config['port']}/"
    row = requester.locator("tbody tr", has=requester.get_by_role("link", name=f"#{release_id}", exact=True))
    expect(row).to_contain_text("succeeded", ignore_case=True)
    # A data scientist cannot roll back.
    expect(requester.get_by_role("button", name="Roll back to the previous release")).to_have_count(0)
    screenshot(requester, "environment-page")

    info = requester.request.get(f"{url}info")
    assert info.ok and info.json()["model_version"] == "1", info.text()


def test_requester_cannot_approve_and_on_call_rolls_back(
    new_page: Any,
    login_as: Any,
    make_user: Any,
    scientist: Any,
    manager: Any,
    oncall: Any,
    churn_model: Any,
    application: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    from models_registry import services as model_services
    from releases import services as release_services
    from releases.models import Release

    staging, _ = environments
    url = f"http://127.0.0.1:{staging.target_config['port']}/"
    # v1 runs in staging (set up through the services; the UI path is the test above).
    first = release_services.request_release(
        staging, build=build_image(application, manager), actor=scientist
    )
    release_services.approve(first, actor=manager)
    run_jobs()
    assert served_model_version(url) == "1"
    # v2 of the model is registered; the application is rebuilt with it (or built here).
    upload = SimpleUploadedFile("churn-model.json", sample_model_bytes(2))
    info = model_services.VersionInfo(metrics={"auc": 0.85}, filename="churn-model.json")
    model_services.register_uploaded_version(churn_model, upload, info, actor=scientist)
    run_jobs()
    build_2 = build_image(application, manager, model_version=churn_model.versions.get(version=2))

    # A release manager requests v2: their own request offers the four-eyes note, not "Approve".
    page = new_page()
    login_as(page, manager)
    second_id = request_release(page, staging, build_2)
    expect(page.locator(".card p.muted", has_text="four-eyes")).to_have_text(FOUR_EYES)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)  # the requester cancels instead
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    expect(fact(page, "Model")).to_have_text("churn-model v1 → churn-model v2")
    auc = page.locator("tr", has=page.locator("td:text-is('auc')"))
    expect(auc.locator("td.num")).to_have_text(["0.8", "0.85", "0.0500"])
    screenshot(page, "release-page-four-eyes")

    colleague = new_page()
    login_as(colleague, make_user("manager2", "release-manager"))
    approve_in_browser(colleague, second_id)
    expect(state_badge(colleague)).to_have_text(state("succeeded"))
    assert served_model_version(url) == "2"

    on_call = new_page()
    login_as(on_call, oncall)
    on_call.goto(f"/environments/{staging.pk}/")
    expect(fact(on_call, "Model version")).to_have_text("churn-model v2")
    expect(on_call.get_by_role("button", name="Request release")).to_have_count(0)
    on_call.get_by_label("Reason").fill("v2 misbehaves")
    on_call.get_by_role("button", name="Roll back to the previous release").click()
    on_call.wait_for_url(f"**/environments/{staging.pk}/")

    rollback = Release.objects.get(kind="rollback")
    expect(on_call.locator(".messages li.success")).to_have_text(
        f"Rollback queued as release #{rollback.pk}."
    )
    expect(fact(on_call, "Release")).to_contain_text(f"#{rollback.pk}")
    expect(fact(on_call, "Model version")).to_have_text("churn-model v1")
    history = on_call.locator("tbody tr", has=on_call.get_by_role("link", name=f"#{rollback.pk}", exact=True))
    expect(history).to_contain_text("rollback")
    expect(history).to_contain_text("succeeded", ignore_case=True)
    screenshot(on_call, "environment-page-rolled-back")
    # The reason is kept as the rollback's note, shown in the history next to why the state changed.
    history.get_by_role("link", name=f"#{rollback.pk}", exact=True).click()
    expect(on_call.get_by_role("heading", level=1)).to_have_text(f"Rollback #{rollback.pk} to {staging}")
    expect(fact(on_call, "Note")).to_have_text("v2 misbehaves")
    expect(fact(on_call, "Requested")).to_contain_text("by oncall")
    expect(on_call.locator("#release-progress tbody tr").first).not_to_contain_text("Not started.")
    assert rollback.state == "succeeded", rollback.state_reason
    assert Release.objects.get(pk=second_id).state == "rolled_back"
    assert served_model_version(url) == "1"
