"""Application pages stay bounded: 50 applications a page, the model typed by name."""

from __future__ import annotations

import re

import pytest

from builds.models import Application
from models_registry import services as model_services

pytestmark = pytest.mark.django_db


def test_the_applications_page_shows_50_at_a_time(client, churn_model, manager):
    Application.objects.bulk_create(
        Application(
            name=f"app-{i:02}", repository_url="/srv/repo", image_repository=f"app-{i:02}", model=churn_model
        )
        for i in range(53)
    )
    client.force_login(manager)
    first = client.get("/applications/").content.decode()
    second = client.get("/applications/", {"page": 2}).content.decode()
    assert len(re.findall(r'<a href="/applications/app-\d\d/">', first)) == 50
    assert re.findall(r'<a href="/applications/(app-\d\d)/">', second) == ["app-50", "app-51", "app-52"]


def test_the_model_is_typed_by_name_with_the_newest_suggested(client, scientist, manager, app_repo):
    for i in range(25):
        model_services.create_model(f"model-{i:02}", actor=scientist)
    client.force_login(manager)
    page = client.get("/applications/").content.decode()
    assert re.findall(r'<option value="(model-\d\d)"', page) == [f"model-{i:02}" for i in range(24, 4, -1)]
    assert '<select name="model"' not in page
    fields = {
        "name": "scorer",
        "repository_url": str(app_repo.path),
        "default_branch": "main",
        "image_repository": "scorer",
        "build_service": "local",
        "test_command": "true",
        "command": "python3 serve.py",
        "port": 8080,
    }

    unknown = client.post("/applications/", {**fields, "model": "no-such-model"})
    created = client.post("/applications/", {**fields, "model": "model-00"})  # older than the suggestions

    assert "No registered model has this name." in unknown.content.decode()
    assert created.status_code == 302
    assert Application.objects.get(name="scorer").model.name == "model-00"
    edit = client.get("/applications/scorer/edit/").content.decode()
    assert re.search(r'<input type="text" name="model" value="model-00"', edit)
