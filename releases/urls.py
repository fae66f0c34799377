from django.urls import path

from releases import views

app_name = "releases"
urlpatterns = [
    path("environments/<int:pk>/", views.environment_detail, name="environment"),
    path("environments/<int:pk>/<str:action>/", views.environment_action, name="environment_action"),
    path("releases/", views.release_list, name="releases"),
    path("releases/<int:pk>/", views.release_detail, name="release"),
    path("releases/<int:pk>/<str:action>/", views.release_action, name="release_action"),
    path("approvals/", views.approvals_inbox, name="approvals"),
]
