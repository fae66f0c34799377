"""Credentials never sit in repository URLs: refused there, read by workers from a file, hidden in the trail."""

from __future__ import annotations

import pytest

from builds.models import Application, Build
from core.models import AuditEvent
from tests.releases.conftest import run_jobs
from tests.support.git_http import private_git_host

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "https://bot:ghp_s3cret@github.com/team/churn.git",
        "https://ghp_s3cret@github.com/team/churn.git",  # a token sent as the user name
        "ssh://git:s3cret@host/team/churn.git",
    ],
)
def test_a_repository_url_with_credentials_is_refused(api, manager, application, url):
    api.force_authenticate(manager)
    response = api.patch(f"/api/v1/applications/{application.name}/", {"repository_url": url}, format="json")
    assert response.status_code == 400
    assert "Put no user name, password or token in the URL" in response.json()["detail"]
    assert "s3cret" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="application.update").exists()


@pytest.mark.parametrize(
    "url",
    ["https://github.com/team/churn.git", "git@github.com:team/churn.git", "ssh://git@host/team/churn.git"],
)
def test_ordinary_repository_urls_are_accepted(api, manager, application, url):
    api.force_authenticate(manager)
    assert (
        api.patch(
            f"/api/v1/applications/{application.name}/", {"repository_url": url}, format="json"
        ).status_code
        == 200
    )


@pytest.fixture
def private_repo(app_repo, tmp_path):
    """The sample app's repository behind a git host that wants a token."""
    served = tmp_path / "served"
    served.mkdir()
    app_repo.git("clone", "-q", "--bare", str(app_repo.path), str(served / "churn.git"))
    with private_git_host(served, user="builder", token="s3cret-token") as base:
        yield f"{base}/churn.git"


def test_a_worker_builds_a_private_repository_with_its_credentials_file(
    api, manager, application, app_repo, private_repo, tmp_path, monkeypatch
):
    Application.objects.filter(pk=application.pk).update(repository_url=private_repo)
    api.force_authenticate(manager)
    api.post("/api/v1/builds/", {"application": application.name}, format="json")
    run_jobs("builds.jobs.run_build")
    refused = Build.objects.get()
    assert refused.state == "failed" and "refused" in refused.failure_reason.lower()

    credentials = tmp_path / "git-credentials"
    credentials.write_text(
        f"{private_repo.split('//')[0]}//builder:s3cret-token@{private_repo.split('//')[1].split('/')[0]}\n"
    )
    monkeypatch.setenv("GIT_CREDENTIALS_FILE", str(credentials))
    api.post(f"/api/v1/builds/{refused.pk}/retry/", {}, format="json")
    run_jobs("builds.jobs.run_build")

    built = Build.objects.order_by("-pk").first()
    assert (built.state, built.commit) == ("succeeded", app_repo.head), built.failure_reason
    assert "s3cret-token" not in built.log


def test_credentials_recorded_before_they_were_refused_are_not_shown(api, client, admin_user, application):
    AuditEvent.objects.create(
        actor_name="manager",
        action="application.update",
        object_type="builds.application",
        object_id=str(application.pk),
        object_repr=application.name,
        before={"repository_url": "https://github.com/team/churn.git"},
        after={"repository_url": "https://bot:ghp_s3cret@github.com/team/churn.git"},
    )
    api.force_authenticate(admin_user)
    shown = api.get("/api/v1/audit/", {"action": "application.update"}).json()["results"][0]
    assert shown["after"] == {"repository_url": "https://github.com/team/churn.git"}
    client.force_login(admin_user)
    page = client.get("/audit/").content.decode()
    assert "ghp_s3cret" not in page and "github.com/team/churn.git" in page


def test_the_upgrade_strips_credentials_from_stored_urls(application):
    from importlib import import_module

    from django.apps import apps

    Application.objects.filter(pk=application.pk).update(repository_url="https://bot:tok@github.com/t/c.git")
    import_module("builds.migrations.0006_strip_repository_credentials").strip(apps, None)

    application.refresh_from_db()
    assert application.repository_url == "https://github.com/t/c.git"
    event = AuditEvent.objects.get(action="application.credentials_removed")
    assert event.before == {"repository_url": "changed"} and "tok" not in str(event.after)
