"""The release forms suggest the newest builds and accept any one by number or commit prefix."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builds.models import Build
from releases.models import Release
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(application, manager):
    return environment(application, "staging", actor=manager)


def make_builds(application, version, count, start=0):
    return [candidate(application, version, f"cand-{i}").builds.get() for i in range(start, start + count)]


def suggested(html: str) -> list[int]:
    """Build numbers offered in the page's (or fragment's) suggestions, in order."""
    return [int(n) for n in re.findall(r'<option value="#(\d+) · ', html)]


def test_the_request_form_offers_the_newest_20_builds_and_no_list_of_all(
    client, application, churn_model, staging, manager
):
    builds = make_builds(application, churn_model.versions.get(), 3)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/environments/{staging.pk}/")
    builds += make_builds(application, churn_model.versions.get(), 30, start=3)

    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/environments/{staging.pk}/").content.decode()

    assert suggested(page) == [b.pk for b in builds[::-1][:20]]
    assert '<select name="build"' not in page
    assert len(many) == len(few)


def test_older_builds_are_found_by_number_commit_version_or_digest(
    client, application, churn_model, staging, manager
):
    builds = make_builds(application, churn_model.versions.get(), 25)
    oldest = builds[0]
    client.force_login(manager)
    url = f"/environments/{staging.pk}/candidates/"

    assert suggested(client.get(url, {"build": f"#{oldest.pk}"}).content.decode()) == [oldest.pk]
    assert suggested(client.get(url, {"build": oldest.commit[:8]}).content.decode()) == [oldest.pk]
    digest = oldest.image.digest[:20]
    assert suggested(client.get(url, {"build": digest}).content.decode()) == [oldest.pk]
    assert len(suggested(client.get(url, {"build": "v1"}).content.decode())) == 20
    assert suggested(client.get(url, {"build": "no such thing"}).content.decode()) == []


def test_a_failed_or_foreign_build_is_never_suggested(client, application, churn_model, staging, manager):
    good = make_builds(application, churn_model.versions.get(), 1)[0]
    failed = make_builds(application, churn_model.versions.get(), 1, start=1)[0]
    Build.objects.filter(pk=failed.pk).update(state=Build.State.FAILED)
    client.force_login(manager)
    page = client.get(f"/environments/{staging.pk}/candidates/").content.decode()
    assert suggested(page) == [good.pk]


@pytest.mark.parametrize("typed", ["#{pk}", "{pk}", "{label}", "{commit}"])
def test_an_old_build_is_requested_by_what_people_type(
    client, application, churn_model, staging, scientist, typed
):
    builds = make_builds(application, churn_model.versions.get(), 25)
    oldest = builds[0]
    label = f"#{oldest.pk} · {oldest.commit[:10]} · churn-model v1 · {oldest.image.digest[:19]}"
    value = typed.format(pk=oldest.pk, label=label, commit=oldest.commit[:9])
    client.force_login(scientist)

    response = client.post(f"/environments/{staging.pk}/", {"build": value, "note": ""})

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Release.objects.get().build == oldest


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("#999999", "Build #999999 is not a succeeded build of this application."),
        ("abc", "Type a build number (#12) or a commit prefix (7+ hex digits), or pick a suggestion."),
        ("", "This field is required."),
        ("fffffff", "No succeeded build of this application has a commit starting with fffffff."),
    ],
)
def test_what_names_no_build_is_a_form_error(
    client, application, churn_model, staging, scientist, typed, error
):
    make_builds(application, churn_model.versions.get(), 1)
    client.force_login(scientist)
    response = client.post(f"/environments/{staging.pk}/", {"build": typed, "note": ""})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Release.objects.exists()


def test_a_commit_with_several_builds_asks_for_the_number(
    client, application, churn_model, staging, scientist
):
    from models_registry import services as model_services
    from tests.fixtures.apps import sample_model_bytes
    from tests.registry.helpers import upload

    v1 = churn_model.versions.get()
    v2, _ = model_services.register_uploaded_version(
        churn_model, upload(sample_model_bytes(2)), model_services.VersionInfo(metrics={}), actor=scientist
    )
    first = make_builds(application, v1, 1)[0]
    second = candidate(application, v2, "same-commit-v2").builds.get()
    Build.objects.filter(pk=second.pk).update(commit=first.commit)
    client.force_login(scientist)

    response = client.post(f"/environments/{staging.pk}/", {"build": first.commit[:7], "note": ""})

    page = response.content.decode()
    assert f"Commit {first.commit[:7]} has several succeeded builds: " in page
    assert f"#{first.pk} (churn-model v1)" in page and f"#{second.pk} (churn-model v2)" in page


def test_the_candidate_of_a_waiting_release_changes_to_an_old_build(
    client, application, churn_model, staging, scientist
):
    from releases import services

    builds = make_builds(application, churn_model.versions.get(), 25)
    release = services.request_release(staging, build=builds[-1], actor=scientist)
    client.force_login(scientist)
    page = client.get(f"/releases/{release.pk}/").content.decode()
    assert f'value="#{builds[-1].pk}"' in page and len(suggested(page)) == 20

    client.post(f"/releases/{release.pk}/candidate/", {"build": f"#{builds[0].pk}"})

    release.refresh_from_db()
    assert release.build == builds[0]
