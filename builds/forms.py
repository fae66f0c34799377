from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse

from builds import lookups
from builds.models import Application, Build
from dashboard.widgets import SuggestInput
from models_registry.models import ModelVersion


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = ["name", *Application.EDITABLE_FIELDS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "webhook_secret": forms.PasswordInput(render_value=True),
        }


class BuildField(forms.Field):
    """A succeeded build, typed as its number or commit prefix, with the newest as suggestions."""

    widget = SuggestInput

    def __init__(self, *, builds: QuerySet[Build] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.builds = builds if builds is not None else Build.objects.none()

    def use(self, builds: QuerySet[Build], url: str) -> None:
        self.builds = builds
        self.widget.url = url
        self.widget.suggest = lambda: lookups.build_suggestions(builds)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Build):
            return lookups.build_label(value)
        return f"#{value}" if isinstance(value, int) else value

    def to_python(self, value: Any) -> Build | None:
        if value in self.empty_values:
            return None
        return lookups.pick_build(self.builds, str(value))


class ModelVersionField(forms.Field):
    """A version of one model, typed as its number ("v3"); empty means the latest active one."""

    widget = SuggestInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.versions = ModelVersion.objects.none()
        self.model_name = ""

    def use(self, application: Application, url: str) -> None:
        self.versions = application.model.versions.select_related("model")
        self.model_name = application.model.name
        self.widget.url = url
        self.widget.suggest = lambda: lookups.version_suggestions(lookups.buildable_versions(application))

    def to_python(self, value: Any) -> ModelVersion | None:
        return lookups.pick_version(self.versions, str(value or ""), self.model_name)


class BuildNowForm(forms.Form):
    commit = forms.CharField(
        required=False,
        max_length=40,
        help_text="A commit sha or a prefix of 7+ hex digits; empty builds the head of the default branch.",
    )
    model_version = ModelVersionField(
        required=False,
        help_text="A version number such as v3; empty builds the latest active version.",
    )

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = reverse("builds:model_versions", args=[application.name])
        self.fields["model_version"].use(application, url)
        self.fields["model_version"].widget.attrs["placeholder"] = "latest active version"
