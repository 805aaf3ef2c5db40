from django.urls import path

from personas import views

app_name = "personas"

urlpatterns = [
    path("futures/generate/<uuid:profile_id>/", views.generate, name="generate"),
    path("futures/<uuid:generation_id>/", views.futures, name="futures"),
    path("futures/<uuid:generation_id>/avatars/", views.avatars, name="avatars"),
    path("selves/<uuid:pk>/avatar", views.avatar, name="avatar"),
    path("selves/<uuid:pk>/avatar/figure", views.avatar_figure, name="avatar_figure"),
    path("selves/<uuid:pk>/talk", views.talk, name="talk"),
    path("selves/<uuid:pk>/correct", views.correct, name="correct"),
]
