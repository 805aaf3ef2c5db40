from django.contrib import admin
from django.urls import include, path

from futureself import views
from futureself.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/signup/", views.signup, name="signup"),
    path("me/", views.my_data, name="my_data"),
    path("me/export/", views.my_data_export, name="my_data_export"),
    path("me/export.json", views.my_data_export_json, name="my_data_export_json"),
    path("me/export.md", views.my_data_export_markdown, name="my_data_export_markdown"),
    path("me/delete/", views.my_data_delete, name="my_data_delete"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("interviews.urls")),
    path("", include("personas.urls")),
    path("", include("conversations.urls")),
]

handler400 = "futureself.views.bad_request"
