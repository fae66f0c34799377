from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from builds.forms import BuildField
from builds.lookups import releasable_builds
from clusters.models import Cluster
from core.limits import NOTE_MAX_LENGTH
from releases.models import Environment, FreezeWindow, Schedule

CHOICES_SHOWN = 200  # clusters and environments offered in a select, at most


class RequestReleaseForm(forms.Form):
    build = BuildField(
        help_text="A succeeded build of this application: its number (#12) or commit prefix; "
        "the newest are suggested as you type."
    )
    scheduled_for = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional: deploy at this time (UTC) once approved. A candidate still soaking in "
        "the previous environment waits for the soak to end anyway.",
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


# The environment's own columns the form edits; their types, ranges and checks come from the model.
ENVIRONMENT_FORM_FIELDS = (
    "order",
    "soak_minutes",
    "required_approvals",
    "allow_self_approval",
    "approval_validity_hours",
    "auto_rollback",
    "rollout_timeout",
    "target_kind",
)


class EnvironmentForm(forms.ModelForm):
    """An environment's settings on its page; the API takes the same fields, ``target_config`` whole.

    The model's columns come from ``Environment`` (ranges and checks included). The target
    settings most environments need have fields of their own (a local process' port; a
    registered cluster, namespace, Deployment and container for Kubernetes); any other target
    setting goes in ``target_config`` as JSON. The service checks the result as the API's; the
    form never saves: views pass :meth:`service_fields` to the service.
    """

    LOCAL_FIELDS = ("port",)
    KUBERNETES_FIELDS = ("cluster", "namespace", "deployment", "container")

    GROUPS = (
        ("Promotion", ("name", "order", "previous", "soak_minutes")),
        (
            "Approvals and rollouts",
            (
                "required_approvals",
                "allow_self_approval",
                "approval_validity_hours",
                "auto_rollback",
                "rollout_timeout",
            ),
        ),
        (
            "Where it deploys",
            ("target_kind", "port", "cluster", "namespace", "deployment", "container", "target_config"),
        ),
    )

    class Meta:
        model = Environment
        fields = ("name", *ENVIRONMENT_FORM_FIELDS)
        labels = {"target_kind": "Target"}
        help_texts = {"name": "e.g. dev, staging, prod: lower case, digits and dashes"}

    previous = forms.ChoiceField(
        required=False, label="Previous environment", help_text="a candidate must have succeeded there first"
    )
    port = forms.IntegerField(
        required=False, min_value=1024, max_value=65535, help_text="local process: the port it answers on"
    )
    cluster = forms.ChoiceField(
        required=False, help_text="Kubernetes: a cluster registered on the Clusters page"
    )
    namespace = forms.CharField(
        required=False, max_length=63, help_text="Kubernetes: namespace of the Deployment"
    )
    deployment = forms.CharField(
        required=False, max_length=253, help_text="Kubernetes: name of the Deployment"
    )
    container = forms.CharField(
        required=False, max_length=63, help_text="Kubernetes: container whose image is set (default app)"
    )
    target_config = forms.JSONField(
        required=False,
        label="Other target settings (JSON)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='e.g. {"progress_deadline": 600, "app_url": "https://churn.example.com"}; '
        "every setting is in docs/releases.md",
    )

    def __init__(
        self, data: Any = None, *, application: Any, environment: Environment | None = None, **kwargs: Any
    ) -> None:
        if environment is not None:
            kwargs.setdefault("initial", self.initial_from(environment))
        # Validating sets the values on ``environment`` in memory; the service reads the row again.
        super().__init__(data, instance=environment, **kwargs)
        self.application = application
        if environment is not None:
            del self.fields["name"]  # an environment keeps its name: releases and history refer to it
        others = Environment.objects.filter(application=application).order_by("order", "name")
        if environment is not None:
            others = others.exclude(pk=environment.pk)
        self._previous = {str(e.pk): e for e in others[:CHOICES_SHOWN]}
        previous = self.fields["previous"]
        assert isinstance(previous, forms.ChoiceField)  # a copy of the declared field
        previous.choices = [("", "none: first in the path")] + [
            (pk, e.name) for pk, e in self._previous.items()
        ]
        clusters = list(Cluster.objects.order_by("name").values_list("name", flat=True)[:CHOICES_SHOWN])
        current = (environment.target_config or {}).get("cluster") if environment is not None else None
        if isinstance(current, str) and current not in clusters:
            clusters.append(current)  # past the first CHOICES_SHOWN, or since removed: keep it
        cluster = self.fields["cluster"]
        assert isinstance(cluster, forms.ChoiceField)
        cluster.choices = [("", "none: kubeconfig settings in JSON below")] + [
            (name, name) for name in clusters
        ]

    @classmethod
    def initial_from(cls, environment: Environment) -> dict[str, Any]:
        config = dict(environment.target_config or {})
        own = (
            cls.LOCAL_FIELDS
            if environment.target_kind == Environment.TargetKind.LOCAL
            else cls.KUBERNETES_FIELDS
        )
        initial: dict[str, Any] = {name: config.pop(name) for name in own if name in config}
        initial["previous"] = str(environment.previous_id or "")
        initial["target_config"] = config
        return initial

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The fields under the headings the page shows them in."""
        return [(legend, [self[n] for n in names if n in self.fields]) for legend, names in self.GROUPS]

    def clean_target_config(self) -> dict[str, Any]:
        value = self.cleaned_data["target_config"]
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"progress_deadline": 600}.')
        return value

    def service_fields(self) -> dict[str, Any]:
        """The fields ``services.create_environment``/``update_environment`` take."""
        data = self.cleaned_data
        config = dict(data["target_config"])
        own = (
            self.LOCAL_FIELDS
            if data["target_kind"] == Environment.TargetKind.LOCAL
            else self.KUBERNETES_FIELDS
        )
        config.update({name: data[name] for name in own if data[name] not in (None, "")})
        fields = {name: data[name] for name in ENVIRONMENT_FORM_FIELDS}
        fields["target_config"] = config
        fields["previous"] = self._previous.get(data["previous"]) if data["previous"] else None
        return fields
