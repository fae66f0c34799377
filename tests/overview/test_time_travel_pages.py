"""The timeline, time travel and diff pages, and where a model version ran, as people see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from releases.models import RunPeriod
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment
from tests.releases.test_history import go_out

pytestmark = pytest.mark.django_db


@pytest.fixture
def ran(application, churn_model):
    version = churn_model.versions.get()
    staging = environment(application, "staging", actor=SETUP, required_approvals=0, order=1)
    prod = environment(
        application, "prod", actor=SETUP, required_approvals=0, order=2, target_config={"port": 18120}
    )
    first = go_out(staging, candidate(application, version, "one"))
    second = go_out(staging, candidate(application, version, "two"))
    RunPeriod.objects.filter(release=first).update(
        started_at=timezone.now() - timedelta(hours=5), ended_at=timezone.now() - timedelta(hours=2)
    )
    RunPeriod.objects.filter(release=second).update(started_at=timezone.now() - timedelta(hours=2))
    return staging, prod, first, second


def test_the_timeline_draws_a_band_per_environment_and_answers_what_ran_when(
    client, scientist, application, ran
):
    _staging, _prod, first, second = ran
    client.force_login(scientist)
    at = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

    page = client.get(f"/applications/{application.name}/timeline/", {"days": "1", "at": at}).content.decode()

    assert page.count('class="band"') == 2
    assert page.count('class="segment') == 2
    assert f"release #{first.pk} · churn-model v1" in page  # the hover text
    assert f'href="/releases/{first.pk}/"' in page and f'href="/releases/{second.pk}/"' in page
    assert "segment hue-0 at" in page  # the segment running at the instant is marked
    assert f'<a href="/releases/{first.pk}/">release #{first.pk}</a>' in page
    assert "nothing had run here yet" in page  # prod, at that instant
    assert "data-local" in page and " UTC" in page


def test_a_bad_instant_on_the_timeline_is_said_not_a_500(client, scientist, application, ran):
    client.force_login(scientist)
    page = client.get(f"/applications/{application.name}/timeline/", {"at": "last tuesday"})
    assert page.status_code == 200
    assert "must be an ISO 8601 date-time" in page.content.decode()
    future = client.get(f"/applications/{application.name}/timeline/", {"at": "2999-01-01T00:00Z"})
    assert "in the future" in future.content.decode()
    # Before year 1 in UTC: it cannot even be shown in the reader's time zone.
    ancient = client.get(f"/applications/{application.name}/timeline/", {"at": "0001-01-01T00:00:00+01:00"})
    assert ancient.status_code == 200 and "before 1970" in ancient.content.decode()


def test_the_diff_page(client, scientist, application, ran):
    staging, prod, first, second = ran
    go_out(prod, first.image)
    client.force_login(scientist)

    page = client.get("/environments/diff/", {"from": prod.pk, "to": staging.pk}).content.decode()

    assert "From churn-predictor/prod" in page and "To churn-predictor/staging" in page
    assert first.digest in page and second.digest in page
    assert f'href="/releases/{second.pk}/"' in page
    assert client.get("/environments/diff/", {"from": prod.pk, "to_at": "nonsense"}).status_code == 400
    ancient = client.get("/environments/diff/", {"from": prod.pk, "from_at": "0001-01-01T00:00:00+01:00"})
    assert ancient.status_code == 400 and "before 1970" in ancient.content.decode()
    assert client.get("/environments/diff/", {"from": 999999}).status_code == 404
    assert client.get("/environments/diff/").status_code == 400


def test_the_version_page_says_where_the_version_ran(client, scientist, application, ran, churn_model):
    _staging, _, first, second = ran
    client.force_login(scientist)
    page = client.get("/models/churn-model/versions/1/").content.decode()
    assert "Where did this version run" in page
    assert (
        f'href="/releases/{first.pk}/">#{first.pk}' in page
        and f'href="/releases/{second.pk}/">#{second.pk}' in page
    )
    assert "still runs" in page


def test_the_timeline_reads_the_same_number_of_queries_whatever_the_number_of_environments(
    client, scientist, application, ran
):
    client.force_login(scientist)
    at = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"/applications/{application.name}/timeline/"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, {"at": at}).status_code == 200
        return len(captured)

    two = queries()
    for n in range(3):
        environment(application, f"extra-{n}", actor=SETUP, order=3 + n)
    assert queries() == two


def test_the_timeline_draws_only_the_newest_periods_of_a_busy_environment_and_says_so(
    client, scientist, application, ran, monkeypatch
):
    monkeypatch.setattr("overview.history_views.SEGMENTS_PER_ENVIRONMENT", 1)
    _staging, _prod, first, second = ran
    client.force_login(scientist)

    page = client.get(f"/applications/{application.name}/timeline/").content.decode()

    assert page.count('class="segment') == 1
    assert f'href="/releases/{second.pk}/"' in page and f'href="/releases/{first.pk}/"' not in page
    assert page.count("Only the newest 1 releases are drawn") == 1  # staging; prod ran nothing
