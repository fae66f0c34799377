"""Pages of applications, builds and images."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from builds import jobs, services
from builds.forms import ApplicationForm, BuildNowForm
from builds.lookups import buildable_versions, version_suggestions
from builds.models import Application, Build
from builds.queries import BUILD_FILTERS, IMAGE_FILTERS, builds_queryset, images_queryset
from core import listing
from core.converters import parse_id
from core.errors import ServiceError
from core.forms import add_service_error
from core.http import HtmxHttpRequest
from core.jobstatus import JobFailure, last_failure
from core.widgets import render_suggestions


@login_required
@permission_required("builds.view_application", raise_exception=True)
def application_list(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("builds.add_application"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                application = services.create_application(form.cleaned_data, actor=request.user)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Application {application} created.")
                return redirect(application)
    applications = Application.objects.select_related("model").order_by("name")
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    return render(request, "builds/application_list.html", {"page": page, "form": form})


@login_required
@permission_required("builds.view_application", raise_exception=True)
def application_detail(request: HttpRequest, name: str) -> HttpResponse:
    application = get_object_or_404(Application.objects.select_related("model"), name=name)
    form = BuildNowForm(request.POST or None, application=application)
    if request.method == "POST":
        if not request.user.has_perm("builds.trigger_build"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                build, created = services.request_build(
                    application,
                    commit=form.cleaned_data["commit"] or None,
                    model_version=form.cleaned_data["model_version"],
                    actor=request.user,
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                if created:
                    messages.success(request, f"Build #{build.pk} queued.")
                elif build.commit:
                    messages.info(request, f"These inputs were already built: build #{build.pk}.")
                else:
                    messages.info(request, f"Build #{build.pk} of {build.requested} is already waiting.")
                return redirect(build)
    context = {
        "application": application,
        "failure": tag_sync_failure(),
        "form": form,
        "builds": builds_queryset().filter(application=application)[:20],
        "images": application.images.select_related("model_version__model").prefetch_related("tags")[:20],
        "environments": application.environments.select_related(
            "previous", "active_release", "current_release__model_version__model"
        ),
        "webhook_urls": {
            provider.replace("-", "_"): request.build_absolute_uri(
                f"/api/v1/webhooks/{provider}/{application.name}/"
            )
            for provider in ("github", "azure-repos")
        },
    }
    return render(request, "builds/application_detail.html", context)


@login_required
@permission_required("builds.view_application", raise_exception=True)
def model_version_suggestions(request: HttpRequest, name: str) -> HttpResponse:
    """htmx: the newest buildable versions matching what was typed into "Build now"."""
    application = get_object_or_404(Application.objects.select_related("model"), name=name)
    text = request.GET.get("model_version", "")
    return HttpResponse(render_suggestions(version_suggestions(buildable_versions(application), text)))


@login_required
@permission_required("builds.change_application", raise_exception=True)
def application_edit(request: HttpRequest, name: str) -> HttpResponse:
    application = get_object_or_404(Application, name=name)
    form = ApplicationForm(request.POST or None, instance=Application.objects.get(pk=application.pk))
    form.fields["name"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            application = services.update_application(application, form.cleaned_data, actor=request.user)
        except ServiceError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Application {application} saved.")
            return redirect(application)
    return render(request, "builds/application_edit.html", {"application": application, "form": form})


@login_required
@permission_required("builds.view_build", raise_exception=True)
def build_list(request: HttpRequest) -> HttpResponse:
    found = listing.page_of(request, builds_queryset(), BUILD_FILTERS)
    return render(request, "builds/build_list.html", {"listing": found, "page": found.page})


@login_required
@permission_required("builds.view_build", raise_exception=True)
def build_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    build = get_object_or_404(builds_queryset(), pk=pk)
    if request.htmx and request.GET.get("part") == "status":
        return render(request, "builds/_build_status.html", {"build": build})
    return render(request, "builds/build_detail.html", {"build": build, "log_offset": len(build.log)})


@login_required
@permission_required("builds.view_build", raise_exception=True)
def build_log(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the log text after ``offset``, plus the next poll (stops once the build ended)."""
    build = get_object_or_404(Build.objects.only("log", "state"), pk=pk)
    offset = parse_id(request.GET.get("offset")) or 0
    text = build.log[offset:]
    context = {"build": build, "text": text, "next_offset": offset + len(text)}
    return render(request, "builds/_build_log.html", context)


@login_required
@require_POST
def build_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    build = get_object_or_404(builds_queryset(), pk=pk)
    perm = "builds.cancel_build" if action == "cancel" else "builds.trigger_build"
    if action not in ("cancel", "retry") or not request.user.has_perm(perm):
        return render(request, "403.html", status=403)
    try:
        if action == "cancel":
            services.cancel_build(build, actor=request.user)
            messages.info(request, f"Cancellation of build #{build.pk} requested.")
        else:
            services.retry_build(build, actor=request.user)
            messages.success(request, f"Build #{build.pk} queued again.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(build)


@login_required
@permission_required("builds.view_image", raise_exception=True)
def image_list(request: HttpRequest) -> HttpResponse:
    found = listing.page_of(request, images_queryset(), IMAGE_FILTERS)
    context = {"listing": found, "page": found.page, "failure": tag_sync_failure()}
    return render(request, "builds/image_list.html", context)


def tag_sync_failure() -> JobFailure | None:
    return last_failure(jobs.sync_image_tags, "registry tag sync")


@login_required
@permission_required("builds.view_image", raise_exception=True)
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_object_or_404(images_queryset(), pk=pk)
    builds = builds_queryset().filter(image=image)[:50]  # a digest has one build, rarely a few
    return render(request, "builds/image_detail.html", {"image": image, "builds": builds})
