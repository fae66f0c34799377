"""The header's links follow each user's permissions, though they are built once per set of links."""

from __future__ import annotations

import re

import pytest
from django.urls import set_script_prefix

pytestmark = pytest.mark.django_db


def links(client) -> list[str]:
    header = client.get("/").content.decode().split("<nav>")[1].split("</nav>")[0]
    return re.findall(r'<a href="[^"]+">([^<]+)</a>', header)


def test_each_role_sees_the_links_its_permissions_allow(client, scientist, manager, make_user):
    client.force_login(scientist)
    seen = links(client)
    assert "Models" in seen and "Releases" in seen and "Approvals" not in seen and "Admin" not in seen
    client.force_login(manager)
    assert "Approvals" in links(client) and "Notifications" in links(client)
    client.force_login(make_user("root", "admin"))
    assert links(client)[-1] == "Admin" and "Clusters" in links(client)


def test_the_links_follow_the_prefix_the_site_is_served_under(client, manager):
    client.force_login(manager)
    assert '<a href="/releases/">Releases</a>' in client.get("/").content.decode()
    set_script_prefix("/dashboard/")  # what the WSGI handler sets from SCRIPT_NAME or FORCE_SCRIPT_NAME
    try:
        assert '<a href="/dashboard/releases/">Releases</a>' in client.get("/").content.decode()
    finally:
        set_script_prefix("/")
    assert '<a href="/releases/">Releases</a>' in client.get("/").content.decode()
