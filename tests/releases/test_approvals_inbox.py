"""The approvals inbox: constant queries however many releases wait, 50 at a time."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from releases import services
from releases.inbox import approval_refusals
from releases.models import Release
from tests.releases.conftest import SETUP
from tests.releases.helpers import candidate, environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def environments(application, manager):
    reviewers = Group.objects.create(name="Prod reviewers")
    return [
        environment(application, "staging", actor=manager),  # approvers: release managers
        environment(application, "prod", actor=manager, approver_group=reviewers),
        environment(application, "dev", actor=SETUP, approver_group=None, allow_self_approval=True),
    ]


def request_many(environments, version, requesters, count, start=0):
    for i in range(start, start + count):
        image = candidate(environments[0].application, version, f"inbox-{i}")
        env = environments[i % len(environments)]
        services.request_release(env, image=image, actor=requesters[i % len(requesters)])


def inbox_queries(client, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/approvals/", params)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_inbox_runs_as_many_queries_for_40_waiting_releases_as_for_3(
    client, environments, churn_model, scientist, manager
):
    version = churn_model.versions.get()
    request_many(environments, version, [scientist, manager], 3)
    client.force_login(manager)
    few, page = inbox_queries(client)
    assert page.count(">Approve</button>") == 2  # staging by the scientist; dev allows self-approval
    request_many(environments, version, [scientist, manager], 37, start=3)

    many, page = inbox_queries(client)

    assert many == few
    assert page.count("<tr>") == 1 + 40
    assert page.count("come from the Prod reviewers group.") == 13
    assert page.count("someone else has to approve it (four-eyes).") == 7  # staging, asked by the manager
    assert page.count(">Approve</button>") == 40 - 13 - 7


def test_the_inbox_shows_50_waiting_releases_at_a_time(client, environments, churn_model, scientist, manager):
    request_many(environments[:1], churn_model.versions.get(), [scientist], 53)
    client.force_login(manager)
    first = client.get("/approvals/").content.decode()
    second = client.get("/approvals/", {"page": 2}).content.decode()
    assert first.count(">Approve</button>") == 50 and "Releases 1\u201350 of 53" in first
    assert second.count(">Approve</button>") == 3 and "Releases 51\u201353 of 53" in second
    oldest = Release.objects.order_by("requested_at", "pk").first()
    assert f'href="/releases/{oldest.pk}/"' in first


def test_each_rule_refuses_with_its_reason_on_a_page_and_one_at_a_time(
    environments, churn_model, scientist, manager, make_user, admin_user
):
    version = churn_model.versions.get()
    request_many(environments, version, [manager], 3)  # one waiting release per environment, by the manager
    reviewer = make_user("reviewer", "release-manager")
    reviewer.groups.add(Group.objects.get(name="Prod reviewers"))
    waiting = {r.environment.name: r for r in Release.objects.select_related("environment__approver_group")}
    no_role = "Your role does not allow approving releases."
    group = "Approvals for churn-predictor/prod come from the Prod reviewers group."
    four_eyes = "You requested this release; someone else has to approve it (four-eyes)."
    expected = {
        scientist: {"staging": no_role, "prod": no_role, "dev": no_role},
        make_user("pager", "on-call"): {"staging": no_role, "prod": no_role, "dev": no_role},
        manager: {"staging": four_eyes, "prod": group, "dev": None},
        reviewer: {"staging": None, "prod": None, "dev": None},
        admin_user: {"staging": None, "prod": None, "dev": None},
    }
    for user, refusals in expected.items():
        user = type(user).objects.get(pk=user.pk)  # fresh permission caches
        page = approval_refusals(list(waiting.values()), user)
        assert {name: page[r.pk] for name, r in waiting.items()} == refusals, user.username
        assert {name: services.can_approve(r, user) for name, r in waiting.items()} == refusals
