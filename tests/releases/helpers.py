"""Release test data without a build run: an image of the app with a model version, and a succeeded build."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from builds.models import Build, Image
from releases import services
from releases.models import Environment, Release


def candidate(application: Any, version: Any, name: str) -> Image:
    digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    image = Image.objects.create(
        repository=application.image_repository,
        digest=digest,
        reference=f"localhost/{application.image_repository}@{digest}",
        application=application,
        model_version=version,
        commit=hashlib.sha1(name.encode()).hexdigest(),
    )
    Build.objects.create(
        application=application,
        commit=image.commit,
        model_version=version,
        state=Build.State.SUCCEEDED,
        image=image,
        image_tag=name,
        finished_at=timezone.now(),
    )
    return image


def environment(application: Any, name: str = "staging", *, actor: Any, **fields: Any) -> Environment:
    values = {
        "application": application,
        "name": name,
        "target_config": {"port": 18000 + len(name)},
        "required_approvals": 1,
        "approver_group": Group.objects.get(name="Release manager"),
        **fields,
    }
    return services.create_environment(values, actor=actor)


def mark_succeeded(release: Release) -> Release:
    """What a finished rollout leaves behind (the deploy itself is tested elsewhere)."""
    Release.objects.filter(pk=release.pk).update(state=Release.State.SUCCEEDED, finished_at=timezone.now())
    Environment.objects.filter(pk=release.environment_id).update(current_release=release)
    release.refresh_from_db()
    return release
