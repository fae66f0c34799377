"""Release schedules: each slot once, skips with reasons, missed slots, approvals ahead of the slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from releases import scheduler, services
from releases.models import Environment, Release, Schedule, ScheduleRun
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db

WINTER_SLOT = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)  # 02:00 Europe/Amsterdam


@pytest.fixture
def staging(application, manager):
    return environment(application, "staging", actor=SETUP, allow_self_approval=True)


@pytest.fixture
def image(application, churn_model):
    return candidate(application, churn_model.versions.get(), "nightly-1")


def nightly(env, owner, **fields):
    defaults = {"cron": "0 2 * * *", "timezone": "Europe/Amsterdam", "policy": "latest-build", "owner": owner}
    defaults.update(fields)
    schedule = Schedule.objects.create(environment=env, **defaults)
    Schedule.objects.filter(pk=schedule.pk).update(evaluated_until=WINTER_SLOT - timedelta(hours=12))
    schedule.refresh_from_db()
    return schedule


def test_a_slot_fires_once_even_when_two_schedulers_evaluate_it(staging, image, manager):
    schedule = nightly(staging, manager, owner_approves=True)
    stale_copy = Schedule.objects.get(pk=schedule.pk)  # a second scheduler process loaded it too
    now = WINTER_SLOT + timedelta(minutes=1)
    scheduler.evaluate(schedule, now)
    scheduler.evaluate(stale_copy, now)
    run = ScheduleRun.objects.get()
    assert (run.slot, run.outcome) == (WINTER_SLOT, "fired")
    release = Release.objects.get()
    assert release.schedule == schedule and release.state == "queued"  # the owner's approval, allowed here
    assert run.release == release


def test_without_owner_approval_the_fired_release_waits_for_approvals(staging, image, manager):
    staging.allow_self_approval = False
    staging.save()
    scheduler.evaluate(nightly(staging, manager, owner_approves=True), WINTER_SLOT + timedelta(minutes=1))
    assert Release.objects.get().state == "requested"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("same", "nothing new"),
        ("busy", "deployment is running"),
        ("frozen", "frozen: release freeze"),
        ("none", "no candidate"),
    ],
)
def test_skips_are_recorded_with_the_reason(staging, application, churn_model, manager, setup, reason):
    if setup != "none":
        image = candidate(application, churn_model.versions.get(), "nightly-1")
    if setup == "same":
        mark_succeeded(services.request_release(staging, image=image, actor=manager))
    elif setup == "busy":
        other = services.request_release(
            staging, image=candidate(application, churn_model.versions.get(), "x"), actor=manager
        )
        Environment.objects.filter(pk=staging.pk).update(active_release=other)
    elif setup == "frozen":
        services.add_freeze_window(
            staging,
            {
                "reason": "release freeze",
                "start": WINTER_SLOT - timedelta(days=1),
                "end": WINTER_SLOT + timedelta(days=1),
            },
            actor=manager,
        )
    scheduler.evaluate(nightly(staging, manager), WINTER_SLOT + timedelta(minutes=1))
    run = ScheduleRun.objects.get()
    assert run.outcome == "skipped" and reason in run.reason


def test_nights_missed_while_down_run_once_on_recovery(staging, image, manager):
    schedule = nightly(staging, manager, owner_approves=True, grace_minutes=120)
    Schedule.objects.filter(pk=schedule.pk).update(evaluated_until=WINTER_SLOT - timedelta(days=3, hours=1))
    schedule.refresh_from_db()
    scheduler.evaluate(schedule, WINTER_SLOT + timedelta(minutes=30))
    outcomes = dict(ScheduleRun.objects.values_list("slot", "outcome"))
    assert outcomes[WINTER_SLOT] == "fired"
    assert sorted(o for s, o in outcomes.items() if s != WINTER_SLOT) == ["missed"] * 3
    assert Release.objects.count() == 1


def test_a_slot_beyond_the_grace_period_is_only_recorded_as_missed(staging, image, manager):
    schedule = nightly(staging, manager, grace_minutes=30)
    scheduler.evaluate(schedule, WINTER_SLOT + timedelta(hours=5))
    assert list(ScheduleRun.objects.values_list("outcome", flat=True)) == ["missed"]
    assert not Release.objects.exists()


def test_daylight_saving_night_fires_once(staging, image, manager):
    schedule = nightly(staging, manager, cron="30 2 * * *")  # 02:30 does not exist on 2026-03-29
    Schedule.objects.filter(pk=schedule.pk).update(evaluated_until=datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    schedule.refresh_from_db()
    scheduler.evaluate(schedule, datetime(2026, 3, 29, 1, 5, tzinfo=UTC))
    run = ScheduleRun.objects.get()
    assert run.slot == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, right after the gap


class TestApprovalsAheadOfTheSlot:
    """Uses the next real slot: requesting a release for a time already past is refused."""

    @pytest.fixture
    def slot(self):
        from django.utils import timezone

        from releases.scheduling import next_slot

        return next_slot("0 2 * * *", "Europe/Amsterdam", timezone.now() + timedelta(hours=3))

    @pytest.fixture
    def schedule(self, application, image, manager, slot):
        strict = environment(application, "prod", actor=manager, allow_self_approval=False)
        schedule = nightly(strict, manager, prepare_minutes=8 * 60)
        Schedule.objects.filter(pk=schedule.pk).update(evaluated_until=slot - timedelta(hours=12))
        schedule.refresh_from_db()
        return schedule

    def test_the_candidate_is_requested_ahead_and_deploys_at_the_slot_once_approved(
        self, schedule, slot, make_user
    ):
        scheduler.evaluate(schedule, slot - timedelta(hours=2))
        prepared = Release.objects.get()
        assert (prepared.state, prepared.scheduled_for) == ("requested", slot)
        services.approve(prepared, actor=make_user("manager2", "release-manager"))
        prepared.refresh_from_db()
        assert prepared.state == "scheduled"
        schedule.refresh_from_db()
        scheduler.evaluate(schedule, slot + timedelta(minutes=1))
        prepared.refresh_from_db()
        assert prepared.state == "queued"
        assert ScheduleRun.objects.get().outcome == "fired"

    def test_an_unapproved_candidate_expires_at_the_slot(self, schedule, slot):
        scheduler.evaluate(schedule, slot - timedelta(hours=2))
        schedule.refresh_from_db()
        scheduler.evaluate(schedule, slot + timedelta(minutes=1))
        release = Release.objects.get()
        assert release.state == "expired"
        run = ScheduleRun.objects.get()
        assert run.outcome == "skipped" and "not approved in time" in run.reason


def test_the_schedules_api_validates_cron_and_time_zone(api, manager, staging):
    api.force_authenticate(manager)
    bad_cron = api.post(
        "/api/v1/schedules/",
        {"environment": staging.pk, "cron": "61 2 * * *", "timezone": "UTC"},
        format="json",
    )
    assert bad_cron.status_code == 400 and "minute" in bad_cron.json()["detail"]
    bad_tz = api.post(
        "/api/v1/schedules/",
        {"environment": staging.pk, "cron": "0 2 * * *", "timezone": "Mars/Base"},
        format="json",
    )
    assert bad_tz.status_code == 400 and "unknown time zone" in bad_tz.json()["detail"]
    ok = api.post(
        "/api/v1/schedules/",
        {"environment": staging.pk, "cron": "0 2 * * *", "timezone": "Europe/Amsterdam"},
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["owner"] == "manager" and ok.json()["next_slot"]


def test_only_release_managers_schedule(api, scientist, staging):
    api.force_authenticate(scientist)
    response = api.post("/api/v1/schedules/", {"environment": staging.pk, "cron": "0 2 * * *"}, format="json")
    assert response.status_code == 403
