"""Writes of the conversations app.

The engine calls the message writes through ``database_sync_to_async`` (the person's words on
a live connection through ``amessage_add_user``, sent from the event loop); the API and the web
views call ``conversation_summarize`` and ``conversation_end``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from conversations.models import Conversation, Debrief, Message
from futureself.db import loop_insert
from futureself.errors import Conflict
from futureself.limits import turn_counters
from futureself.ownership import Owner
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


def _insert_at(position: int | None, **fields: Any) -> Message | None:
    """Insert a message at the position the caller believes is next: one statement, no lock.

    None when the position (or the id) is taken, i.e. someone else wrote first: the caller
    then takes the locked path, which reads the conversation as it really is.
    """
    if position is None:
        return None
    try:
        if transaction.get_autocommit():  # one statement is atomic on its own: no BEGIN/COMMIT round trips
            return Message.objects.create(position=position, **fields)
        with transaction.atomic():  # inside a caller's transaction: a savepoint keeps it usable
            return Message.objects.create(position=position, **fields)
    except IntegrityError:
        return None


async def _ainsert_at(position: int | None, **fields: Any) -> Message | None:
    """``_insert_at`` sent from the event loop (``futureself.db.loop_insert``): no worker thread."""
    if position is None:
        return None
    try:
        return await loop_insert.acreate(Message, position=position, **fields)
    except IntegrityError:
        return None


def message_add_user(
    *,
    conversation_id,
    text: str,
    input_mode: str = Message.InputMode.TEXT,
    audio_duration_ms: int | None = None,
    position: int | None = None,
) -> Message:
    """Save what the person said, before any provider is called.

    Re-sending the text of the last, still unanswered message (a client retrying
    after a failure) returns that message instead of saving it twice. ``position``
    is the caller's knowledge of the next free position after a reply (a live
    connection keeps it): the message is then written in one insert.
    """
    fast = _insert_at(
        position,
        conversation_id=conversation_id,
        role=Message.Role.USER,
        text=text,
        input_mode=input_mode,
        audio_duration_ms=audio_duration_ms,
    )
    if fast is not None:
        return fast
    return _add_user_locked(
        conversation_id=conversation_id, text=text, input_mode=input_mode, audio_duration_ms=audio_duration_ms
    )


async def amessage_add_user(
    *,
    conversation_id,
    text: str,
    input_mode: str = Message.InputMode.TEXT,
    audio_duration_ms: int | None = None,
    position: int | None = None,
) -> Message:
    """``message_add_user`` for a live connection: with ``position`` the insert is sent from the
    event loop itself (``futureself.db.loop_insert``), no worker thread on the way; a taken
    position, or no ``position``, takes the locked path in the thread."""
    fast = await _ainsert_at(
        position,
        conversation_id=conversation_id,
        role=Message.Role.USER,
        text=text,
        input_mode=input_mode,
        audio_duration_ms=audio_duration_ms,
    )
    return fast or await database_sync_to_async(_add_user_locked)(
        conversation_id=conversation_id, text=text, input_mode=input_mode, audio_duration_ms=audio_duration_ms
    )


@transaction.atomic
def _add_user_locked(*, conversation_id, text: str, input_mode: str, audio_duration_ms: int | None) -> Message:
    conversation = _locked(conversation_id)
    last = conversation.messages.order_by("-position").first()
    if last is not None and last.role == Message.Role.USER and last.text == text:
        return last
    return Message.objects.create(
        conversation=conversation,
        position=0 if last is None else last.position + 1,
        role=Message.Role.USER,
        text=text,
        input_mode=input_mode,
        audio_duration_ms=audio_duration_ms,
    )


@dataclass(frozen=True, slots=True)
class Admission:
    """What a live turn needs to know before it starts."""

    open: bool
    tts_remaining: int | None  # voice characters left today; None: unlimited


def turn_admit(*, conversation_id, owner: Owner, ip: str | None, limits: bool = True) -> Admission:
    """One trip for everything a turn checks first: the conversation still open and, with
    ``limits``, the person's turn rate limit and LLM budget (raises ``RateLimited`` or
    ``BudgetExceeded``); and the voice budget left, which the reply then spends locally."""
    status = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True).get()
    if status == Conversation.Status.ENDED:
        return Admission(open=False, tts_remaining=None)
    return Admission(open=True, tts_remaining=turn_counters(owner=owner, ip=ip, scope="ws_turn", limits=limits))


def message_flag_unsafe(*, message_id: uuid.UUID) -> None:
    """Mark the person's message as answered by the safety response: no persona reply is due for it."""
    Message.objects.filter(pk=message_id, role=Message.Role.USER).update(safety_flagged=True)


def message_add_reply(
    *,
    conversation_id,
    message_id: uuid.UUID,
    text: str,
    interrupted: bool,
    timings: dict[str, Any],
    position: int | None = None,
) -> Message:
    """Save the future self's reply (idempotent on ``message_id``); ``position`` as in ``message_add_user``."""
    fields = {"text": text, "interrupted": interrupted, "timings": timings}
    fast = _insert_at(position, id=message_id, conversation_id=conversation_id, role=Message.Role.FUTURE_SELF, **fields)
    return fast or _add_reply_locked(conversation_id=conversation_id, message_id=message_id, **fields)


async def amessage_add_reply(
    *,
    conversation_id,
    message_id: uuid.UUID,
    text: str,
    interrupted: bool,
    timings: dict[str, Any],
    position: int | None = None,
) -> Message:
    """``message_add_reply`` for a live connection, the insert sent from the event loop (see
    ``amessage_add_user``)."""
    fields = {"text": text, "interrupted": interrupted, "timings": timings}
    fast = await _ainsert_at(
        position, id=message_id, conversation_id=conversation_id, role=Message.Role.FUTURE_SELF, **fields
    )
    return fast or await database_sync_to_async(_add_reply_locked)(
        conversation_id=conversation_id, message_id=message_id, **fields
    )


@transaction.atomic
def _add_reply_locked(
    *, conversation_id, message_id: uuid.UUID, text: str, interrupted: bool, timings: dict[str, Any]
) -> Message:
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

    Raises ``Conflict`` when the person has said nothing a model may read (nothing, or only
    safety-flagged messages), ``ProviderError`` when
    the chat provider fails (the conversation then stays as it was, so the
    call can be retried). A conversation debriefed before returns its debrief.
    """
    from conversations.engine import DebriefWriter, debrief_context, debriefable_messages

    existing = Debrief.objects.filter(conversation=conversation).first()
    if existing is not None:
        conversation_end(conversation=conversation)
        return existing
    # Safety-flagged messages never reach a model: when they are all the person said, there is nothing to debrief.
    if not debriefable_messages(conversation.messages.all()).exists():
        raise Conflict("Nothing was said in this conversation yet, so there is nothing to debrief.", code="empty")
    context = debrief_context(conversation)
    with provider_call_scope(conversation=conversation):
        data = async_to_sync(DebriefWriter(chat=chat).write)(context)
    ensure_no_instructions(data, what="debrief")
    with transaction.atomic():
        debrief, _ = Debrief.objects.get_or_create(conversation=conversation, defaults={"data": data.model_dump()})
        conversation_end(conversation=conversation)
    return debrief
