"""The notifications page: channels, their settings and delivery logs, and "send test".

Pages read rows only: a test is queued here and sent by a worker. A new secret is shown in the
answer to the form that set it, and never again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from core.forms import add_service_error
from notifications import queries, services
from notifications.forms import ChannelForm
from notifications.models import NotificationChannel

VIEW = "notifications.view_notificationchannel"
DELIVERIES_PER_PAGE = 50


@login_required
@permission_required(VIEW, raise_exception=True)
def channel_list(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("notifications.add_notificationchannel"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                channel, secret = services.create_channel(form.service_fields(), actor=request.user)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Channel {channel} created.")
                return _detail(request, services.get_channel(channel.pk), revealed=secret)
    page = Paginator(queries.channels(), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/channel_list.html", {"page": page, "form": form})


@login_required
@permission_required(VIEW, raise_exception=True)
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(pk)
    if request.method != "POST":
        return _detail(request, channel)
    if not request.user.has_perm("notifications.change_notificationchannel"):
        return render(request, "403.html", status=403)
    form = ChannelForm(request.POST, channel=channel)
    if form.is_valid():
        try:
            channel, secret = services.update_channel(channel, form.service_fields(), actor=request.user)
        except ServiceError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Channel {channel} saved.")
            return _detail(request, services.get_channel(channel.pk), revealed=secret)
    return _detail(request, channel, form=form)


@login_required
@permission_required("notifications.change_notificationchannel", raise_exception=True)
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(pk)
    delivery = services.send_test(channel, actor=request.user)
    messages.success(request, f"Test message queued (delivery #{delivery.pk}); its outcome shows below.")
    return redirect(channel)


@login_required
@permission_required("notifications.delete_notificationchannel", raise_exception=True)
@require_POST
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(pk)
    services.delete_channel(channel, actor=request.user)
    messages.success(request, f"Channel {channel} deleted.")
    return redirect("notifications:channels")


def _channel(pk: int) -> NotificationChannel:
    try:
        return services.get_channel(pk)
    except ServiceError:
        raise Http404(f"No notification channel #{pk}.") from None


def _detail(
    request: HttpRequest,
    channel: NotificationChannel,
    *,
    form: ChannelForm | None = None,
    revealed: Any = None,
) -> HttpResponse:
    page = Paginator(queries.deliveries(channel), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "channel": channel,
        "form": form or ChannelForm(channel=channel),
        "page": page,
        "revealed": revealed,
    }
    return render(request, "notifications/channel_detail.html", context)
