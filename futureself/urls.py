from django.contrib import admin
from django.urls import include, path

from futureself import views
from futureself.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("interviews.urls")),
    path("", include("personas.urls")),
    path("", include("conversations.urls")),
]
