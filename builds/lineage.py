"""Linking an image to what it contains, from the labels the build wrote into its config."""

from __future__ import annotations

import re

from builds.models import COMMIT_PATTERN
from integrations.images import labels as L
from models_registry.models import ModelVersion

VERSION_LABEL = re.compile(r"[0-9]{1,9}")  # within the database's integer, whatever the database


def link_labels(labels: dict[str, str]) -> tuple[str, ModelVersion | None, str]:
    """(commit, model version, problem): problem says why a label could not be linked."""
    problems = []
    commit = labels.get(L.OCI_REVISION, "")
    if commit and not COMMIT_PATTERN.match(commit):
        problems.append(f"revision label {commit!r} is not a full commit sha")
        commit = ""
    name, number = labels.get(L.MODEL_NAME, ""), labels.get(L.MODEL_VERSION, "")
    version = None
    if not name or not number:
        problems.append("no model name/version labels")
    elif not VERSION_LABEL.fullmatch(number):  # not str.isdigit(): int() refuses "²", which it accepts
        problems.append(f"model version label {number[:40]!r} is not a version number")
    else:
        version = (
            ModelVersion.objects.select_related("model").filter(model__name=name, version=int(number)).first()
        )
        if version is None:
            problems.append(f"model {name} v{number} is not registered")
        elif not version.sha256:  # pending or failed: nothing to compare the image's model with yet
            problems.append(f"model {name} v{number} is {version.state}: its content is not known")
            version = None
        elif labels.get(L.MODEL_SHA256) and labels[L.MODEL_SHA256] != version.sha256:
            problems.append(
                f"model sha256 label {labels[L.MODEL_SHA256][:12]}… differs from {version}'s {version.sha256[:12]}…"
            )
            version = None
    return commit, version, "; ".join(problems)
