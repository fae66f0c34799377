"""The test suite's own rules: in CI a missing test dependency is a failure, never a skip."""

from __future__ import annotations

import pytest

from tests.fixtures.shared import shared_tool_missing


def test_a_missing_shared_tool_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI a missing test dependency fails the run"):
        shared_tool_missing("the stand-in is absent")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="the stand-in is absent"):
        shared_tool_missing("the stand-in is absent")


def test_a_missing_prometheus_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    from tests.fixtures import prometheus

    monkeypatch.setattr(prometheus, "BINARY", "prometheus-that-is-not-installed")
    fixture = prometheus.prometheus.__wrapped__  # the fixture's own function
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"prometheus is not installed.*fails the run"):
        next(fixture(tmp_path))
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y prometheus"):
        next(fixture(tmp_path))


def test_a_missing_oidc_provider_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    from tests.fixtures import oidc

    monkeypatch.setattr(oidc, "PACKAGE", tmp_path / "node_modules" / "oidc-provider")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(
        pytest.fail.Exception, match=r"(node is not installed|oidc-provider is missing).*fails the run"
    ):
        oidc.start_provider([oidc.TEST_CLIENT_REDIRECT])
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"nodejs|npm ci"):
        oidc.start_provider([oidc.TEST_CLIENT_REDIRECT])
