"""Releases on the local target that fail before anything runs, and what comes after them."""

from __future__ import annotations

import socket

import pytest

from releases import services
from releases.models import Environment, Release, RolloutEvent
from releases.targets import target_for
from tests.releases.conftest import build_image, run_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def release_now(environment, build, actor) -> Release:
    Environment.objects.filter(pk=environment.pk).update(required_approvals=0)
    environment.refresh_from_db()
    created = services.request_release(environment, build=build, actor=actor)
    run_jobs()
    created.refresh_from_db()
    return created


def test_a_release_refused_because_its_port_was_taken_does_not_wedge_the_environment(
    application, environments, manager
):
    staging, _ = environments
    build = build_image(application, manager)
    squatter = socket.create_server(("127.0.0.1", staging.target_config["port"]))
    try:
        refused = release_now(staging, build, manager)
    finally:
        squatter.close()
    assert (refused.state, refused.target_change) == ("failed", "refused")
    assert "Address already in use" in refused.state_reason
    assert RolloutEvent.objects.filter(
        release=refused, message__contains="the target was not changed"
    ).exists()
    assert not Release.objects.filter(kind="rollback").exists()

    served = release_now(staging, build, manager)  # before: "runs nothing, not the expected ..."

    assert served.state == "succeeded", served.state_reason
    assert target_for(staging).current().release_id == str(served.pk)


def test_an_unexpected_error_while_deploying_fails_the_release_with_a_readable_reason(
    application, environments, manager
):
    staging, _ = environments
    build = build_image(application, manager)
    state_dir = target_for(staging).state_dir
    state_dir.mkdir(parents=True)
    (state_dir / "desired.json").write_text('{"generation": "x"}')  # a state file left corrupted on the host

    failed = release_now(staging, build, manager)

    assert failed.state == "failed"
    assert failed.state_reason.startswith("unexpected error while deploying (")
    assert "see the deploy worker's log" in failed.state_reason
    staging.refresh_from_db()
    assert staging.active_release is None  # the environment is free for the next release
