from django.apps import AppConfig


class OverviewConfig(AppConfig):
    """The pages over everything: home, audit and job pages, tokens, seed_demo, runstack."""

    name = "overview"
    verbose_name = "Overview"
