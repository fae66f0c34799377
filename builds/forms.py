from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse

from builds import lookups
from builds.models import Application, Build
from core.limits import DESCRIPTION_MAX_LENGTH
from core.widgets import SUGGESTIONS, SuggestInput, Suggestion
from models_registry.models import ModelVersion, RegisteredModel


class ModelByNameField(forms.ModelChoiceField):
    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:  # never reaches the database
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class ApplicationForm(forms.ModelForm):
    # The model is typed by name, with the newest models suggested: there may be many.
    model = ModelByNameField(
        queryset=RegisteredModel.objects.all(),
        to_field_name="name",
        widget=SuggestInput,
        error_messages={"invalid_choice": "No registered model has this name."},
        help_text="The registered model's name; the newest models are suggested.",
    )
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = Application
        fields = ["name", *Application.EDITABLE_FIELDS]
        widgets = {"webhook_secret": forms.PasswordInput(render_value=True)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].widget.suggest = newest_models
        if self.instance.pk:  # shown by name, as typed (the form's initial value is the id)
            self.initial["model"] = self.instance.model.name


def newest_models() -> list[Suggestion]:
    newest = RegisteredModel.objects.order_by("-created_at", "-pk")[:SUGGESTIONS]
    return [Suggestion(model.name) for model in newest]


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
        field = self.fields["model_version"]
        assert isinstance(field, ModelVersionField)  # a copy of the declared field
        field.use(application, url)
        field.widget.attrs["placeholder"] = "latest active version"
