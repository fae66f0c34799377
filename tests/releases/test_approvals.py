from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ConflictError, ForbiddenError
from core.models import AuditEvent, JobRun
from models_registry import services as model_services
from releases import deployer, jobs, services, waiting
from releases.models import Approval, Release, Schedule
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(application, manager):
    return environment(application, "staging", actor=manager)


@pytest.fixture
def image(application, churn_model):
    return candidate(application, churn_model.versions.get(), "img-a")


def test_one_approval_from_someone_else_queues_the_release(staging, image, scientist, manager):
    release = services.request_release(staging, image=image, actor=scientist)
    assert release.state == "requested"
    services.approve(release, actor=manager, comment="ok")
    release.refresh_from_db()
    assert release.state == "queued"
    assert JobRun.objects.filter(name="releases.jobs.process_environment", args=[staging.pk]).exists()
    actions = list(
        AuditEvent.objects.filter(object_type="releases.release")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["release.request", "release.approve", "release.approved", "release.queued"]


def test_the_requester_cannot_approve_their_own_release(staging, image, manager):
    release = services.request_release(staging, image=image, actor=manager)
    with pytest.raises(ForbiddenError, match="four-eyes"):
        services.approve(release, actor=manager)
    assert not Approval.objects.exists()


def test_self_approval_when_the_environment_allows_it(staging, image, manager):
    staging.allow_self_approval = True
    staging.save()
    release = services.request_release(staging, image=image, actor=manager)
    services.approve(release, actor=manager)
    release.refresh_from_db()
    assert release.state == "queued"


def test_an_approval_counts_once_per_person(application, image, scientist, manager, make_user):
    prod = environment(application, "prod", actor=manager, required_approvals=2)
    release = services.request_release(prod, image=image, actor=scientist)
    services.approve(release, actor=manager)
    with pytest.raises(ConflictError, match="once per person"):
        services.approve(release, actor=manager)
    release.refresh_from_db()
    assert release.state == "requested"
    services.approve(release, actor=make_user("manager2", "release-manager"))
    release.refresh_from_db()
    assert release.state == "queued"


def test_only_the_approver_group_may_approve(staging, image, scientist, make_user):
    outsider = make_user("ds2", "data-scientist")
    release = services.request_release(staging, image=image, actor=scientist)
    with pytest.raises(ForbiddenError):
        services.approve(release, actor=outsider)


def test_approvals_lapse_when_the_candidate_changes(application, churn_model, scientist, manager, make_user):
    prod = environment(application, "prod", actor=manager, required_approvals=2)
    version = churn_model.versions.get()
    release = services.request_release(prod, image=candidate(application, version, "one"), actor=scientist)
    services.approve(release, actor=manager)
    services.change_candidate(release, image=candidate(application, version, "two"), actor=scientist)
    release.refresh_from_db()
    assert services.valid_approvals(release).count() == 0
    services.approve(release, actor=make_user("manager2", "release-manager"))
    release.refresh_from_db()
    assert release.state == "requested"  # one valid approval of two: the old one was for another digest


def test_old_approvals_expire_before_deploying(staging, image, scientist, manager):
    release = services.request_release(staging, image=image, actor=scientist)
    services.approve(release, actor=manager)
    Approval.objects.update(created_at=timezone.now() - timedelta(hours=staging.approval_validity_hours + 1))
    assert deployer.claim_next(staging.pk) is None
    release.refresh_from_db()
    assert release.state == "expired" and "lapsed" in release.state_reason


def test_reject_and_cancel(staging, image, scientist, manager, make_user):
    rejected = services.request_release(staging, image=image, actor=scientist)
    services.reject(rejected, actor=manager, comment="not tonight")
    rejected.refresh_from_db()
    assert (rejected.state, rejected.state_reason) == ("rejected", "not tonight")
    mine = services.request_release(staging, image=image, actor=scientist)
    with pytest.raises(ForbiddenError):
        services.cancel(mine, actor=make_user("ds2", "data-scientist"))
    services.cancel(mine, actor=scientist)
    mine.refresh_from_db()
    assert mine.state == "cancelled"
    with pytest.raises(ConflictError):
        services.cancel(mine, actor=scientist)


def test_a_blocked_model_version_cannot_be_released(staging, image, scientist, churn_model):
    model_services.change_status(churn_model.versions.get(), "blocked", reason="leaks", actor=scientist)
    image.refresh_from_db()
    with pytest.raises(ConflictError, match="blocked"):
        services.request_release(staging, image=image, actor=scientist)


def test_promotion_needs_success_in_the_previous_environment_and_soak_time(
    application, staging, image, scientist, manager
):
    prod = environment(application, "prod", actor=manager, previous=staging, soak_minutes=30)
    with pytest.raises(ConflictError, match="not been released successfully to staging"):
        services.request_release(prod, image=image, actor=scientist)
    mark_succeeded(services.request_release(staging, image=image, actor=scientist))
    Release.objects.update(finished_at=timezone.now() - timedelta(minutes=31))
    released = services.request_release(prod, image=image, actor=scientist)
    assert released.state == "requested" and released.scheduled_for is None


def test_a_release_requested_while_its_candidate_soaks_is_approved_then_waits_for_the_soak_to_end(
    application, staging, image, scientist, manager, make_user
):
    prod = environment(application, "prod", actor=manager, previous=staging, soak_minutes=30)
    passed = services.request_release(staging, image=image, actor=scientist)
    mark_succeeded(passed)
    Release.objects.filter(pk=passed.pk).update(finished_at=timezone.now() - timedelta(minutes=7))
    soaked_at = Release.objects.get(pk=passed.pk).finished_at + timedelta(minutes=30)

    release = services.request_release(prod, image=image, actor=scientist)
    assert (release.state, release.scheduled_for) == ("requested", soaked_at)
    assert waiting.reasons([release])[release.pk][-1] == "soak: 23 min left in staging"
    services.approve(release, actor=manager)
    release.refresh_from_db()
    assert release.state == "scheduled"  # approved, and not deployed before the soak ends
    assert waiting.reasons([release])[release.pk] == ["soak: 23 min left in staging"]
    jobs.tick()
    assert Release.objects.get(pk=release.pk).state == "scheduled"

    Release.objects.filter(pk=passed.pk).update(finished_at=timezone.now() - timedelta(minutes=31))
    Release.objects.filter(pk=release.pk).update(scheduled_for=timezone.now() - timedelta(minutes=1))
    jobs.tick()
    assert Release.objects.get(pk=release.pk).state in ("queued", "deploying", "succeeded")
    # A schedule takes its next slot instead of holding a release for the soak.
    other = candidate(application, image.model_version, "img-b")
    mark_succeeded(services.request_release(staging, image=other, actor=scientist))
    schedule = Schedule.objects.create(environment=prod, cron="0 2 * * *", owner=make_user("owner"))
    with pytest.raises(ConflictError, match="soak time"):
        services.request_release(prod, image=other, actor=scientist, schedule=schedule)


def test_one_deployment_at_a_time_in_order(staging, application, churn_model, scientist, manager):
    version = churn_model.versions.get()
    first = services.request_release(staging, image=candidate(application, version, "first"), actor=scientist)
    second = services.request_release(
        staging, image=candidate(application, version, "second"), actor=scientist
    )
    services.approve(first, actor=manager)
    services.approve(second, actor=manager)
    claimed = deployer.claim_next(staging.pk)
    assert claimed.pk == first.pk and claimed.state == "deploying"
    Release.objects.filter(pk=first.pk).update(lease_owner="another-worker")
    assert deployer.claim_next(staging.pk) is None  # the environment is busy
    second.refresh_from_db()
    assert second.state == "queued"


class TestFreeze:
    @pytest.fixture
    def frozen(self, staging, manager):
        now = timezone.now()
        services.add_freeze_window(
            staging,
            {"reason": "black friday", "start": now - timedelta(hours=1), "end": now + timedelta(hours=1)},
            actor=manager,
        )
        return staging

    def test_a_deploy_waits_during_a_freeze(self, frozen, image, scientist, manager):
        release = services.request_release(frozen, image=image, actor=scientist)
        services.approve(release, actor=manager)
        assert deployer.claim_next(frozen.pk) is None
        release.refresh_from_db()
        assert release.state == "queued" and "frozen" in release.state_reason

    def test_rollbacks_deploy_during_a_freeze(
        self, frozen, application, churn_model, scientist, manager, oncall
    ):
        version = churn_model.versions.get()
        old = mark_succeeded(
            services.request_release(frozen, image=candidate(application, version, "old"), actor=scientist)
        )
        Release.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=2))
        mark_succeeded(
            services.request_release(frozen, image=candidate(application, version, "new"), actor=scientist)
        )
        rollback = services.rollback(frozen, actor=oncall, reason="errors")
        claimed = deployer.claim_next(frozen.pk)
        assert claimed.pk == rollback.pk and claimed.digest == old.digest

    def test_break_glass_is_for_admins_and_audited(self, frozen, image, scientist, manager, admin_user):
        release = services.request_release(frozen, image=image, actor=scientist)
        services.approve(release, actor=manager)
        with pytest.raises(ForbiddenError):
            services.allow_break_glass(release, actor=manager, reason="hotfix")
        services.allow_break_glass(release, actor=admin_user, reason="payment outage hotfix")
        assert deployer.claim_next(frozen.pk).pk == release.pk
        assert AuditEvent.objects.filter(
            action="release.break_glass", actor_name=admin_user.username
        ).exists()

    def test_invalid_freeze_windows_are_refused(self, staging, manager):
        from core.errors import ServiceError

        now = timezone.now()
        with pytest.raises(ServiceError, match="Invalid freeze window"):
            services.add_freeze_window(
                staging, {"reason": "x", "start": now, "end": now - timedelta(hours=1)}, actor=manager
            )
        with pytest.raises(ServiceError, match="Invalid freeze window"):
            services.add_freeze_window(
                staging, {"reason": "x", "cron": "61 * * * *", "duration_minutes": 10}, actor=manager
            )


