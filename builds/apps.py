from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    verbose_name = "Builds and images"

    def ready(self) -> None:
        from builds import triggers  # noqa: F401  (connects the new-model-version trigger)
