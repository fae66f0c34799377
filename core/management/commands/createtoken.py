"""``manage.py createtoken NAME [--for ci] [--days 90]`` - an API token for a user, printed once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import tokens


class Command(BaseCommand):
    help = "Make an API token for a user; its key is printed once and stored only hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--for", dest="name", default="api", help="what it is for (default: api)")
        parser.add_argument(
            "--days", type=int, default=None, help="valid this many days (default: no expiry)"
        )

    def handle(self, *args: Any, username: str, name: str, days: int | None, **opts: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--days must be from 1 to 3650.")
        _, key = tokens.issue(user, name=name, actor="system:createtoken", valid_days=days)
        self.stdout.write(key)
