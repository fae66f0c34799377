"""API tokens in the API (/api/v1/auth/token/, /api/v1/auth/tokens/) and on the tokens page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import tokens
from core.errors import NotFoundError, ServiceError
from core.http import signed_in
from core.models import ApiToken
from core.parsers import FormParser, MultiPartParser
from core.safejson import SafeJSONParser
from core.signin import SignInRateThrottle, local_login_off_reason, lockout_response

MAX_VALID_DAYS = 3650


class TokenRequestSerializer(AuthTokenSerializer):
    # No longer than a user name can be: a longer one would reach the database (and django-axes' log).
    username = serializers.CharField(max_length=150, write_only=True)
    name = serializers.CharField(
        required=False, default="api", max_length=100, help_text="what the token is for"
    )
    valid_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_VALID_DAYS
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "active"]
        read_only_fields = fields


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="the key: shown this once, stored only hashed")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class TokenView(APIView):
    """POST a user name and password for a new token (a new one each time; the key is shown once).
    DELETE revokes the token this request signs in with."""

    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    serializer_class = TokenRequestSerializer
    # A sign-in is rate-limited and locked out; DELETE checks the token it is sent with (and, signed
    # in by session, the CSRF token).
    # With LOCAL_LOGIN off a password is refused (403): tokens are then made on the tokens page.
    error_statuses = {"POST": (403, 429), "DELETE": (401, 403)}

    @extend_schema(request=TokenRequestSerializer, responses={201: IssuedTokenSerializer})
    def post(self, request: Request) -> Response:
        if not settings.LOCAL_LOGIN:
            reason = f"{local_login_off_reason()} Create a token on the API tokens page instead."
            return Response({"detail": reason, "code": "local_login_off"}, status=status.HTTP_403_FORBIDDEN)
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, key = tokens.issue(
            user,
            name=serializer.validated_data["name"],
            actor=user,
            valid_days=serializer.validated_data["valid_days"],
        )
        token.token = key  # type: ignore[attr-defined]  # shown once, never stored
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise ServiceError("Sign in with the token to revoke (Authorization: Token <key>).")
        tokens.revoke(request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_authentication(self, request: Request) -> None:
        if request.method != "POST":  # a stale key in the header must not stop a sign-in by password
            super().perform_authentication(request)

    def get_throttles(self) -> list[Any]:
        return [SignInRateThrottle()] if self.request.method == "POST" else []

    # DRF's dispatch finalizes any HttpResponseBase; the stubs narrow the return to Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        # django-axes marks DRF's request wrapper, which its middleware never sees: answer here.
        if getattr(self.request, "axes_locked_out", False):
            return lockout_response(self.request._request)
        return super().handle_exception(exc)


class TokenListView(generics.ListAPIView):
    """Your API tokens (keys are never shown again; ``prefix`` tells them apart)."""

    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> Any:
        return ApiToken.objects.filter(user=signed_in(self.request.user))


class TokenRevokeView(APIView):
    """DELETE revokes one of your tokens (an admin may revoke anyone's)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        token = ApiToken.objects.filter(pk=pk).first()
        if token is None or not tokens.may_manage(token, request.user):
            raise NotFoundError(f"You have no token #{pk}.")
        tokens.revoke(token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the page ------------------------------------------------------------------------------------


class NewTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="what it is for, e.g. the CI pipeline")
    valid_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_VALID_DAYS, help_text="leave empty for no expiry"
    )


@login_required
def token_page(request: HttpRequest) -> HttpResponse:
    form = NewTokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        _, issued = tokens.issue(
            request.user,
            name=form.cleaned_data["name"],
            actor=request.user,
            valid_days=form.cleaned_data["valid_days"],
        )
        form = NewTokenForm()
    page = Paginator(ApiToken.objects.filter(user=signed_in(request.user)), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "overview/tokens.html", {"form": form, "issued": issued, "page": page})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke(token, actor=request.user)
    messages.success(request, f"Token {token.name} ({token.prefix}…) revoked.")
    return redirect("tokens")
