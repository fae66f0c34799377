from django.urls import path

from releases import api

urlpatterns = [
    path("environments/", api.EnvironmentListView.as_view(), name="api-environments"),
    path("environments/<int:pk>/", api.EnvironmentDetailView.as_view(), name="api-environment"),
    path(
        "environments/<int:pk>/freeze-windows/", api.FreezeWindowListView.as_view(), name="api-freeze-windows"
    ),
    path(
        "environments/<int:pk>/freeze-windows/<int:window_id>/",
        api.FreezeWindowDetailView.as_view(),
        name="api-freeze-window",
    ),
    path("releases/", api.ReleaseListView.as_view(), name="api-releases"),
    path("releases/<int:pk>/", api.ReleaseDetailView.as_view(), name="api-release"),
    path("releases/<int:pk>/approve/", api.ApproveView.as_view(), name="api-release-approve"),
    path("releases/<int:pk>/reject/", api.RejectView.as_view(), name="api-release-reject"),
    path("releases/<int:pk>/cancel/", api.CancelView.as_view(), name="api-release-cancel"),
    path("releases/<int:pk>/rollback/", api.RollbackView.as_view(), name="api-release-rollback"),
    path("releases/<int:pk>/events/", api.ReleaseEventsView.as_view(), name="api-release-events"),
    path("releases/<int:pk>/diff/", api.ReleaseDiffView.as_view(), name="api-release-diff"),
    path("schedules/", api.ScheduleListView.as_view(), name="api-schedules"),
    path("schedules/<int:pk>/", api.ScheduleDetailView.as_view(), name="api-schedule"),
]
