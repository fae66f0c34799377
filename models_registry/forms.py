from __future__ import annotations

from typing import Any

from django import forms

from core.limits import DESCRIPTION_MAX_LENGTH
from models_registry.models import ModelVersion, validate_model_name


class ModelForm(forms.Form):
    name = forms.CharField(max_length=100, validators=[validate_model_name])
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


class VersionForm(forms.Form):
    file = forms.FileField(required=False, allow_empty_file=True, help_text="Upload a model file, or…")
    key = forms.CharField(
        required=False,
        max_length=1024,
        label="Object key",
        help_text="…name an object already in the model store (e.g. churn/2026-11/model.pkl).",
    )
    metrics = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"auc": 0.91, "f1": 0.84}'}),
        help_text="A JSON object of numbers.",
    )
    framework = forms.CharField(required=False, max_length=100)
    description = forms.CharField(
        required=False, max_length=DESCRIPTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if bool(data.get("file")) == bool(data.get("key")):
            raise forms.ValidationError("Upload a file or give an object key (exactly one).")
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ModelVersion.Status.choices)
    status_reason = forms.CharField(required=False, label="Reason", max_length=2000)
