"""The Content-Security-Policy holds on every kind of page, and a planted script does not run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_send_the_policy(client, scientist):
    client.force_login(scientist)
    policy = client.get("/models/")["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    )


def test_swagger_ui_and_htmx_pages_run_under_the_policy(page, login):
    login(page, "sci", "data-scientist")
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .information-container")  # its script ran: allowed
    page.goto("/jobs/")  # refreshed by htmx
    page.wait_for_timeout(2500)
    page.goto("/")  # recent changes, model versions and jobs come by htmx once the grid shows
    page.get_by_role("heading", name="Recent changes").wait_for()
    assert page.locator("#activity").get_by_role("heading", name="Recent jobs").is_visible()


def test_an_inline_script_is_blocked(new_page, login):
    page = new_page()
    login(page, "sci2", "data-scientist")
    page.goto("/models/")
    blocked = page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective), {once: true});
            const s = document.createElement('script');
            s.textContent = 'window.planted = true';
            document.body.appendChild(s);
            setTimeout(() => resolve(window.planted ? 'ran' : 'no event'), 2000);
        })"""
    )
    assert blocked.startswith("script-src")
    assert any("script-src" in v for v in new_page.violations)  # the watcher every browser test has saw it
    new_page.violations.clear()  # the one violation this test provoked on purpose