def test_a_release_queued_while_another_deploys_gets_its_own_run(
    staging, application, churn_model, scientist, manager
):
    version = churn_model.versions.get()
    first = services.request_release(staging, image=candidate(application, version, "first"), actor=scientist)
    services.approve(first, actor=manager)
    JobRun.objects.filter(name="releases.jobs.process_environment").update(
        status="running"
    )  # it is deploying
    second = services.request_release(
        staging, image=candidate(application, version, "second"), actor=scientist
    )
    services.approve(second, actor=manager)
    waiting = JobRun.objects.filter(name="releases.jobs.process_environment", status="queued")
    assert waiting.count() == 1  # the running one may already have looked for queued releases
    services.kick(staging)
    assert waiting.count() == 1  # but waiting runs are not piled up


def test_a_release_scheduled_for_later_waits_for_its_time(staging, image, scientist, manager):
    from releases import jobs

    release = services.request_release(
        staging, image=image, actor=scientist, scheduled_for=timezone.now() + timedelta(hours=3)
    )
    services.approve(release, actor=manager)
    release.refresh_from_db()
    assert release.state == "scheduled"
    jobs.tick()
    release.refresh_from_db()
    assert release.state == "scheduled"  # not yet
    Release.objects.filter(pk=release.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))
    jobs.tick()
    release.refresh_from_db()
    assert release.state == "queued"


