from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from builds import integration
from builds import services as build_services
from models_registry import services as model_services

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "churn-predictor"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


class Repo:
    """A real git repository holding a copy of the sample app."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=GIT_ENV, check=True, capture_output=True, text=True
        )
        return result.stdout.strip()

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for name, content in (files or {}).items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def app_repo(tmp_path: Path) -> Repo:
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLE_APP, path, ignore=shutil.ignore_patterns("__pycache__", ".model"))
    repo = Repo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("initial commit")
    return repo


@pytest.fixture(autouse=True)
def embedded_registry(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "registry"
    settings.IMAGE_REGISTRY = {**settings.IMAGE_REGISTRY, "kind": "oci-layout", "root": str(root)}
    settings.GIT_CACHE_DIR = tmp_path / "git-cache"
    settings.BUILD_WORKDIR = tmp_path / "builds"
    settings.BUILD_POLL_SECONDS = 1
    integration.clear_caches()
    yield root
    integration.clear_caches()


def sample_model_bytes(version: int = 1) -> bytes:
    text = (EXAMPLE_APP / "models" / "churn-model.json").read_text()
    return (
        text.replace('"version"', f'"variant": {version}, "version"', 1).encode()
        if version > 1
        else text.encode()
    )


@pytest.fixture
def churn_model(scientist: Any) -> Any:
    model = model_services.create_model("churn-model", actor=scientist)
    upload = SimpleUploadedFile("churn-model.json", sample_model_bytes(1))
    info = model_services.VersionInfo(metrics={"auc": 0.8}, filename="churn-model.json")
    model_services.register_uploaded_version(model, upload, info, actor=scientist)
    return model


@pytest.fixture
def application(churn_model: Any, app_repo: Repo, manager: Any) -> Any:
    return build_services.create_application(
        {
            "name": "churn-predictor",
            "repository_url": str(app_repo.path),
            "default_branch": "main",
            "image_repository": "churn-predictor",
            "model": churn_model,
            "webhook_secret": "s3cret",
        },
        actor=manager,
    )
