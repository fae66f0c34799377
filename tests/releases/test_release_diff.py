"""The commits a release brings come from the lists builds recorded: no git in the request."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from django.utils import timezone

from builds import gitwork
from builds import services as build_services
from builds.models import Build, Image
from releases import services
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db


def built(application, sha: str, *, record: bool = True) -> Image:
    """A succeeded build of ``sha`` that recorded its commit list from the real repository."""
    version = application.model.versions.get()
    digest = "sha256:" + hashlib.sha256(sha.encode()).hexdigest()
    image = Image.objects.create(
        repository=application.image_repository,
        digest=digest,
        reference=f"localhost/{application.image_repository}@{digest}",
        application=application,
        model_version=version,
        commit=sha,
    )
    build = Build.objects.create(
        application=application,
        commit=sha,
        requested_ref=sha,
        model_version=version,
        state=Build.State.SUCCEEDED,
        image=image,
        image_tag=sha[:12],
        finished_at=timezone.now(),
    )
    if record:
        build_services.record_history(build, gitwork.read_history(build), actor="job:test")
    return image


@pytest.fixture
def staging(application, manager):
    return environment(application, "staging", actor=manager)


def release_of(env, image, scientist, *, running: bool = False):
    release = services.request_release(env, image=image, actor=scientist)
    return mark_succeeded(release) if running else release


def subjects(diff):
    return [c["subject"] for c in diff["commits"]]


def test_the_diff_lists_the_commits_since_what_runs_without_git(
    client, application, app_repo, staging, scientist, manager, settings
):
    release_of(staging, built(application, app_repo.head), scientist, running=True)
    app_repo.commit("Add a feature")
    app_repo.commit("Fix the feature")
    release = release_of(staging, built(application, app_repo.head), scientist)
    # Neither the repository nor the worker's mirror is needed any more.
    shutil.rmtree(app_repo.path)
    shutil.rmtree(settings.GIT_CACHE_DIR)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert subjects(diff) == ["Fix the feature", "Add a feature"]
    assert (diff["commits_truncated"], diff["commits_note"], diff["commits_error"]) == (False, "", "")
    assert diff["commits"][0]["author"] == "Dev"
    page = client.get(f"/releases/{release.pk}/").content.decode()
    assert "Fix the feature" in page and "Add a feature" in page and "initial commit" not in page


def test_with_nothing_running_the_whole_recorded_history_is_listed(
    client, application, app_repo, staging, scientist, manager
):
    app_repo.commit("Second")
    release = release_of(staging, built(application, app_repo.head), scientist)
    client.force_login(manager)
    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()
    assert subjects(diff) == ["Second", "initial commit"]


def test_a_change_longer_than_the_recorded_list_says_so(
    client, application, app_repo, staging, scientist, manager, settings
):
    settings.BUILD_HISTORY_COMMITS = 3
    release_of(staging, built(application, app_repo.head), scientist, running=True)
    for i in range(5):
        app_repo.commit(f"change {i}")
    release = release_of(staging, built(application, app_repo.head), scientist)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert subjects(diff) == ["change 4", "change 3", "change 2"]
    assert (diff["commits_truncated"], diff["commits_note"]) == (True, "3+ commits, older ones not listed")
    assert "3+ commits, older ones not listed" in client.get(f"/releases/{release.pk}/").content.decode()


def test_an_older_candidate_says_how_many_commits_it_takes_out(
    client, application, app_repo, staging, scientist, manager
):
    old = built(application, app_repo.head)
    app_repo.commit("one")
    app_repo.commit("two")
    release_of(staging, built(application, app_repo.head), scientist, running=True)
    release = release_of(staging, old, scientist)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert diff["commits"] == []
    assert diff["commits_note"] == "The candidate is older than what runs: it takes out 2 commits."


def test_a_candidate_from_another_branch_lists_what_what_runs_lacks(
    client, application, app_repo, staging, scientist, manager
):
    base = app_repo.head
    app_repo.git("checkout", "-q", "-b", "hotfix")
    running = app_repo.commit("Hotfix")
    app_repo.git("checkout", "-q", "main")
    app_repo.commit("Feature")
    release_of(staging, built(application, running), scientist, running=True)
    release = release_of(staging, built(application, app_repo.head), scientist)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert subjects(diff) == ["Feature"]
    assert diff["commits_note"] == (
        f"What runs ({running[:10]}) is on another branch; listed: the candidate's commits it lacks."
    )
    assert base not in [c["sha"] for c in diff["commits"]]


def test_a_candidate_no_build_recorded_explains_why_there_is_no_list(
    client, application, churn_model, staging, scientist, manager
):
    image = candidate(application, churn_model.versions.get(), "found-by-tag-sync")
    release = release_of(staging, image, scientist)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert diff["commits"] == []
    assert (
        diff["commits_error"]
        == f"commits unavailable: no build of {image.commit[:10]} recorded its commit list"
    )
    assert "No code change." not in client.get(f"/releases/{release.pk}/").content.decode()


def test_what_runs_without_a_list_is_found_in_the_candidates_list(
    client, application, app_repo, staging, scientist, manager
):
    release_of(staging, built(application, app_repo.head, record=False), scientist, running=True)
    app_repo.commit("Add a feature")
    release = release_of(staging, built(application, app_repo.head), scientist)
    client.force_login(manager)

    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()

    assert subjects(diff) == ["Add a feature"]
    assert (diff["commits_note"], diff["commits_error"]) == ("", "")
