"""DORA over the API and on its page: figures with numerator and denominator, a daily series, a chart."""

from __future__ import annotations

import pytest
from django.utils import timezone

from releases.models import Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment
from tests.releases.test_history import go_out

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(application, churn_model):
    version = churn_model.versions.get()
    staging = environment(application, "staging", actor=SETUP, required_approvals=0, order=1)
    prod = environment(
        application, "prod", actor=SETUP, required_approvals=0, order=2, target_config={"port": 18130}
    )
    go_out(staging, candidate(application, version, "one"))
    go_out(staging, candidate(application, version, "two"))
    Release.objects.create(
        environment=staging,
        image=candidate(application, version, "bad"),
        digest="sha256:" + "b" * 64,
        state=Release.State.FAILED,
        finished_at=timezone.now(),
    )
    return staging, prod


def test_the_api_answers_per_environment_with_what_each_figure_is_made_of(
    api, scientist, application, history
):
    api.force_authenticate(scientist)

    body = api.get("/api/v1/metrics/dora/", {"application": application.name, "days": 7}).json()

    assert [entry["environment"] for entry in body] == ["staging", "prod"]
    staging = body[0]
    assert staging["deployment_frequency"] == {
        "value": pytest.approx(2 / 7, abs=0.001),
        "numerator": 2,
        "denominator": 7,
        "unit": "deployments per day",
    }
    assert staging["change_failure_rate"]["numerator"] == 1
    assert staging["change_failure_rate"]["denominator"] == 3
    assert len(staging["daily"]) == 8 and sum(d["deployments"] for d in staging["daily"]) == 2
    assert (
        body[1]["deployment_frequency"]["numerator"] == 0 and body[1]["change_failure_rate"]["value"] is None
    )
    only = api.get("/api/v1/metrics/dora/", {"application": application.name, "environment": "prod"}).json()
    assert [entry["environment"] for entry in only] == ["prod"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 400, "application"),
        ({"application": "churn-predictor", "days": "0"}, 400, "days"),
        ({"application": "churn-predictor", "days": "many"}, 400, "days"),
        ({"application": "churn-predictor", "days": "366"}, 400, "days"),
        ({"application": "no-such-app"}, 404, None),
        ({"application": "churn-predictor", "environment": "nope"}, 404, None),
    ],
)
def test_bad_parameters_say_what_is_wrong(api, scientist, history, params, status, field):
    api.force_authenticate(scientist)
    response = api.get("/api/v1/metrics/dora/", params)
    assert response.status_code == status and response.json()["detail"]
    assert response.json().get("field") == field


def test_the_page_shows_the_figures_beside_a_chart(client, scientist, application, history):
    client.force_login(scientist)
    page = client.get("/metrics/dora/", {"application": application.name, "days": "7"}).content.decode()
    assert page.count('<svg class="chart"') == 2
    assert "2 deployments ÷ 7 days" in page
    assert "1 failed or rolled back ÷ 3 finished" in page
    assert '<rect class="deployed"' in page and '<rect class="failed"' in page
    assert "2 deployments, 1 failure" in page  # today's bar, as its hover title
    bad = client.get("/metrics/dora/", {"application": application.name, "days": "0"})
    assert bad.status_code == 400 and "days must be" in bad.content.decode()
    assert client.get("/metrics/dora/").status_code == 200
