from __future__ import annotations

from typing import Any

from django import forms

from builds.models import Application
from notifications.models import Event, NotificationChannel, validate_web_url
from notifications.services import GENERATE
from releases.models import Environment


class ChannelForm(forms.Form):
    """Create or edit a channel. The URL and secret are never put back into the page: left empty
    on an existing channel, they stay as they are."""

    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=NotificationChannel.Kind.choices)
    url = forms.CharField(
        label="URL",
        max_length=2000,
        validators=[validate_web_url],
        widget=forms.PasswordInput(render_value=False),
        help_text="the receiver's http:// or https:// address (Slack and Teams URLs hold a credential)",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="signs each message; empty: a new webhook channel gets one made, Teams and Slack none",
    )
    new_secret = forms.BooleanField(required=False, label="Make a new secret")
    remove_secret = forms.BooleanField(required=False, label="Remove the secret (Teams and Slack only)")
    events = forms.MultipleChoiceField(
        choices=Event.choices, widget=forms.CheckboxSelectMultiple, required=False, label="Events to send"
    )
    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name"),
        required=False,
        to_field_name="name",
        empty_label="any application",
        help_text="only events of this application",
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.select_related("application").order_by("application__name", "order"),
        required=False,
        empty_label="any environment",
        help_text="only events of this environment (builds and model versions have none)",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, channel: NotificationChannel | None = None, **kwargs: Any) -> None:
        if channel is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": channel.name,
                    "kind": channel.kind,
                    "events": channel.events,
                    "application": channel.application.name if channel.application else None,
                    "environment": channel.environment_id,
                    "enabled": channel.enabled,
                },
            )
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            self.fields["url"].required = False
            self.fields["url"].help_text = f"now {channel.endpoint}; leave empty to keep it"
            self.fields["secret"].help_text = (
                "set" if channel.secret else "none"
            ) + "; leave empty to keep it"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_secret") and data.get("remove_secret"):
            raise forms.ValidationError("Make a new secret or remove it, not both.")
        return data

    def service_fields(self) -> dict[str, Any]:
        """What the services take: only the URL and secret that were typed or asked for."""
        data = self.cleaned_data
        fields = {
            name: data[name] for name in ("name", "kind", "events", "application", "environment", "enabled")
        }
        if data["url"]:
            fields["url"] = data["url"]
        if data["new_secret"]:
            fields["secret"] = GENERATE
        elif data["remove_secret"]:
            fields["secret"] = ""
        elif data["secret"]:
            fields["secret"] = data["secret"]
        return fields
