"""Brute-force protection of the two places that take a password: the login page and the
token endpoint.

* django-axes counts failed sign-ins per user name *and* client address in the database (so
  every web replica sees the same count) and locks that pair out for ``LOGIN_LOCKOUT_MINUTES``
  after ``LOGIN_FAILURE_LIMIT`` failures; the lockout is audited.
* A rate limit per client address (``SIGN_IN_RATE``, counted in the shared Redis cache) stops
  one address from trying many user names.

Both answer 429 with the reason: a page for the browser, a JSON body for the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.throttling import SimpleRateThrottle

from core import audit


class SignInRateThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address, whoever they claim to be."""

    scope = "sign-in"

    def get_rate(self) -> str:
        return settings.SIGN_IN_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def too_many(request: HttpRequest, reason: str, retry_after: int | None) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": reason, "code": "too_many_attempts"}, status=429)
    else:
        response = render(request, "registration/too_many.html", {"reason": reason}, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def lockout_response(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """What django-axes answers once a user name and address are locked out."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    reason = (
        f"Too many failed sign-ins for this user from your address: try again in {minutes} minutes, "
        "or ask an admin to unlock it."
    )
    return too_many(request, reason, minutes * 60)


LOCAL_LOGIN_OFF = "Sign-in with a password is turned off here"


def local_login_off_reason() -> str:
    return f"{LOCAL_LOGIN_OFF}: sign in with {settings.OIDC_PROVIDER_NAME}."


@method_decorator(sensitive_post_parameters(), name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login page, with the per-address rate limit on its POSTs, and the single sign-on
    button when a provider is configured (the form only while ``LOCAL_LOGIN`` is on)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["local_login"] = settings.LOCAL_LOGIN
        context["sso_provider"] = settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else ""
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_LOGIN:
            context = self.get_context_data(
                form=self.get_form_class()(request), refusal=local_login_off_reason()
            )
            return self.render_to_response(context, status=403)
        throttle = SignInRateThrottle()
        # Typed for DRF's Request and APIView; this throttle reads only the client address (META).
        if not throttle.allow_request(request, self):  # type: ignore[arg-type]
            wait = throttle.wait()
            return too_many(
                request, "Too many sign-in attempts from your address; wait a minute.", int(wait or 60)
            )
        return super().post(request, *args, **kwargs)


def record_lockout(sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any) -> None:
    """A lockout is a change of who may sign in: it goes into the audit trail."""
    from axes.models import AccessAttempt

    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return  # the lockout began earlier; this is one more refused attempt
    attempt = AccessAttempt.objects.filter(username=username, ip_address=ip_address).first()
    if attempt is not None:
        audit.record(
            "auth.locked_out",
            attempt,
            actor="system",
            after={"username": username, "ip_address": ip_address, "failures": attempt.failures_since_start},
        )


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's own login form takes a password: with ``LOCAL_LOGIN`` off it sends people to ours."""
    from django.contrib import admin
    from django.shortcuts import redirect
    from django.utils.http import urlencode

    if settings.LOCAL_LOGIN:
        return admin.site.login(request)
    target = request.GET.get("next", "/admin/")
    return redirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target})}")
