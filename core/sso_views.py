"""The two pages of single sign-on: the start (off to the provider) and the callback (back here).

A failure is never a 500: the callback shows what went wrong on a page of its own, and no user
is created before the provider's answer has been checked completely.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views import View
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from core import sso

SESSION_STATES = "oidc_states"  # where the library keeps state -> nonce, PKCE verifier
SESSION_NEXT = "oidc_login_next"
SESSION_SIGNED_IN_WITH = "signed_in_with"


def refused(request: HttpRequest, reason: str, status: int = 403) -> HttpResponse:
    return render(request, "registration/sso_refused.html", {"reason": reason}, status=status)


class StartView(OIDCAuthenticationRequestView):
    """Redirects to the provider's authorization endpoint with state, nonce and a PKCE challenge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        View.__init__(self, *args, **kwargs)  # the library's reads endpoints that may need discovery

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("single sign-on is not configured")
        try:
            endpoints = sso.provider_endpoints()
        except sso.SignInRefused as exc:
            return refused(request, exc.message, exc.status)
        self.OIDC_OP_AUTH_ENDPOINT = endpoints.authorization
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        response: HttpResponse = super().get(request)
        return response


class CallbackView(View):
    """Where the provider sends the browser back with a code and the state it was given."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("single sign-on is not configured")
        state = request.GET.get("state", "")
        states = request.session.get(SESSION_STATES) or {}
        started = states.pop(state, None) if state else None
        request.session[SESSION_STATES] = states  # a state is good for one answer only
        if error := request.GET.get("error"):
            detail = request.GET.get("error_description") or error
            return refused(request, f"{settings.OIDC_PROVIDER_NAME} did not sign you in: {detail[:300]}")
        if started is None or not request.GET.get("code"):
            return refused(
                request,
                "This sign-in answer does not belong to a sign-in this browser started (unknown or used "
                "state). Start again from the login page.",
                400,
            )
        request.session.save()  # before the slow part: the state is spent even if it fails
        try:
            user = sso.OIDCBackend().authenticate(
                request, nonce=started.get("nonce"), code_verifier=started.get("code_verifier")
            )
        except sso.SignInRefused as exc:
            return refused(request, exc.message, exc.status)
        if user is None or not user.is_active:
            return refused(request, "This account is disabled here; ask an admin.")
        next_url = request.session.get(SESSION_NEXT)
        auth.login(request, user, backend=sso.BACKEND)
        request.session[SESSION_SIGNED_IN_WITH] = settings.OIDC_PROVIDER_NAME
        return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
