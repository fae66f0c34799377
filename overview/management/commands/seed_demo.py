"""``manage.py seed_demo`` - demo users (and data) so a newcomer can try every role."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from core.management.commands.createuser import create_user_with_role
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
        seed_demo_application()
        seed_demo_environments()
        self.stdout.write(self.style.SUCCESS("Demo users (user name: role):"))
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role}")
        source = "DEMO_PASSWORD" if settings.DEMO_PASSWORD else "generated for this start"
        self.stdout.write(f"Password for all of them ({source}): {password}")


DEMO_APP = "churn-predictor"


def seed_demo_application() -> None:
    """The sample app as a local git repository, built by the local builder into the embedded registry."""
    from builds import services as build_services
    from builds.models import Application

    source = settings.BASE_DIR / "examples" / DEMO_APP
    if Application.objects.filter(name=DEMO_APP).exists() or not source.is_dir():
        return
    repository = settings.VAR_DIR / "demo-repos" / DEMO_APP
    if not (repository / ".git").exists():
        make_git_repository(source, repository)
    build_services.create_application(
        {
            "name": DEMO_APP,
            "description": "Sample AI app: a stdlib web server that serves the churn model's predictions.",
            "repository_url": str(repository),
            "default_branch": "main",
            "image_repository": DEMO_APP,
            "model": RegisteredModel.objects.get(name="churn-model"),
            "test_command": "python3 -m unittest discover -s tests",
            "command": "python3 serve.py",
            "port": 8080,
        },
        actor=SEED_ACTOR,
    )


DEMO_PORTS = {"staging": 8101, "prod": 8102}


def seed_demo_environments() -> None:
    """staging (one approval) and prod (two approvals, after staging) on the local target."""
    from django.contrib.auth.models import Group

    from builds.models import Application
    from releases import services as release_services
    from releases.models import Environment

    application = Application.objects.filter(name=DEMO_APP).first()
    if application is None or application.environments.exists():
        return
    managers = Group.objects.get(name="Release manager")
    staging = release_services.create_environment(
        {
            "application": application,
            "name": "staging",
            "order": 1,
            "target_kind": Environment.TargetKind.LOCAL,
            "target_config": {"port": DEMO_PORTS["staging"]},
            "required_approvals": 1,
            "approver_group": managers,
        },
        actor=SEED_ACTOR,
    )
    release_services.create_environment(
        {
            "application": application,
            "name": "prod",
            "order": 2,
            "previous": staging,
            "target_kind": Environment.TargetKind.LOCAL,
            "target_config": {"port": DEMO_PORTS["prod"]},
            "required_approvals": 2,
            "approver_group": managers,
        },
        actor=SEED_ACTOR,
    )


def make_git_repository(source: Path, repository: Path) -> None:
    """Copy the sample app into a fresh git repository with one commit on main."""
    shutil.copytree(source, repository, ignore=shutil.ignore_patterns("__pycache__", ".model", "*.pyc"))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "Sample churn predictor"],
    ):
        subprocess.run(["git", *args], cwd=repository, env=env, check=True, capture_output=True)


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
