from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from builds.forms import BuildField
from builds.lookups import releasable_builds
from core.limits import NOTE_MAX_LENGTH
from releases.models import Environment, FreezeWindow, Schedule


class RequestReleaseForm(forms.Form):
    build = BuildField(
        help_text="A succeeded build of this application: its number (#12) or commit prefix; "
        "the newest are suggested as you type."
    )
    scheduled_for = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional: deploy at this time (UTC) once approved.",
    )
    note = forms.CharField(
        required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, environment: Environment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = reverse("releases:candidates", args=[environment.pk])
        field = self.fields["build"]
        assert isinstance(field, BuildField)  # a copy of the declared field
        field.use(releasable_builds(environment.application), url)


class DecisionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


class RollbackForm(forms.Form):
    reason = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["cron", "timezone", "policy", "owner_approves", "prepare_minutes", "grace_minutes"]
        help_texts = {"cron": "minute hour day month weekday, e.g. 0 2 * * * for 02:00 every night"}


class FreezeWindowForm(forms.ModelForm):
    class Meta:
        model = FreezeWindow
        fields = ["reason", "start", "end", "cron", "duration_minutes", "timezone"]
        widgets = {
            "start": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "end": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
