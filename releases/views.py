"""Pages of environments and releases, the approvals inbox, and the release actions."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from builds.lookups import build_suggestions, releasable_builds
from builds.models import Application
from core import listing
from core.converters import parse_id
from core.errors import ServiceError
from core.forms import add_service_error, add_validation_error, describe_errors
from core.http import HtmxHttpRequest, signed_in
from core.widgets import render_suggestions
from releases import rules, services, waiting
from releases.diff import release_diff
from releases.forms import (
    DecisionForm,
    EnvironmentForm,
    FreezeWindowForm,
    RequestReleaseForm,
    RollbackForm,
    ScheduleForm,
)
from releases.inbox import approval_refusals
from releases.models import Environment, Release, RuleChange, Schedule
from releases.queries import RELEASE_FILTERS, environments, releases
from releases.serializers import EnvironmentSerializer

VIEW_RELEASES = "releases.view_release"


@login_required
@permission_required("releases.view_environment", raise_exception=True)
def environment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    environment = get_object_or_404(environments(), pk=pk)
    form = RequestReleaseForm(request.POST or None, environment=environment)
    if request.method == "POST":
        if not request.user.has_perm("releases.add_release"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                if form.cleaned_data["scheduled_for"] and not request.user.has_perm(
                    "releases.schedule_release"
                ):
                    raise ServiceError("Your role does not allow scheduling releases.", field="scheduled_for")
                release = services.request_release(
                    environment,
                    build=form.cleaned_data["build"],
                    actor=request.user,
                    scheduled_for=form.cleaned_data["scheduled_for"],
                    note=form.cleaned_data["note"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                outcome = (
                    "waits for approval"
                    if release.state == Release.State.REQUESTED
                    else f"is {release.state}"
                )
                messages.success(request, f"Release #{release.pk} requested; it {outcome}.")
                return redirect(release)
    history = waiting.annotate(releases().filter(environment=environment)[:30])
    can_roll_back = (
        environment.current_release is not None and services.previous_good(environment) is not None
    )
    context = {
        "environment": environment,
        "can_roll_back": can_roll_back,
        "url": EnvironmentSerializer().get_url(environment),
        "form": form,
        "history": history,
        "schedules": environment.schedules.select_related("owner"),
        "schedule_form": ScheduleForm(),
        "freeze_form": FreezeWindowForm(),
        "frozen": services.active_freeze(environment),
        "rule_changes": [
            (change, rules.why_not_decide(change, request.user), rules.describe(change))
            for change in environment.rule_changes.filter(state=RuleChange.State.PENDING).select_related(
                "proposed_by"
            )[:20]
        ],
    }
    return render(request, "releases/environment_detail.html", context)


@login_required
@permission_required("releases.add_environment", raise_exception=True)
def environment_new(request: HttpRequest, name: str) -> HttpResponse:
    application = get_object_or_404(Application, name=name)
    form = EnvironmentForm(request.POST or None, application=application)

    def create() -> Environment:
        fields = {**form.service_fields(), "application": application, "name": form.cleaned_data["name"]}
        return services.create_environment(fields, actor=request.user)

    return _environment_form(request, form, application, None, create, "created")


@login_required
@permission_required("releases.change_environment", raise_exception=True)
def environment_settings(request: HttpRequest, pk: int) -> HttpResponse:
    environment = get_object_or_404(environments(), pk=pk)
    form = EnvironmentForm(request.POST or None, application=environment.application, environment=environment)

    def update() -> Environment:
        return services.update_environment(environment, form.service_fields(), actor=request.user)[0]

    return _environment_form(request, form, environment.application, environment, update, "saved")


def _environment_form(
    request: HttpRequest,
    form: EnvironmentForm,
    application: Application,
    environment: Environment | None,
    save: Callable[[], Environment],
    done: str,
) -> HttpResponse:
    """The environment form page: on a valid POST ``save`` through the service, then show the
    environment; a refusal or a model check shows on the form."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save()
        except ServiceError as exc:
            add_service_error(form, exc)
        except ValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, f"Environment {saved} {done}.{_proposed_note(saved)}")
            return redirect(saved)
    context = {"form": form, "application": application, "environment": environment}
    return render(request, "releases/environment_form.html", context)


def _proposed_note(environment: Environment) -> str:
    pending = environment.rule_changes.filter(state=RuleChange.State.PENDING).exists()
    return " Weaker approval rules wait for a second person (shown below)." if pending else ""


