"""The home page kept per viewer and grid version (overview/homecache.py): the same page as a
render, this request's CSRF token in it, each viewer their own header, messages shown once."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from core import tokens
from core.roles import set_roles
from overview.homecache import Overview
from overview.views import grid_cache_key

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
HX_TOKEN = re.compile(r'"X-CSRFToken": "([A-Za-z0-9]{64})"')


@pytest.fixture(autouse=True)
def cached_overview(settings):
    settings.OVERVIEW_CACHE_SECONDS = 60


def tokens_in(page: str) -> tuple[str, str]:
    form, header = TOKEN.search(page), HX_TOKEN.search(page)
    assert form and header
    return form.group(1), header.group(1)


def test_a_reload_of_an_unchanged_grid_is_the_rendered_page_with_a_new_working_csrf_token(scientist):
    client = Client(enforce_csrf_checks=True)
    client.force_login(scientist)
    first = client.get("/")
    assert first.status_code == 200 and first.templates  # rendered

    again = client.get("/")
    assert again.status_code == 200 and not again.templates  # the copy: no template rendered
    assert again["Content-Type"] == "text/html; charset=utf-8"
    page, rendered = again.content.decode(), first.content.decode()
    (token, header_token), (old_token, _) = tokens_in(page), tokens_in(rendered)
    assert token == header_token and token != old_token  # each response masks the token anew
    assert page.replace(token, "T") == rendered.replace(old_token, "T")

    # Same session and cookie: a made-up token is refused, the one put into the copy accepted.
    assert client.post("/logout/", {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert client.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


def test_each_viewer_gets_their_own_name_roles_and_links(client, scientist, manager):
    client.force_login(manager)
    client.get("/")
    client.force_login(scientist)
    client.get("/")
    client.force_login(manager)
    as_manager = client.get("/")
    client.force_login(scientist)
    as_scientist = client.get("/")
    assert not as_manager.templates and not as_scientist.templates  # both from copies

    manager_page, scientist_page = as_manager.content.decode(), as_scientist.content.decode()
    assert 'title="your API tokens">manager</a> · Release manager' in manager_page
    assert 'title="your API tokens">scientist</a> · Data scientist' in scientist_page
    assert 'href="/approvals/">Approvals</a>' in manager_page
    assert "/approvals/" not in scientist_page


def test_a_new_role_or_a_changed_grid_gives_a_new_page(client, scientist, manager):
    client.force_login(scientist)
    client.get("/")
    set_roles(scientist, {"data-scientist", "release-manager"}, actor=manager)
    with_role = client.get("/")
    assert with_role.templates  # rendered again for what the viewer may now do
    assert 'href="/approvals/">Approvals</a>' in with_role.content.decode()

    from django.core.cache import cache  # not at module level: collecting it would open the cache early

    key = grid_cache_key("", 1)  # another replica renders the grid anew, and a cell has changed
    cache.set_many(
        {key: Overview("<p>the new grid</p>", 1, 0, "0123456789abcdef"), f"{key}:version": "0123456789abcdef"}
    )
    new_grid = client.get("/")
    assert new_grid.templates and "<p>the new grid</p>" in new_grid.content.decode()


def test_a_message_is_shown_once_and_not_kept_in_the_copy(client, scientist):
    client.force_login(scientist)
    client.get("/")
    token, _ = tokens.issue(scientist, name="ci", actor=scientist)
    client.post(f"/tokens/{token.pk}/revoke/")  # says so in a message on the next page

    with_message = client.get("/")
    assert with_message.templates and "Token ci (" in with_message.content.decode()
    after = client.get("/")
    assert "Token ci (" not in after.content.decode()
    assert not after.templates  # the copy made before the message, which never held it


def test_with_the_cache_off_every_page_is_rendered(client, scientist, settings):
    settings.OVERVIEW_CACHE_SECONDS = 0
    client.force_login(scientist)
    client.get("/")
    assert client.get("/").templates
