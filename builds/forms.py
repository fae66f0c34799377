from __future__ import annotations

from django import forms

from builds.models import Application
from models_registry.models import ModelVersion


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = ["name", *Application.EDITABLE_FIELDS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "webhook_secret": forms.PasswordInput(render_value=True),
        }


class BuildNowForm(forms.Form):
    commit = forms.CharField(
        required=False, max_length=40, help_text="A commit sha; empty builds the head of the default branch."
    )
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(), required=False, empty_label="latest active version"
    )

    def __init__(self, *args: object, application: Application, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Only versions whose bytes are pinned can be built: not pending, failed or missing.
        versions = application.model.versions.exclude(status=ModelVersion.Status.BLOCKED).filter(
            state=ModelVersion.State.READY
        )
        versions = versions.order_by("-version")
        self.fields["model_version"].queryset = versions.select_related("model")
        self.fields["model_version"].label_from_instance = lambda v: f"v{v.version} ({v.status})"
