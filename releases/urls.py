from django.urls import path

import core.converters  # noqa: F401  (registers the "id" path converter)
from releases import views

app_name = "releases"
urlpatterns = [
    path("environments/<id:pk>/", views.environment_detail, name="environment"),
    path("environments/<id:pk>/candidates/", views.candidate_suggestions, name="candidates"),
    path("environments/<id:pk>/settings/", views.environment_settings, name="environment_settings"),
    path("applications/<name:name>/environments/new/", views.environment_new, name="environment_new"),
    path("environments/<id:pk>/<str:action>/", views.environment_action, name="environment_action"),
    path("releases/", views.release_list, name="releases"),
    path("releases/<id:pk>/", views.release_detail, name="release"),
    path("releases/<id:pk>/<str:action>/", views.release_action, name="release_action"),
    path("approvals/", views.approvals_inbox, name="approvals"),
]
