"""Browser fixtures: one headless Chromium per test process, a fresh context per test.

The browser is Debian's Chromium driven by Playwright (never a downloaded browser). Pages
talk to pytest-django's ``live_server``, so every test runs against the real URL
routing, middleware, templates and permission checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Local-target environments (staging, prod on free ports, stopped at teardown) for release pages.
from tests.releases.conftest import environments  # noqa: F401

# Playwright's sync API keeps an asyncio loop running in this thread; Django would then
# refuse database calls made by fixtures here (users, assertions after the fact).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots are for people to look at, never committed (.gitignore has test-output/).
SHOTS_DIR = Path(
    os.environ.get("BROWSER_SHOTS_DIR", Path(__file__).resolve().parents[2] / "test-output" / "browser")
)
PASSWORD = "pw-for-tests"
TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Each user is hashed once and checked once at login; the default hasher costs ~0.4 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; run scripts/install-test-deps.sh "
            "(installs Debian's chromium; never `playwright install`).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[[], Any]]:
    """Open pages in contexts of their own (separate cookies), i.e. one per user.

    Every page is watched for Content-Security-Policy violations: a test fails if the policy
    blocked anything, so each browser test also proves the pages (and htmx) work under it.
    """
    contexts: list[Any] = []
    violations: list[str] = []

    def watch(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url', '?')}: {message.text}")

    def open_page(**context_options: Any) -> Any:
        """``context_options`` go to ``new_context``, e.g. ``timezone_id`` or a phone's ``viewport``."""
        options = {"base_url": live_server.url, "viewport": {"width": 1280, "height": 800}}
        context = browser.new_context(**(options | context_options))
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        return page

    open_page.violations = violations  # type: ignore[attr-defined]  # for a test that provokes one
    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "the Content-Security-Policy blocked something:\n" + "\n".join(violations)


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


@pytest.fixture
def login(make_user: Any) -> Callable[[Any, str, str], Any]:
    """Create a user with a role and log them in through the login form."""

    def log_in(page: Any, username: str, role: str) -> Any:
        user = make_user(username, role)
        page.goto("/login/")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
        return user

    return log_in


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot for people to look at (not compared automatically)."""

    def take(page: Any, name: str) -> Path:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SHOTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login_as() -> Callable[[Any, Any], Any]:
    """Log an existing user (e.g. the ``manager`` fixture) in through the login form.

    ``login`` creates its user; this one is for users other fixtures already made, such as
    the release manager who owns the ``application`` fixture.
    """

    def log_in(page: Any, user: Any) -> Any:
        page.goto("/login/")
        page.get_by_label("User name").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
        return user

    return log_in
