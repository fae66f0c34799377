"""REST API of approval-rule changes waiting for a second person: /api/v1/rule-changes/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import HasRolePermission, query_id
from releases import rules
from releases.models import RuleChange
from releases.serializers import DecisionSerializer, RuleChangeSerializer

VIEW = "releases.view_environment"


@extend_schema(
    parameters=[
        OpenApiParameter("environment", int, description="only this environment's"),
        OpenApiParameter("state", str, enum=RuleChange.State.values),
    ]
)
class RuleChangeListView(generics.ListAPIView):
    """Proposed weakenings of approval rules, newest first (pending ones wait for a second person)."""

    serializer_class = RuleChangeSerializer
    permission_classes = [HasRolePermission]
    required_permissions = {"GET": VIEW}

    def get_queryset(self) -> QuerySet[RuleChange]:
        changes = RuleChange.objects.select_related("proposed_by", "decided_by")
        params = self.request.query_params
        if "environment" in params:
            changes = changes.filter(environment_id=query_id(params, "environment"))
        if params.get("state") in RuleChange.State.values:
            changes = changes.filter(state=params["state"])
        return changes


class RuleChangeActionView(APIView):
    permission_classes = [HasRolePermission]
    required_permissions = {"POST": VIEW}  # who may decide is checked by releases.rules
    error_statuses = {"POST": (409,)}  # decided already, or the rules changed since

    @extend_schema(request=DecisionSerializer, responses=RuleChangeSerializer)
    def post(self, request: Request, pk: int) -> Response:
        change = get_object_or_404(RuleChange, pk=pk)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = serializer.validated_data["comment"]
        change = self.act(change, request.user, comment)
        return Response(RuleChangeSerializer(change).data)

    def act(self, change: RuleChange, user: Any, comment: str) -> RuleChange:
        raise NotImplementedError


class ApproveRuleChangeView(RuleChangeActionView):
    """Apply a proposed change: a release manager or admin other than who proposed it."""

    def act(self, change: RuleChange, user: Any, comment: str) -> RuleChange:
        return rules.decide(change, approve=True, actor=user, reason=comment)


class RejectRuleChangeView(RuleChangeActionView):
    """Turn a proposed change down: a release manager or admin other than who proposed it."""

    def act(self, change: RuleChange, user: Any, comment: str) -> RuleChange:
        return rules.decide(change, approve=False, actor=user, reason=comment)


class WithdrawRuleChangeView(RuleChangeActionView):
    """Withdraw your own proposal."""

    def act(self, change: RuleChange, user: Any, comment: str) -> RuleChange:
        return rules.withdraw(change, actor=user)
