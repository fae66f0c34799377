"""A Kubernetes cluster environments deploy to: where its API server is and how to sign in."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from core.crypto import EncryptedTextField

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_KUBECONFIG = 64 * 1024
MAX_CA_BUNDLE = 64 * 1024


def validate_cluster_name(value: str) -> None:
    if not NAME.match(value or ""):
        raise ValidationError("Use lowercase letters, digits and dashes (at most 63), e.g. aks-prod.")


def validate_server_url(value: str) -> None:
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            "Enter the API server's https:// address, e.g. https://aks-prod.hcp.example.io:443."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("The API server address carries no user name, password, query or fragment.")


def validate_ca_bundle(value: str) -> None:
    if value.strip() and "-----BEGIN CERTIFICATE-----" not in value:
        raise ValidationError("The CA bundle must be PEM text (-----BEGIN CERTIFICATE----- ...).")


class Cluster(models.Model):
    class AuthKind(models.TextChoices):
        IN_CLUSTER = "in-cluster", "In-cluster service account"
        TOKEN = "token", "Bearer token"
        KUBECONFIG = "kubeconfig", "Uploaded kubeconfig"
        AZURE = "azure", "Azure workload identity (AKS with Entra ID)"

    class CheckState(models.TextChoices):
        NEVER = "", "not tested"
        CHECKING = "checking", "testing"
        OK = "ok", "ok"
        FAILED = "failed", "failed"

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("token", "kubeconfig")
    EDITABLE_FIELDS: ClassVar[tuple[str, ...]] = (
        "name",
        "server_url",
        "ca_bundle",
        "auth_kind",
        "token",
        "kubeconfig",
        "context",
    )

    name = models.CharField(max_length=63, unique=True, validators=[validate_cluster_name])
    server_url = models.CharField(
        "API server URL",
        max_length=500,
        blank=True,
        validators=[validate_server_url],
        help_text="e.g. https://aks-prod.hcp.westeurope.azmk8s.io:443; optional for kubeconfig and in-cluster",
    )
    ca_bundle = models.TextField(
        "CA bundle",
        blank=True,
        max_length=MAX_CA_BUNDLE,
        validators=[validate_ca_bundle],
        help_text="PEM certificates that sign the API server's certificate (empty: the system's)",
    )
    auth_kind = models.CharField(max_length=20, choices=AuthKind.choices, default=AuthKind.TOKEN)
    token = EncryptedTextField(blank=True, help_text="bearer token; stored encrypted, never shown")
    kubeconfig = EncryptedTextField(blank=True, help_text="kubeconfig text; stored encrypted, never shown")
    context = models.CharField(
        max_length=253, blank=True, help_text="context in the kubeconfig (empty: its current context)"
    )
    check_state = models.CharField(max_length=10, choices=CheckState.choices, blank=True, default="")
    check_reason = models.TextField(blank=True)
    check_namespace = models.CharField(max_length=63, blank=True)
    check_verbs = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"patch deployments": "allowed"}'
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        kind = self.AuthKind
        if self.auth_kind in (kind.TOKEN, kind.AZURE) and not self.server_url:
            raise ValidationError({"server_url": "Token and Azure clusters need the API server URL."})
        if self.context and self.auth_kind != kind.KUBECONFIG:
            raise ValidationError({"context": "A context belongs to a kubeconfig."})
        if len(self.kubeconfig or "") > MAX_KUBECONFIG:
            raise ValidationError({"kubeconfig": f"A kubeconfig has at most {MAX_KUBECONFIG} characters."})

    @property
    def has_credentials(self) -> bool:
        """Whether a token or kubeconfig is stored (in-cluster and Azure need none stored)."""
        return bool(self.token or self.kubeconfig)

    @property
    def needs_credentials(self) -> bool:
        return self.auth_kind in (self.AuthKind.TOKEN, self.AuthKind.KUBECONFIG) and not (
            self.token if self.auth_kind == self.AuthKind.TOKEN else self.kubeconfig
        )

    def access_values(self) -> dict[str, Any]:
        """Plain values for ``core.adapters.cluster_access`` (secrets included: workers only)."""
        return {
            "name": self.name,
            "url": self.server_url,
            "auth_kind": self.auth_kind,
            "ca_bundle": self.ca_bundle,
            "token": self.token if self.auth_kind == self.AuthKind.TOKEN else "",
            "kubeconfig": self.kubeconfig if self.auth_kind == self.AuthKind.KUBECONFIG else "",
            "context": self.context,
        }

    def audit_state(self) -> dict[str, Any]:
        """Every setting; the token and kubeconfig only as "set" or "changed"."""
        return {name: getattr(self, name) for name in self.EDITABLE_FIELDS}
