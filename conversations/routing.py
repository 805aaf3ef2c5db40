from django.urls import path

from conversations import consumers

websocket_urlpatterns = [
    path("conversation/stream", consumers.ConversationConsumer.as_asgi()),
]
