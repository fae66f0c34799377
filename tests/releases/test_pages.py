from __future__ import annotations

import pytest

from releases import services
from tests.releases.helpers import candidate, environment, mark_succeeded

pytestmark = pytest.mark.django_db


def add_releases(env, application, version, actor, count, start=0):
    for i in range(start, start + count):
        mark_succeeded(
            services.request_release(env, image=candidate(application, version, f"img-{i}"), actor=actor)
        )


def test_release_pages_keep_their_query_count_as_releases_grow(
    client, application, churn_model, manager, scientist, django_assert_max_num_queries
):
    env = environment(application, "staging", actor=manager, required_approvals=2)
    version = churn_model.versions.get()
    add_releases(env, application, version, scientist, 3)
    pending = services.request_release(env, image=candidate(application, version, "pending"), actor=scientist)
    client.force_login(manager)
    pages = [
        "/",
        f"/environments/{env.pk}/",
        "/releases/",
        "/approvals/",
        f"/applications/{application.name}/",
    ]
    counts = {}
    for url in pages:
        with django_assert_max_num_queries(40) as captured:
            assert client.get(url).status_code == 200
        counts[url] = len(captured)
    add_releases(env, application, version, scientist, 25, start=3)
    for url in pages:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200, url
    assert pending.pk


def test_the_release_page_shows_the_difference_from_what_runs(
    client, application, churn_model, manager, scientist
):
    from models_registry import services as model_services
    from tests.fixtures.apps import sample_model_bytes
    from tests.registry.helpers import upload

    env = environment(application, "staging", actor=manager)
    v1 = churn_model.versions.get()
    model_services.change_status(v1, "active", actor=scientist)
    v1.metrics = {"auc": 0.8}
    v1.save()
    v2, _ = model_services.register_uploaded_version(
        churn_model,
        upload(sample_model_bytes(2)),
        model_services.VersionInfo(metrics={"auc": 0.86}),
        actor=scientist,
    )
    mark_succeeded(services.request_release(env, image=candidate(application, v1, "one"), actor=scientist))
    release = services.request_release(env, image=candidate(application, v2, "two"), actor=scientist)
    client.force_login(manager)
    page = client.get(f"/releases/{release.pk}/").content.decode()
    assert "churn-model v1" in page and "churn-model v2" in page
    assert "0.06" in page  # the auc delta
    diff = client.get(f"/api/v1/releases/{release.pk}/diff/").json()
    assert diff["model_version"] == {"from": "churn-model v1", "to": "churn-model v2", "changed": True}
    assert diff["metrics"] == [{"metric": "auc", "from": 0.8, "to": 0.86, "delta": pytest.approx(0.06)}]


def test_bad_schedule_and_freeze_forms_explain_themselves(client, application, manager):
    from releases.models import FreezeWindow, Schedule

    env = environment(application, "staging", actor=manager)
    client.force_login(manager)
    page = client.post(
        f"/environments/{env.pk}/schedule/",
        {
            "cron": "61 2 * * *",
            "timezone": "UTC",
            "policy": "latest-build",
            "grace_minutes": 60,
            "prepare_minutes": 0,
        },
        follow=True,
    )
    assert "minute field" in page.content.decode()
    page = client.post(
        f"/environments/{env.pk}/freeze/",
        {"reason": "x", "timezone": "UTC", "duration_minutes": "-5"},
        follow=True,
    )
    assert "Freeze window not saved: duration_minutes:" in page.content.decode()
    assert not Schedule.objects.exists() and not FreezeWindow.objects.exists()
