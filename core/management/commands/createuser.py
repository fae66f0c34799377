"""``manage.py createuser NAME --role data-scientist`` - create (or update) a user with a role."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core import audit
from core.roles import ADMIN_ROLE, ROLE_CHOICES, ROLE_GROUPS, role_group


class Command(BaseCommand):
    help = "Create a user with a role, or give an existing user that role and a new password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLE_CHOICES)
        parser.add_argument("--password", help="default: a random password, printed once")
        parser.add_argument("--email", default="")

    def handle(
        self, *args: Any, username: str, role: str, password: str | None, email: str, **opts: Any
    ) -> None:
        if not username.strip() or len(username) > 150:
            raise CommandError("The user name must be 1-150 characters.")
        if password is None:
            password = secrets.token_urlsafe(12)
        else:
            try:
                validate_password(password, get_user_model()(username=username, email=email))
            except ValidationError as exc:
                raise CommandError(f"The password is refused: {' '.join(exc.messages)}") from None
        user = create_user_with_role(username, role, password, email=email)
        self.stdout.write(f"{user.username}: role {role}, password {password}")


def create_user_with_role(username: str, role: str, password: str, *, email: str = "") -> Any:
    """Create or update ``username`` so it has exactly ``role``; audited."""
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
        before = None if created else {"roles": sorted(g.name for g in user.groups.all())}
        user.set_password(password)
        user.is_staff = user.is_superuser = role == ADMIN_ROLE
        user.save()
        group = role_group(role)
        user.groups.remove(*[g for g in user.groups.all() if g.name in ROLE_GROUPS.values()])
        if group is not None:
            user.groups.add(group)
        audit.record(
            "user.create" if created else "user.update",
            user,
            actor="system:createuser",
            before=before,
            after={"roles": [group.name if group else "Admin"]},
        )
    return user
