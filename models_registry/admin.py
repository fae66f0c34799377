from django.contrib import admin

from core.admin import ReadOnlyAdmin
from models_registry.models import ModelVersion, RegisteredModel


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "status", "state", "sha256", "size", "created_at"]
    list_filter = ["status", "state", "source"]
    search_fields = ["model__name", "sha256"]
