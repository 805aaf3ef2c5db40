from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("conversations/<uuid:pk>/", views.conversation_detail, name="detail"),
]
