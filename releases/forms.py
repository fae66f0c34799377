from __future__ import annotations

from django import forms

from builds.models import Build
from releases.models import Environment, FreezeWindow, Schedule


class RequestReleaseForm(forms.Form):
    build = forms.ModelChoiceField(
        queryset=Build.objects.none(), help_text="A succeeded build of this application."
    )
    scheduled_for = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional: deploy at this time (UTC) once approved.",
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: object, environment: Environment, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        builds = Build.objects.filter(
            application=environment.application, state=Build.State.SUCCEEDED, image__isnull=False
        )
        self.fields["build"].queryset = builds.select_related("model_version__model", "image").order_by(
            "-finished_at"
        )
        self.fields["build"].label_from_instance = lambda b: (
            f"#{b.pk} · {b.commit[:10]} · {b.model_version} · {b.image.digest[:19]}"
        )


class DecisionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


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
