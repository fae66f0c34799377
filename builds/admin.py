from django.contrib import admin

from builds.models import Application, Build, Image, ImageTag, WebhookDelivery
from core.admin import ReadOnlyAdmin


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["name", "model", "build_service", "image_repository", "last_seen_commit"]


@admin.register(Build)
class BuildAdmin(ReadOnlyAdmin):
    list_display = ["id", "application", "commit", "model_version", "state", "trigger", "created_at"]
    list_filter = ["state", "trigger"]
    exclude = ["log"]


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    list_display = ["repository", "digest", "commit", "model_version", "source", "discovered_at"]
    search_fields = ["digest", "commit"]


@admin.register(ImageTag)
class ImageTagAdmin(ReadOnlyAdmin):
    list_display = ["repository", "tag", "image", "seen_at"]
    search_fields = ["tag"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["provider", "delivery_id", "application", "commit", "received_at"]
