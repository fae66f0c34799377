"""Finding a build or a model version by what people type: a number, a commit or digest prefix.

Forms offer the newest few as suggestions and accept anything that names exactly one, so no
page lists every succeeded build or every version.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from builds.models import Application, Build
from core.widgets import SUGGESTIONS, Suggestion
from models_registry.models import ModelVersion

BUILD_NUMBER = re.compile(r"^#?(\d{1,18})(?:\s|$)")  # "#12" or "12", or a picked "#12 · …" suggestion
HEX = re.compile(r"^[0-9a-f]{1,40}$")
COMMIT_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")
VERSION_NUMBER = re.compile(r"^v?(\d{1,9})(?:\s|$)")
DIGEST_PREFIX = re.compile(r"^sha256:[0-9a-f]{0,64}$")


def releasable_builds(application: Application) -> QuerySet[Build]:
    """Succeeded builds of ``application`` with an image, newest first."""
    return (
        Build.objects.filter(application=application, state=Build.State.SUCCEEDED, image__isnull=False)
        .select_related("model_version__model", "image")
        .order_by("-finished_at", "-pk")
    )


def build_label(build: Build) -> str:
    digest = build.image.digest[:19] if build.image else "no image"
    return f"#{build.pk} · {build.commit[:10]} · {build.model_version} · {digest}"


def search_builds(builds: QuerySet[Build], text: str, limit: int = SUGGESTIONS) -> list[Build]:
    """The newest builds whose number, commit, model version (v3) or digest starts like ``text``."""
    text = text.strip().lower()
    if not text:
        return list(builds[:limit])
    matches = Q(pk__in=[])
    if number := BUILD_NUMBER.match(text):
        matches |= Q(pk=int(number.group(1)))
    if HEX.match(text):
        matches |= Q(commit__startswith=text)
    if version := re.match(r"^v(\d{1,9})$", text):
        matches |= Q(model_version__version=int(version.group(1)))
    if DIGEST_PREFIX.match(text):
        matches |= Q(image__digest__startswith=text)
    return list(builds.filter(matches)[:limit])


def build_suggestions(builds: QuerySet[Build], text: str = "") -> list[Suggestion]:
    return [Suggestion(build_label(b)) for b in search_builds(builds, text)]


def pick_build(builds: QuerySet[Build], text: str) -> Build:
    """The one build ``text`` names: its number (#12) or its commit prefix (7+ hex digits)."""
    text = text.strip().lower()
    number = BUILD_NUMBER.match(text)
    if number and (build := builds.filter(pk=int(number.group(1))).first()):
        return build
    if COMMIT_PREFIX.match(text):
        return _by_commit(builds, text)
    if number:
        raise ValidationError(f"Build #{number.group(1)} is not a succeeded build of this application.")
    raise ValidationError(
        "Type a build number (#12) or a commit prefix (7+ hex digits), or pick a suggestion."
    )


def _by_commit(builds: QuerySet[Build], prefix: str) -> Build:
    found = list(builds.filter(commit__startswith=prefix)[:6])
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(f"No succeeded build of this application has a commit starting with {prefix}.")
    listed = ", ".join(f"#{b.pk} ({b.model_version})" for b in found[:5])
    raise ValidationError(f"Commit {prefix} has several succeeded builds: {listed}. Type the build number.")


def buildable_versions(application: Application) -> QuerySet[ModelVersion]:
    """Versions of the application's model that can be built, newest first: not blocked, and
    with their bytes pinned (not pending, failed or missing)."""
    return (
        application.model.versions.exclude(status=ModelVersion.Status.BLOCKED)
        .filter(state=ModelVersion.State.READY)
        .select_related("model")
        .order_by("-version")
    )


def search_versions(
    versions: QuerySet[ModelVersion], text: str, limit: int = SUGGESTIONS
) -> list[ModelVersion]:
    """The newest versions whose number starts with the digits typed ("v12", "12")."""
    text = text.strip().lower()
    if not text:
        return list(versions[:limit])
    number = VERSION_NUMBER.match(text)
    if not number:
        return []
    digits = number.group(1)
    as_text = Cast("version", output_field=CharField())
    return list(versions.annotate(version_text=as_text).filter(version_text__startswith=digits)[:limit])


def version_suggestions(versions: QuerySet[ModelVersion], text: str = "") -> list[Suggestion]:
    return [
        Suggestion(f"v{v.version}", f"{v.status} · registered {v.created_at:%Y-%m-%d}")
        for v in search_versions(versions, text)
    ]


def pick_version(versions: QuerySet[ModelVersion], text: str, model_name: str) -> ModelVersion | None:
    """The version ``text`` names ("v3" or "3"); None when nothing is typed."""
    text = text.strip().lower()
    if not text:
        return None
    number = VERSION_NUMBER.match(text)
    if not number:
        raise ValidationError("Type a version number (v3), or leave it empty for the latest active one.")
    version = versions.filter(version=int(number.group(1))).first()
    if version is None:
        raise ValidationError(f"{model_name} has no version {number.group(1)}.")
    return version
