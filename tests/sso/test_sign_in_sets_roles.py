"""Single sign-on against a real OpenID provider: users are created on their first sign-in and
their roles are set from their groups at every sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from core.models import AuditEvent, SignInIdentity
from core.roles import role_names
from tests.sso.helpers import sign_in

pytestmark = pytest.mark.django_db


def test_it_creates_the_user_with_the_role_of_their_group(client: Any, sso: Any) -> None:
    response = sign_in(client, "alice")

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="alice")
    assert role_names(user) == ["Release manager"]
    assert user.email == "alice@example.test" and not user.has_usable_password()
    assert SignInIdentity.objects.get(user=user).issuer == sso.issuer
    home = client.get("/")
    assert home.status_code == 200 and b"alice" in home.content


def test_it_gives_the_second_user_the_other_role(client: Any, sso: Any) -> None:
    sign_in(client, "alice")
    client.logout()
    sign_in(client, "bob")

    assert role_names(get_user_model().objects.get(username="bob")) == ["On-call"]
    assert role_names(get_user_model().objects.get(username="alice")) == ["Release manager"]


def test_it_takes_the_role_away_when_the_group_leaves_the_map(client: Any, sso: Any, settings: Any) -> None:
    sign_in(client, "alice")
    client.logout()
    settings.OIDC_ROLE_MAP = (("grp-oncall", "on-call"),)

    response = sign_in(client, "alice")

    alice = get_user_model().objects.get(username="alice")
    assert role_names(alice) == []
    assert get_user_model().objects.filter(username__startswith="alice").count() == 1
    events = AuditEvent.objects.filter(object_type="auth.user", object_id=str(alice.pk), action="user.update")
    assert [(e.before, e.after) for e in events.order_by("id")] == [
        ({"groups": []}, {"groups": ["Release manager"]}),
        ({"groups": ["Release manager"]}, {"groups": []}),
    ]
    assert events.first().actor_name == "system:sso"
    page = client.get(response["Location"])
    assert page.status_code == 403
    assert b"none of your groups is mapped to a role" in page.content
    assert b"Test IdP" in page.content


def test_a_user_in_no_mapped_group_gets_no_role(client: Any, sso: Any) -> None:
    sign_in(client, "carol")

    carol = get_user_model().objects.get(username="carol")
    assert role_names(carol) == []
    assert not AuditEvent.objects.filter(action="user.update", object_id=str(carol.pk)).exists()
    assert AuditEvent.objects.get(action="user.create", object_id=str(carol.pk)).actor_name == "system:sso"


def test_a_local_account_of_the_same_name_is_never_taken_over(client: Any, sso: Any, make_user: Any) -> None:
    local = make_user("alice", "data-scientist")

    sign_in(client, "alice")

    assert role_names(local) == ["Data scientist"]
    signed_in = SignInIdentity.objects.get().user
    assert signed_in.username == "alice-2" and role_names(signed_in) == ["Release manager"]


def test_groups_not_in_the_map_are_left_alone_but_roles_are_exact(client: Any, sso: Any) -> None:
    from django.contrib.auth.models import Group

    sign_in(client, "alice")
    alice = get_user_model().objects.get(username="alice")
    alice.groups.add(Group.objects.get(name="On-call"), Group.objects.create(name="Book club"))
    client.logout()

    sign_in(client, "alice")

    assert sorted(group.name for group in alice.groups.all()) == ["Book club", "Release manager"]


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in_again(client: Any, sso: Any) -> None:
    sign_in(client, "alice")
    get_user_model().objects.filter(username="alice").update(is_active=False)

    assert client.get("/").status_code == 302  # the session no longer signs them in
    response = sign_in(client, "alice")
    assert response.status_code == 403 and b"This account is disabled here" in response.content
