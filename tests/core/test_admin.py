from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_admin_page_lists_and_offers_no_edit(admin_client):
    """The admin is for looking; every change goes through the services, which audit it."""
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == "auth":
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert not model_admin.has_add_permission(None), model
