"""The whole loop with real commits: a release built, requested, approved and deployed on the
local target notifies as it goes, and so does drift found afterwards."""

from __future__ import annotations

import pytest

from notifications.models import Delivery
from releases import jobs as release_jobs
from releases import services as release_services
from releases.targets import target_for
from tests.notifications.test_events import ALL_EVENTS
from tests.releases.conftest import build_image, run_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_approving_a_release_to_success_notifies_each_step(
    application, environments, manager, scientist, make_channel, receiver
):
    staging, _ = environments
    channel = make_channel(events=ALL_EVENTS, environment=staging, secret="end-to-end-secret-value")
    build = build_image(application, manager)

    release = release_services.request_release(staging, build=build, actor=scientist)
    assert [r.json["event"] for r in receiver.received] == ["approval_needed"]

    release_services.approve(release, actor=manager)
    run_jobs()
    release.refresh_from_db()
    assert release.state == "succeeded", release.state_reason
    assert [r.json["event"] for r in receiver.received] == ["approval_needed", "release_succeeded"]
    assert receiver.received[1].json["release_id"] == release.pk

    target_for(staging).stop()  # someone stops it by hand
    release_jobs.check_drift()

    assert [r.json["event"] for r in receiver.received][-1] == "drift_detected"
    assert all(r.signature_verifies("end-to-end-secret-value") for r in receiver.received)
    assert set(Delivery.objects.filter(channel=channel).values_list("state", flat=True)) == {"succeeded"}
