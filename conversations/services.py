"""Writes of the conversations app."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations.models import Conversation
from personas.models import FutureSelf


@transaction.atomic
def conversation_start(*, future_self: FutureSelf) -> Conversation:
    """Select a future self and open a new conversation with it (each selection starts a new one)."""
    future_self.selected_at = timezone.now()
    future_self.save(update_fields=["selected_at", "updated_at"])
    return Conversation.objects.create(future_self=future_self)


def stream_path(conversation: Conversation) -> str:
    """The WebSocket path a client connects to for this conversation."""
    return f"/conversation/stream?conversation_id={conversation.pk}"