@login_required
@permission_required("builds.view_build", raise_exception=True)
def candidate_suggestions(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the newest succeeded builds matching what was typed as a release's candidate."""
    environment = get_object_or_404(Environment.objects.select_related("application"), pk=pk)
    builds = releasable_builds(environment.application)
    return HttpResponse(render_suggestions(build_suggestions(builds, request.GET.get("build", ""))))


@login_required
@require_POST
def environment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    environment = get_object_or_404(Environment, pk=pk)
    handlers = {
        "rollback": ("releases.rollback_release", _rollback),
        "schedule": ("releases.schedule_release", _add_schedule),
        "freeze": ("releases.change_environment", _add_freeze),
        "rule-change": ("releases.view_environment", _decide_rule_change),
    }
    if action not in handlers or not request.user.has_perm(handlers[action][0]):
        return render(request, "403.html", status=403)
    try:
        handlers[action][1](request, environment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(environment)


def _decide_rule_change(request: HttpRequest, environment: Environment) -> None:
    change = get_object_or_404(environment.rule_changes, pk=parse_id(request.POST.get("change")) or 0)
    decision = request.POST.get("decision")
    if decision == "withdraw":
        rules.withdraw(change, actor=request.user)
    elif decision in ("approve", "reject"):
        rules.decide(
            change, approve=decision == "approve", actor=request.user, reason=request.POST.get("reason", "")
        )
    else:
        raise ServiceError("Choose approve, reject or withdraw.")
    messages.success(request, f"Rule change #{change.pk}: {decision} recorded.")


def _rollback(request: HttpRequest, environment: Environment) -> None:
    form = RollbackForm(request.POST)
    if not form.is_valid():
        raise ServiceError(f"Not rolled back: {describe_errors(form.errors)}")
    release = services.rollback(environment, actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, f"Rollback queued as release #{release.pk}.")


def _add_schedule(request: HttpRequest, environment: Environment) -> None:
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        raise ServiceError(f"Schedule not saved: {describe_errors(form.errors)}")
    fields = {**form.cleaned_data, "environment": environment}
    schedule = services.save_schedule(Schedule(owner=signed_in(request.user)), fields, actor=request.user)
    messages.success(request, f"Schedule saved: {schedule}.")


def _add_freeze(request: HttpRequest, environment: Environment) -> None:
    form = FreezeWindowForm(request.POST)
    if not form.is_valid():
        raise ServiceError(f"Freeze window not saved: {describe_errors(form.errors)}")
    services.add_freeze_window(environment, form.cleaned_data, actor=request.user)
    messages.success(request, "Freeze window added.")


@login_required
@permission_required(VIEW_RELEASES, raise_exception=True)
def release_list(request: HttpRequest) -> HttpResponse:
    found = listing.page_of(request, releases(), RELEASE_FILTERS)
    context = {"listing": found, "rows": waiting.annotate(found.page)}
    return render(request, "releases/release_list.html", context)


@login_required
@permission_required(VIEW_RELEASES, raise_exception=True)
def release_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    release = get_object_or_404(releases(), pk=pk)
    waiting.annotate([release])
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, "releases/_progress.html", {"release": release})
    context = {
        "release": release,
        "diff": release_diff(release),
        "valid_approvals": services.valid_approvals(release),
        "approval_refusal": services.can_approve(release, request.user),
        "can_roll_back": release.environment.current_release_id == release.pk
        and services.previous_good(release.environment, before=release) is not None,
        "form": DecisionForm(),
        "candidate_form": RequestReleaseForm(
            environment=release.environment, initial={"build": release.build_id}
        ),
    }
    return render(request, "releases/release_detail.html", context)


ACTIONS = {
    "candidate": "releases.add_release",
    "approve": "releases.approve_release",
    "reject": "releases.approve_release",
    "cancel": "releases.add_release",
    "rollback": "releases.rollback_release",
    "break-glass": "releases.break_glass",
}


@login_required
@require_POST
def release_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    release = services.get_release(pk)
    if action not in ACTIONS or not request.user.has_perm(ACTIONS[action]):
        return render(request, "403.html", status=403)
    decision = DecisionForm(request.POST)
    try:
        if not decision.is_valid():
            raise ServiceError(f"Not done: {describe_errors(decision.errors)}")
        comment = decision.cleaned_data["comment"]
        if action == "approve":
            services.approve(release, actor=request.user, comment=comment)
        elif action == "reject":
            services.reject(release, actor=request.user, comment=comment)
        elif action == "cancel":
            services.cancel(release, actor=request.user, reason=comment)
        elif action == "candidate":
            form = RequestReleaseForm(request.POST, environment=release.environment)
            if not form.is_valid():
                raise ServiceError(f"Candidate not changed: {describe_errors(form.errors)}")
            services.change_candidate(release, build=form.cleaned_data["build"], actor=request.user)
        elif action == "rollback":
            release = services.rollback(release.environment, actor=request.user, reason=comment)
        else:
            services.allow_break_glass(release, actor=request.user, reason=comment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Done: {action}.")
    return redirect(release)


@login_required
@permission_required("releases.approve_release", raise_exception=True)
def approvals_inbox(request: HttpRequest) -> HttpResponse:
    pending = (
        releases()
        .select_related("environment__approver_group")
        .filter(state=Release.State.REQUESTED)
        .order_by("requested_at", "pk")
    )
    page = Paginator(pending, 50).get_page(request.GET.get("page"))
    waiting_here = list(page.object_list)
    refusals = approval_refusals(waiting_here, request.user)
    rows = [(release, refusals[release.pk]) for release in waiting.annotate(waiting_here)]
    return render(request, "releases/approvals.html", {"rows": rows, "page": page})
