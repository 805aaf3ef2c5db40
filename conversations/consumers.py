"""The ``/conversation/stream`` WebSocket: a thin relay to the conversation engine."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer


class ConversationConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=4501)
