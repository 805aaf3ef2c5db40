from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("conversations/<uuid:pk>/", views.conversation_detail, name="detail"),
    path("conversations/<uuid:pk>/end/", views.conversation_end_and_debrief, name="end"),
    path("conversations/<uuid:pk>/debrief/", views.conversation_debrief, name="debrief"),
    path("conversations/<uuid:pk>/delete/", views.conversation_remove, name="delete"),
]
