"""Signing in at the test OpenID provider without a browser: its own login and consent forms,
posted with ``requests`` as a browser would, up to the redirect back to the dashboard."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import requests

FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.S)


def sign_in_at_provider(authorization_url: str, login: str, redirect_prefix: str) -> str:
    """Follow the provider's pages as ``login``; the URL it sends the browser back to (code, state)."""
    session = requests.Session()
    response = session.get(authorization_url, allow_redirects=False, timeout=10)
    for _ in range(20):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_prefix):
                return location
            response = session.get(location, allow_redirects=False, timeout=10)
            continue
        found = FORM.search(response.text)
        assert response.status_code == 200 and found, (
            f"unexpected page {response.status_code}: {response.text[:500]}"
        )
        action, body = found.groups()
        data = {name: unescape(value) for name, value in HIDDEN.findall(body)}
        if 'name="login"' in body:
            data |= {"login": login, "password": "any"}
        response = session.post(
            urljoin(response.url, unescape(action)), data=data, allow_redirects=False, timeout=10
        )
    raise AssertionError("the provider never sent the browser back")
