"""Cluster pages: everyone with a role sees the clusters (never their credentials); admins edit,
delete and test them. Testing queues a job: pages never call a cluster."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clusters import services
from clusters.forms import ClusterForm, ConnectionTestForm
from clusters.models import Cluster
from core.errors import ServiceError
from core.forms import add_service_error


@login_required
@permission_required("clusters.view_cluster", raise_exception=True)
def cluster_list(request: HttpRequest) -> HttpResponse:
    form = ClusterForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("clusters.add_cluster"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                cluster = services.create_cluster(form.service_fields(), actor=request.user)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Cluster {cluster} added. Test its connection below.")
                return redirect("clusters:cluster", cluster.pk)
    page = Paginator(Cluster.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "clusters/cluster_list.html", {"page": page, "form": form})


@login_required
@permission_required("clusters.view_cluster", raise_exception=True)
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    form = ClusterForm(request.POST or None, cluster=cluster)
    if request.method == "POST":
        if not request.user.has_perm("clusters.change_cluster"):
            return render(request, "403.html", status=403)
        if form.is_valid():
            try:
                cluster = services.update_cluster(cluster, form.service_fields(), actor=request.user)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"Cluster {cluster} saved.")
                return redirect("clusters:cluster", cluster.pk)
    context = {
        "cluster": cluster,
        "form": form,
        "test_form": ConnectionTestForm(initial={"namespace": cluster.check_namespace}),
    }
    return render(request, "clusters/cluster_detail.html", context)


@login_required
@require_POST
@permission_required("clusters.change_cluster", raise_exception=True)
def cluster_test(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    form = ConnectionTestForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError("Name the namespace to check permissions in.")
        services.request_connection_test(cluster, form.cleaned_data["namespace"], actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Connection test queued; the result appears here in a few seconds.")
    return redirect("clusters:cluster", cluster.pk)


@login_required
@require_POST
@permission_required("clusters.delete_cluster", raise_exception=True)
def cluster_delete(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    try:
        services.delete_cluster(cluster, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("clusters:cluster", cluster.pk)
    messages.success(request, f"Cluster {cluster} deleted.")
    return redirect("clusters:clusters")
