"""The cluster form: credentials are write-only (an empty box keeps what is stored)."""

from __future__ import annotations

from typing import Any

from django import forms

from clusters.models import Cluster


class ClusterForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="lower-case letters, digits and '-'; cannot change later")
    server_url = forms.CharField(label="API server URL", max_length=500, required=False)
    ca_bundle = forms.CharField(
        label="CA bundle (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    auth_kind = forms.ChoiceField(label="Authentication", choices=Cluster.AuthKind.choices)
    token = forms.CharField(
        label="Bearer token",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="write-only: leave empty to keep the stored one",
    )
    kubeconfig = forms.CharField(
        label="kubeconfig",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="write-only: leave empty to keep the stored one",
    )
    context = forms.CharField(max_length=253, required=False, help_text="context in the kubeconfig")
    remove_credentials = forms.BooleanField(required=False, label="Remove the stored token and kubeconfig")

    def __init__(self, *args: Any, cluster: Cluster | None = None, **kwargs: Any) -> None:
        if cluster is not None:
            kwargs.setdefault(
                "initial",
                {f: getattr(cluster, f) for f in ("name", "server_url", "ca_bundle", "auth_kind", "context")},
            )
        super().__init__(*args, **kwargs)
        if cluster is not None:
            self.fields["name"].disabled = True
        else:
            del self.fields["remove_credentials"]

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as the services take them: a credential left empty is kept."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_credentials", False)
        for secret in Cluster.SECRET_FIELDS:
            if remove:
                data[secret] = ""
            elif not data.get(secret):
                data[secret] = None
        return data


class ConnectionTestForm(forms.Form):
    namespace = forms.CharField(max_length=63, help_text="where to check the permissions, e.g. churn-prod")
