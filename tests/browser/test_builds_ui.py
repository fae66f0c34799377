"""Builds as people use them: "Build now" on the application page, the build, image and model pages.

Jobs run in-process on commit in tests, so the click on "Build now" returns once the build
has ended; the live server needs real commits, hence ``transaction=True``.
"""

from __future__ import annotations

from typing import Any

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:
    pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APP = "churn-predictor"
BROKEN_TEST = (
    "import unittest\n\n\n"
    "class BrokenTest(unittest.TestCase):\n"
    "    def test_it(self) -> None:\n"
    "        self.fail('boom: this test is broken on purpose')\n"
)


def fact(page: Page, term: str) -> Any:
    """The <dd> of a term in a page's first fact list with that term."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").first


def build_now(page: Page, commit: str = "") -> None:
    """Click "Build now" on the application page and wait for the build page it leads to."""
    page.goto(f"/applications/{APP}/")
    if commit:
        page.get_by_label("Commit").fill(commit)
    page.get_by_role("button", name="Build now").click()
    page.wait_for_url("**/builds/*/")


def test_build_now_builds_an_image_with_lineage(
    page: Page, login_as: Any, manager: Any, application: Any, app_repo: Any, screenshot: Any
) -> None:
    login_as(page, manager)
    page.goto(f"/applications/{APP}/")
    expect(page.get_by_label("Model version")).to_have_value("")  # "latest active version"
    expect(page.get_by_label("Commit")).to_have_value("")

    build_now(page)

    from builds.models import Build

    build = Build.objects.get()
    assert page.url.endswith(f"/builds/{build.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Build #{build.pk} of {APP}")
    expect(page.locator(".messages li.success")).to_have_text(f"Build #{build.pk} queued.")
    build = Build.objects.select_related("image").get()
    expect(fact(page, "State")).to_have_text("succeeded")
    expect(fact(page, "Commit")).to_have_text(app_repo.head)
    expect(fact(page, "Model version")).to_contain_text("churn-model v1")
    expect(fact(page, "Trigger")).to_contain_text("by manager")
    # The sample app's unittest run is in the log, then the pushed image.
    log = page.locator("#build-log")
    expect(log).to_contain_text("OK")
    expect(log).to_contain_text("Ran ")
    expect(log).to_contain_text(f"== image {build.image.reference}")
    assert build.image.digest.startswith("sha256:")
    expect(fact(page, "Image")).to_contain_text(build.image.digest)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    screenshot(page, "build-page-succeeded")

    fact(page, "Image").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Image {APP}")
    expect(fact(page, "Digest")).to_have_text(build.image.digest)
    expect(fact(page, "Commit")).to_have_text(app_repo.head)
    expect(fact(page, "Model version")).to_contain_text("churn-model v1")
    expect(fact(page, "Application")).to_have_text(APP)
    expect(page.locator("tbody tr", has=page.get_by_role("link", name=f"#{build.pk}"))).to_have_count(1)
    screenshot(page, "image-page")

    fact(page, "Model version").get_by_role("link", name="churn-model v1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("churn-model v1")
    row = page.locator("tbody tr", has=page.get_by_role("link", name=f"#{build.pk}", exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(APP)
    expect(row.locator(".badge")).to_have_text("succeeded")
    expect(row).to_contain_text(build.image.digest[:16])


def test_a_commit_with_a_failing_test_fails_the_build_without_an_image(
    page: Page, login_as: Any, manager: Any, application: Any, app_repo: Any, screenshot: Any
) -> None:
    broken = app_repo.commit("break a test", {"tests/test_broken.py": BROKEN_TEST})
    login_as(page, manager)

    build_now(page, commit=broken)

    from builds.models import Build

    build = Build.objects.get()
    assert (build.state, build.image_id) == ("failed", None)
    expect(fact(page, "State")).to_have_text("failed")
    expect(fact(page, "Commit")).to_have_text(broken)
    expect(fact(page, "Reason")).to_contain_text("tests failed")
    expect(page.locator("dl.facts dt:text-is('Image')")).to_have_count(0)
    expect(page.locator("#build-log")).to_contain_text("boom: this test is broken on purpose")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    screenshot(page, "build-page-failed")

    page.goto(f"/applications/{APP}/")
    row = page.locator("tbody tr", has=page.get_by_role("link", name=f"#{build.pk}", exact=True))
    expect(row.locator(".badge")).to_have_text("failed")
    expect(page.get_by_text("No images yet.")).to_be_visible()


def test_on_call_sees_the_application_but_no_build_form(
    page: Page, login_as: Any, oncall: Any, application: Any
) -> None:
    login_as(page, oncall)
    page.goto(f"/applications/{APP}/")

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Application {APP}")
    expect(page.get_by_role("heading", name="Build now")).to_have_count(0)
    expect(page.get_by_role("button", name="Build now")).to_have_count(0)
    expect(page.get_by_label("Commit")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit settings")).to_have_count(0)

    # Posting the form anyway is refused, and nothing is built.
    response = page.request.post(f"/applications/{APP}/", form={"commit": ""})
    assert response.status == 403

    from builds.models import Build

    assert not Build.objects.exists()