def test_a_scheduled_time_in_the_past_is_refused(staging, image, scientist):
    from core.errors import ServiceError

    with pytest.raises(ServiceError, match="in the past"):
        services.request_release(
            staging, image=image, actor=scientist, scheduled_for=timezone.now() - timedelta(minutes=1)
        )
    assert not Release.objects.exists()


def test_the_candidate_changes_through_the_api_and_the_page(
    api, client, staging, application, churn_model, scientist, manager, make_user
):
    from builds.models import Build

    version = churn_model.versions.get()
    release = services.request_release(staging, image=candidate(application, version, "one"), actor=scientist)
    other = Build.objects.get(image=candidate(application, version, "two"))
    api.force_authenticate(make_user("ds2", "data-scientist"))
    assert (
        api.post(f"/api/v1/releases/{release.pk}/candidate/", {"build": other.pk}, format="json").status_code
        == 403
    )
    api.force_authenticate(scientist)
    changed = api.post(f"/api/v1/releases/{release.pk}/candidate/", {"build": other.pk}, format="json")
    assert changed.status_code == 200 and changed.json()["digest"] == other.image.digest
    assert (
        api.post(f"/api/v1/releases/{release.pk}/candidate/", {"build": 999999}, format="json").status_code
        == 404
    )
    third = Build.objects.get(image=candidate(application, version, "three"))
    client.force_login(scientist)
    client.post(f"/releases/{release.pk}/candidate/", {"build": third.pk})
    release.refresh_from_db()
    assert (release.digest, release.build) == (third.image.digest, third)
    assert AuditEvent.objects.filter(action="release.change_candidate").count() == 2
