"""``manage.py seed_demo`` - demo users (and data) so a newcomer can try every role."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from dashboard.management.commands.createuser import create_user_with_role
from models_registry import services
from models_registry.models import RegisteredModel

DEMO_USERS = [
    ("scientist", "data-scientist"),
    ("manager", "release-manager"),
    ("manager2", "release-manager"),
    ("oncall", "on-call"),
    ("admin", "admin"),
]
SEED_ACTOR = "system:seed_demo"


class Command(BaseCommand):
    help = "Create the demo users (password DEMO_PASSWORD, else a random one) and demo data."

    def handle(self, *args: Any, **options: Any) -> None:
        password = settings.DEMO_PASSWORD or secrets.token_urlsafe(9)
        for username, role in DEMO_USERS:
            create_user_with_role(username, role, password)
        seed_demo_model()
        self.stdout.write(self.style.SUCCESS("Demo users (user name: role):"))
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role}")
        source = "DEMO_PASSWORD" if settings.DEMO_PASSWORD else "generated for this start"
        self.stdout.write(f"Password for all of them ({source}): {password}")


def demo_model_files() -> list[Path]:
    return sorted((settings.BASE_DIR / "examples").glob("*/models/*.json"))


def seed_demo_model() -> None:
    """Register the sample application's first model version, once."""
    files = demo_model_files()
    if not files or RegisteredModel.objects.filter(name="churn-model").exists():
        return
    model = services.create_model(
        "churn-model", description="Customer churn classifier served by the sample app.", actor=SEED_ACTOR
    )
    upload = SimpleUploadedFile(files[0].name, files[0].read_bytes())
    info = services.VersionInfo(metrics={"auc": 0.81, "accuracy": 0.77}, framework="json-logreg")
    info = services.VersionInfo(info.metrics, info.framework, "First demo version.", files[0].name)
    services.register_uploaded_version(model, upload, info, actor=SEED_ACTOR)
