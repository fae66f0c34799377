"""The on-call journey: the overview grid as it changes, why a release waits, a rollback, what ran when.

Grid, waiting and timeline tests make their releases as rows (a rollout's progress written
straight to the release, then the deploy job's finish): the deploy itself is tested in
test_releases_ui.py. The rollback deploys for real on the local target, as that test does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from releases import deployer
from releases import services as release_services
from releases.models import Environment, Release, RunPeriod
from tests.releases.conftest import build_image, run_jobs
from tests.releases.helpers import candidate

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:
    pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The grid polls every 5 s: two polls and some slack before giving up on a change.
GRID_POLL_MS = 12_000
AMSTERDAM = "Europe/Amsterdam"
PHONE = {"width": 390, "height": 844}
APPROVALS_WAIT = "0 of 1 approvals (needs 1 more from Release manager; the requester cannot approve)"


def cell(page: Page, environment: Environment) -> Locator:
    """The overview cell of ``environment`` (the tests have one application)."""
    return page.locator(f"#overview-grid td.cell:has(a.env:text-is('{environment.name}'))")


def fact(page: Page, term: str) -> Locator:
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").first


def deploying(environment: Environment, image: Any, *, ready: int, desired: int) -> Release:
    """A release mid-rollout, as the deploy job leaves it between two looks at the target."""
    release = Release.objects.create(
        environment=environment,
        image=image,
        digest=image.digest,
        model_version=image.model_version,
        commit=image.commit,
        state=Release.State.DEPLOYING,
        started_at=timezone.now(),
        progress=rollout(ready, desired),
    )
    Environment.objects.filter(pk=environment.pk).update(active_release=release)
    return release


def go_out(environment: Environment, image: Any) -> Release:
    """A release that rolled out and now runs, as the deploy job finishes it."""
    release = deploying(environment, image, ready=1, desired=1)
    deployer.finish(release, succeeded=True, reason="rolled out")
    release.refresh_from_db()
    return release


def rollout(ready: int, desired: int) -> dict[str, Any]:
    return {
        "replicas": desired,
        "updated_replicas": desired,
        "ready_replicas": ready,
        "available_replicas": ready,
        "pod_problems": [],
    }


def unlabelled_inputs(page: Page) -> list[str]:
    """Inputs (hidden ones aside) with neither a <label for> nor an aria-label."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("input, select, textarea"))
            .filter((el) => el.type !== "hidden")
            .filter((el) => !el.getAttribute("aria-label")
                && !(el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)))
            .map((el) => el.outerHTML)"""
    )


def overflows_sideways(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")


def tall_rows(page: Page) -> list[str]:
    """Table rows taller than half the screen: a column squeezed to a sliver, read a word a line."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("tr"))
            .filter((row) => row.offsetHeight > window.innerHeight / 2)
            .map((row) => `${row.offsetHeight}px: ${row.innerText.slice(0, 60)}`)"""
    )


def test_the_overview_cell_follows_a_rollout_without_a_reload(
    page: Page,
    login_as: Any,
    oncall: Any,
    application: Any,
    churn_model: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, prod = environments
    version = churn_model.versions.get()
    one, two = candidate(application, version, "one"), candidate(application, version, "two")
    go_out(staging, one)
    go_out(prod, one)
    rolling = deploying(prod, two, ready=1, desired=3)
    login_as(page, oncall)

    page.goto("/")
    row = page.locator("#overview-grid tbody tr", has=page.get_by_role("link", name=application.name))
    expect(row).to_have_count(1)
    expect(page.locator("#overview-grid thead th")).to_have_text(["Application", "staging", "prod"])
    ran = cell(page, staging)
    expect(ran.locator(".badge")).to_have_text("running")
    expect(ran).to_contain_text("churn-model v1")
    expect(ran.get_by_role("link", name=one.digest[7:19])).to_be_visible()
    expect(ran.locator(f"span[title='{one.commit}']")).to_have_text(one.commit[:7])
    moving = cell(page, prod)
    expect(moving.locator(".badge")).to_have_text("deploying")
    expect(moving).to_contain_text(f"release #{rolling.pk} rolling out")
    expect(moving).to_contain_text("1/3 ready")
    expect(moving.locator("ul.waiting")).to_have_text("rollout: 1/3 pods ready")
    screenshot(page, "oncall-overview-rolling-out")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page were loaded again
    # While nothing changes, a poll sends the grid version it holds and gets no content back.
    with page.expect_response(lambda r: r.status == 204 and "seen=" in r.url, timeout=GRID_POLL_MS):
        pass
    expect(moving).to_contain_text("1/3 ready")

    Release.objects.filter(pk=rolling.pk).update(progress=rollout(2, 3))
    expect(moving).to_contain_text("2/3 ready", timeout=GRID_POLL_MS)
    expect(moving.locator("progress")).to_have_attribute("value", "2")

    Release.objects.filter(pk=rolling.pk).update(progress=rollout(3, 3))
    deployer.finish(Release.objects.get(pk=rolling.pk), succeeded=True, reason="rolled out")
    expect(moving.locator(".badge")).to_have_text("running", timeout=GRID_POLL_MS)
    expect(moving).not_to_contain_text("rolling out")
    expect(moving.get_by_role("link", name=two.digest[7:19])).to_be_visible()
    expect(moving.locator(f"span[title='{two.commit}']")).to_have_text(two.commit[:7])
    assert page.evaluate("() => window.sameDocument") is True, "the grid changed by a full page load"
    screenshot(page, "oncall-overview-rolled-out")


def test_a_release_waiting_for_approval_says_so_in_its_cell_and_on_its_page(
    page: Page,
    login_as: Any,
    oncall: Any,
    scientist: Any,
    application: Any,
    churn_model: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, _ = environments
    image = candidate(application, churn_model.versions.get(), "one")
    waiting = release_services.request_release(staging, image=image, actor=scientist)
    login_as(page, oncall)

    page.goto("/")
    waits = cell(page, staging)
    expect(waits.locator(".badge")).to_have_text("waiting")
    expect(waits).to_contain_text(f"#{waiting.pk} requested")
    expect(waits.locator("ul.waiting li")).to_have_text([APPROVALS_WAIT])
    screenshot(page, "oncall-overview-waiting")

    waits.get_by_role("link", name=f"#{waiting.pk}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Release #{waiting.pk} to {staging}")
    expect(page.locator("#release-progress ul.waiting li")).to_have_text([APPROVALS_WAIT])
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # on-call does not approve
    screenshot(page, "oncall-release-waiting")


def test_on_call_rolls_back_from_the_environment_page(
    page: Page,
    login_as: Any,
    oncall: Any,
    scientist: Any,
    manager: Any,
    app_repo: Any,
    application: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, _ = environments
    good = build_image(application, manager)
    fix = app_repo.commit("Tune the churn threshold", {"THRESHOLD": "0.6\n"})
    bad = build_image(application, manager, commit=fix)
    released = []
    for build in (good, bad):  # set up through the services; the request-and-approve UI is tested elsewhere
        release = release_services.request_release(staging, build=build, actor=scientist)
        release_services.approve(release, actor=manager)
        run_jobs()
        release.refresh_from_db()
        assert release.state == Release.State.SUCCEEDED, release.state_reason
        released.append(release)
    first, second = released
    login_as(page, oncall)

    page.goto(f"/environments/{staging.pk}/")
    expect(fact(page, "Release")).to_contain_text(f"#{second.pk}")
    expect(fact(page, "Commit")).to_have_text(bad.commit)
    page.get_by_label("Reason").fill("the new threshold pages too often")
    page.get_by_role("button", name="Roll back to the previous release").click()
    page.wait_for_url(f"**/environments/{staging.pk}/")

    rollback = Release.objects.get(kind=Release.Kind.ROLLBACK)
    expect(page.locator(".messages li.success")).to_have_text(f"Rollback queued as release #{rollback.pk}.")
    expect(fact(page, "Release")).to_contain_text(f"#{rollback.pk}")
    expect(fact(page, "Commit")).to_have_text(good.commit)
    expect(fact(page, "Image")).to_have_text(first.image.reference)
    history = page.locator("tbody tr", has=page.get_by_role("link", name=f"#{rollback.pk}", exact=True))
    expect(history).to_contain_text("rollback")
    expect(history).to_contain_text("succeeded", ignore_case=True)
    replaced = page.locator("tbody tr", has=page.get_by_role("link", name=f"#{second.pk}", exact=True))
    expect(replaced).to_contain_text("rolled back", ignore_case=True)
    screenshot(page, "oncall-environment-rolled-back")
    rollback.refresh_from_db()
    assert (rollback.state, rollback.digest) == (Release.State.SUCCEEDED, first.digest), rollback.state_reason


def test_the_timeline_says_what_ran_at_an_instant_in_the_readers_time_zone(
    new_page: Any,
    login_as: Any,
    oncall: Any,
    application: Any,
    churn_model: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, _ = environments
    version = churn_model.versions.get()
    earlier = go_out(staging, candidate(application, version, "one"))
    later = go_out(staging, candidate(application, version, "two"))
    now = timezone.now()
    RunPeriod.objects.filter(release=earlier).update(
        started_at=now - timedelta(hours=5), ended_at=now - timedelta(hours=2)
    )
    RunPeriod.objects.filter(release=later).update(started_at=now - timedelta(hours=2))
    instant = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    page = new_page(timezone_id=AMSTERDAM)
    login_as(page, oncall)

    page.goto(f"/applications/{application.name}/timeline/?days=1")
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == AMSTERDAM
    page.get_by_label("What ran at").fill(instant.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()

    band = page.get_by_role("region", name="staging")
    answer = band.locator("p[aria-live]")
    expect(answer).to_contain_text(f"release #{earlier.pk}")
    expect(answer.get_by_role("link", name=f"release #{earlier.pk}")).to_have_attribute(
        "href", f"/releases/{earlier.pk}/"
    )
    marked = band.locator(".segment.at")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("href", f"/releases/{earlier.pk}/")
    expect(page.get_by_role("region", name="prod").locator("p[aria-live]")).to_contain_text(
        "nothing had run here yet"
    )

    shown = answer.locator("time[data-local]").first
    expect(shown).to_have_attribute("title", f"{instant:%Y-%m-%d %H:%M} UTC")
    local = datetime.strptime(shown.inner_text(), "%Y-%m-%d %H:%M")
    utc = datetime.strptime(shown.get_attribute("title") or "", "%Y-%m-%d %H:%M UTC")
    offset = instant.astimezone(ZoneInfo(AMSTERDAM)).utcoffset()
    assert offset in (timedelta(hours=1), timedelta(hours=2))
    assert local - utc == offset, (shown.inner_text(), shown.get_attribute("title"))
    expect(answer).to_contain_text(f"At {shown.inner_text()}: release #{earlier.pk} · churn-model v1")
    screenshot(page, "oncall-timeline-what-ran-at")


@pytest.mark.parametrize("where", ["overview", "timeline"])
def test_pages_have_labelled_inputs_a_live_region_and_fit_a_phone(
    where: str,
    new_page: Any,
    login_as: Any,
    oncall: Any,
    scientist: Any,
    application: Any,
    churn_model: Any,
    environments: Any,
    screenshot: Any,
) -> None:
    staging, prod = environments
    image = candidate(application, churn_model.versions.get(), "one")
    running = go_out(staging, image)
    RunPeriod.objects.filter(release=running).update(started_at=timezone.now() - timedelta(hours=3))
    release_services.request_release(prod, image=image, actor=scientist)  # a long waiting reason
    page = new_page(viewport=PHONE)
    login_as(page, oncall)
    at = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = "/" if where == "overview" else f"/applications/{application.name}/timeline/?days=1&at={at}"

    page.goto(url)
    live = page.locator("#overview-grid [aria-live]" if where == "overview" else "p[aria-live]")
    expect(live.first).to_have_attribute("aria-live", "polite")
    assert unlabelled_inputs(page) == []
    assert not overflows_sideways(page), page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert tall_rows(page) == []
    screenshot(page, f"oncall-{where}-phone")
