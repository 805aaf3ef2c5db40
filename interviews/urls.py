from django.urls import path

from interviews import views

app_name = "interviews"

urlpatterns = [
    path("interview/start/", views.start, name="start"),
    path("interview/<uuid:pk>/", views.detail, name="detail"),
    path("interview/<uuid:pk>/answer/", views.answer, name="answer"),
    path("interview/<uuid:pk>/ask/", views.ask, name="ask"),
    path("interview/<uuid:pk>/finish/", views.finish, name="finish"),
    path("interview/<uuid:pk>/build/", views.build, name="build"),
    path("interview/<uuid:pk>/delete/", views.delete, name="delete"),
    path("profile/<uuid:pk>/", views.profile, name="profile"),
    path("profile/<uuid:pk>/field/<str:name>/", views.profile_field, name="profile_field"),
    path("profile/<uuid:pk>/remove/<str:name>/<int:index>/", views.profile_remove_item, name="profile_remove_item"),
]
