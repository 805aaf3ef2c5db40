"""Writes of the conversations app.

The engine calls the message writes through ``database_sync_to_async``; the API
and the web views call ``conversation_summarize`` and ``conversation_end``.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from conversations.models import Conversation, Debrief, Message
from futureself.errors import Conflict
from futureself.providers.base import ChatProvider
from futureself.providers.recording import provider_call_scope
from futureself.safety.leak import ensure_no_instructions
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


def _next_position(conversation: Conversation) -> int:
    last = conversation.messages.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


def _locked(conversation_id) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation_id)


@transaction.atomic
def message_add_user(
    *, conversation_id, text: str, input_mode: str = Message.InputMode.TEXT, audio_duration_ms: int | None = None
) -> Message:
    """Save what the person said, before any provider is called.

    Re-sending the text of the last, still unanswered message (a client retrying
    after a failure) returns that message instead of saving it twice.
    """
    conversation = _locked(conversation_id)
    last = conversation.messages.order_by("-position").first()
    if last is not None and last.role == Message.Role.USER and last.text == text:
        return last
    return Message.objects.create(
        conversation=conversation,
        position=_next_position(conversation),
        role=Message.Role.USER,
        text=text,
        input_mode=input_mode,
        audio_duration_ms=audio_duration_ms,
    )


def message_flag_unsafe(*, message_id: uuid.UUID) -> None:
    """Mark the person's message as answered by the safety response: no persona reply is due for it."""
    Message.objects.filter(pk=message_id, role=Message.Role.USER).update(safety_flagged=True)


@transaction.atomic
def message_add_reply(
    *, conversation_id, message_id: uuid.UUID, text: str, interrupted: bool, timings: dict[str, Any]
) -> Message:
    """Save the future self's reply (idempotent on ``message_id``)."""
    conversation = _locked(conversation_id)
    existing = Message.objects.filter(pk=message_id).first()
    if existing is not None:
        return existing
    return Message.objects.create(
        id=message_id,
        conversation=conversation,
        position=_next_position(conversation),
        role=Message.Role.FUTURE_SELF,
        text=text,
        interrupted=interrupted,
        timings=timings,
    )


def conversation_fold_memory(*, conversation_id, expected_through: int, new_through: int, summary: str) -> bool:
    """Store a new rolling summary, unless another fold got there first (optimistic update)."""
    updated = Conversation.objects.filter(pk=conversation_id, summarized_through=expected_through).update(
        rolling_summary=summary, summarized_through=new_through, updated_at=timezone.now()
    )
    return bool(updated)


def conversation_end(*, conversation: Conversation) -> Conversation:
    """Mark the conversation ended (idempotent)."""
    if conversation.status != Conversation.Status.ENDED:
        conversation.status = Conversation.Status.ENDED
        conversation.ended_at = timezone.now()
        conversation.save(update_fields=["status", "ended_at", "updated_at"])
    return conversation


def conversation_summarize(*, conversation: Conversation, chat: ChatProvider) -> Debrief:
    """Write the debrief of a conversation and end it.

    Raises ``Conflict`` when the person has said nothing, ``ProviderError`` when
    the chat provider fails (the conversation then stays as it was, so the
    call can be retried). A conversation debriefed before returns its debrief.
    """
    from conversations.engine import DebriefWriter, debrief_context

    existing = Debrief.objects.filter(conversation=conversation).first()
    if existing is not None:
        conversation_end(conversation=conversation)
        return existing
    if not conversation.messages.filter(role=Message.Role.USER).exclude(text="").exists():
        raise Conflict("Nothing was said in this conversation yet, so there is nothing to debrief.", code="empty")
    context = debrief_context(conversation)
    with provider_call_scope(conversation=conversation):
        data = async_to_sync(DebriefWriter(chat=chat).write)(context)
    ensure_no_instructions(data, what="debrief")
    with transaction.atomic():
        debrief, _ = Debrief.objects.get_or_create(conversation=conversation, defaults={"data": data.model_dump()})
        conversation_end(conversation=conversation)
    return debrief
