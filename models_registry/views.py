"""Pages of the model registry. Views parse, check permission, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core import jobrunner, listing
from core.converters import parse_id
from core.errors import ServiceError
from core.forms import add_service_error
from core.http import HtmxHttpRequest
from core.jobstatus import last_failure
from models_registry import jobs, services
from models_registry.downloads import download_response
from models_registry.forms import ModelForm, StatusForm, VersionForm
from models_registry.models import ModelVersion, RegisteredModel
from models_registry.queries import MODEL_FILTERS, get_version, models_with_counts

VIEW = "models_registry.view_registeredmodel"
VERSIONS_PER_PAGE = 50


@login_required
@permission_required(VIEW, raise_exception=True)
def model_list(request: HttpRequest) -> HttpResponse:
    form = ModelForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("models_registry.add_registeredmodel"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                model = services.create_model(
                    form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    actor=request.user,
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Model {model.name} created.")
                return redirect(model)
    failure = last_failure(jobs.sync_model_store, "model store sync")
    found = listing.page_of(request, models_with_counts(), MODEL_FILTERS)
    context = {"listing": found, "models": found.page, "form": form, "failure": failure}
    return render(request, "models_registry/model_list.html", context)


def _metric_names(versions: list[ModelVersion]) -> list[str]:
    """All metric names of these versions, sorted (JSON key order is not kept by PostgreSQL)."""
    return sorted({name for version in versions for name in version.metrics})


@login_required
@permission_required(VIEW, raise_exception=True)
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    model = get_object_or_404(RegisteredModel.objects.select_related("owner"), name=name)
    paginator = Paginator(model.versions.select_related("created_by").order_by("-version"), VERSIONS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    versions = list(page.object_list)
    metric_names = _metric_names(versions)
    rows = [(v, [v.metrics.get(m) for m in metric_names]) for v in versions]
    context = {"model": model, "rows": rows, "metric_names": metric_names, "page": page}
    return render(request, "models_registry/model_detail.html", context)


@login_required
@permission_required("models_registry.add_modelversion", raise_exception=True)
def version_create(request: HttpRequest, name: str) -> HttpResponse:
    model = get_object_or_404(RegisteredModel, name=name)
    form = VersionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if getattr(request, "upload_too_large", False):
            form.add_error("file", "The file is larger than the configured MAX_UPLOAD_BYTES.")
        elif form.is_valid():
            try:
                version, created = _register(request, model, form)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.add_message(request, *_registered_message(version, created))
                return redirect(version)
    return render(request, "models_registry/version_form.html", {"model": model, "form": form})


def _register(request: HttpRequest, model: RegisteredModel, form: VersionForm) -> tuple[ModelVersion, bool]:
    data = form.cleaned_data
    info = services.VersionInfo(
        metrics=services.clean_metrics(data["metrics"]),
        framework=data["framework"],
        description=data["description"],
    )
    if data.get("file"):
        upload = data["file"]
        info = services.VersionInfo(info.metrics, info.framework, info.description, upload.name)
        return services.register_uploaded_version(model, upload, info, actor=request.user)
    return services.request_referenced_version(model, data["key"], info, actor=request.user)


def _registered_message(version: ModelVersion, created: bool) -> tuple[int, str]:
    if version.state == ModelVersion.State.PENDING:
        return messages.INFO, (
            f"{version} is pending: a worker is hashing and pinning {version.source_key}. "
            "It can be built once it is ready."
        )
    if created:
        return messages.SUCCESS, f"Registered {version} (sha256 {version.sha256[:12]}…)."
    return messages.INFO, f"This content is already registered as {version}."


@login_required
@permission_required("models_registry.view_modelversion", raise_exception=True)
def version_detail(request: HtmxHttpRequest, name: str, number: int) -> HttpResponse:
    version = get_version(name, number)
    if request.htmx and request.GET.get("part") == "content":
        return render(request, "models_registry/_version_content.html", {"version": version})
    form = StatusForm(request.POST or None, initial={"status": version.status})
    if request.method == "POST":
        if not request.user.has_perm("models_registry.change_modelversion_status"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                version = services.change_status(
                    version,
                    form.cleaned_data["status"],
                    reason=form.cleaned_data["status_reason"],
                    actor=request.user,
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"{version} is now {version.status}.")
                return redirect(version)
    allowed = [s for s in ModelVersion.Status if version.can_become(s)]
    context = {"version": version, "form": form, "allowed_statuses": allowed, **lineage(version)}
    return render(request, "models_registry/version_detail.html", context)


def lineage(version: ModelVersion) -> dict[str, object]:
    """Builds (with their images) of this version, images found by the tag sync that contain it,
    where it runs now and where it ran (the newest ``RAN_LIMIT`` periods).

    Reverse relations keep the registry free of imports from the builds app.
    """
    builds = list(version.builds.select_related("application", "image").order_by("-created_at")[:50])
    built = {b.image_id for b in builds}
    others = [i for i in version.images.select_related("application")[:50] if i.pk not in built]
    running = [
        r.environment
        for r in version.releases.filter(environment__current_release=models.F("pk")).select_related(
            "environment__application"
        )
    ]
    ran = (
        version.releases.filter(run_periods__isnull=False)
        .values(
            "pk",
            "environment_id",
            "environment__name",
            "environment__application__name",
            "run_periods__started_at",
            "run_periods__ended_at",
        )
        .order_by("-run_periods__started_at")[:RAN_LIMIT]
    )
    return {
        "builds": builds,
        "other_images": others,
        "running_in": running,
        "ran": list(ran),
        "ran_limit": RAN_LIMIT,
    }


RAN_LIMIT = 50


@login_required
@permission_required("models_registry.view_modelversion", raise_exception=True)
def version_download(request: HttpRequest, name: str, number: int) -> StreamingHttpResponse | HttpResponse:
    version = get_version(name, number)
    try:
        return download_response(version)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(version)


@login_required
@permission_required("models_registry.view_modelversion", raise_exception=True)
def compare(request: HttpRequest, name: str) -> HttpResponse:
    model = get_object_or_404(RegisteredModel, name=name)
    numbers = [n for n in map(parse_id, request.GET.getlist("v")) if n is not None][:2]
    versions = list(model.versions.filter(version__in=numbers).order_by("version"))
    if len(versions) != 2:
        messages.error(request, "Pick two versions to compare.")
        return redirect(model)
    left, right = versions
    rows = []
    for metric in _metric_names(versions):
        a, b = left.metrics.get(metric), right.metrics.get(metric)
        delta = b - a if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append((metric, a, b, delta))
    context = {"model": model, "left": left, "right": right, "rows": rows}
    return render(request, "models_registry/compare.html", context)


@login_required
@permission_required("models_registry.sync_model_store", raise_exception=True)
def sync_now(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("models_registry:list")
    run = jobrunner.start_for(request.user, jobs.sync_model_store)
    if run is None:
        messages.info(request, "A sync of the model store is already queued or running.")
    else:
        messages.success(request, "Sync of the model store queued.")
    return redirect("jobs")
