from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from releases import api, rule_api

urlpatterns = [
    path("environments/", api.EnvironmentListView.as_view(), name="api-environments"),
    path("metrics/dora/", api.DoraView.as_view(), name="api-dora"),
    path("environments/diff/", api.EnvironmentDiffView.as_view(), name="api-environment-diff"),
    path("environments/<id:pk>/", api.EnvironmentDetailView.as_view(), name="api-environment"),
    path(
        "environments/<id:pk>/history/", api.EnvironmentHistoryView.as_view(), name="api-environment-history"
    ),
    path(
        "models/<name:name>/versions/<id:number>/deployments/",
        api.VersionDeploymentsView.as_view(),
        name="api-version-deployments",
    ),
    path(
        "environments/<id:pk>/freeze-windows/", api.FreezeWindowListView.as_view(), name="api-freeze-windows"
    ),
    path(
        "environments/<id:pk>/freeze-windows/<id:window_id>/",
        api.FreezeWindowDetailView.as_view(),
        name="api-freeze-window",
    ),
    path("releases/", api.ReleaseListView.as_view(), name="api-releases"),
    path("releases/<id:pk>/", api.ReleaseDetailView.as_view(), name="api-release"),
    path("releases/<id:pk>/approve/", api.ApproveView.as_view(), name="api-release-approve"),
    path("releases/<id:pk>/reject/", api.RejectView.as_view(), name="api-release-reject"),
    path("releases/<id:pk>/cancel/", api.CancelView.as_view(), name="api-release-cancel"),
    path("releases/<id:pk>/rollback/", api.RollbackView.as_view(), name="api-release-rollback"),
    path("releases/<id:pk>/candidate/", api.CandidateView.as_view(), name="api-release-candidate"),
    path("releases/<id:pk>/events/", api.ReleaseEventsView.as_view(), name="api-release-events"),
    path("releases/<id:pk>/diff/", api.ReleaseDiffView.as_view(), name="api-release-diff"),
    path("rule-changes/", rule_api.RuleChangeListView.as_view(), name="api-rule-changes"),
    path("rule-changes/<id:pk>/approve/", rule_api.ApproveRuleChangeView.as_view(), name="api-rule-approve"),
    path("rule-changes/<id:pk>/reject/", rule_api.RejectRuleChangeView.as_view(), name="api-rule-reject"),
    path(
        "rule-changes/<id:pk>/withdraw/", rule_api.WithdrawRuleChangeView.as_view(), name="api-rule-withdraw"
    ),
    path("schedules/", api.ScheduleListView.as_view(), name="api-schedules"),
    path("schedules/<id:pk>/", api.ScheduleDetailView.as_view(), name="api-schedule"),
]
