"""``/api/conversation/...``: a conversation with its messages, and its debrief."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Router, Status

from conversations.models import Conversation, Debrief
from conversations.schemas import ConversationOut, DebriefOut, MessageOut, SummarizeIn
from conversations.selectors import conversation_get_for_owner
from conversations.services import conversation_summarize, stream_path
from futureself.api_errors import PROVIDER, WRITE, errors
from futureself.limits import provider_backed
from futureself.privacy import conversation_delete
from futureself.providers import registry

router = Router(tags=["conversations"])


def debrief_out(debrief: Debrief) -> DebriefOut:
    return DebriefOut(conversation_id=debrief.conversation_id, created_at=debrief.created_at, **debrief.data)


def conversation_out(conversation: Conversation) -> ConversationOut:
    debrief = Debrief.objects.filter(conversation=conversation).first()
    return ConversationOut(
        id=conversation.pk,
        future_self_id=conversation.future_self_id,
        status=conversation.status,
        created_at=conversation.created_at,
        ended_at=conversation.ended_at,
        stream_path=stream_path(conversation),
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in conversation.messages.all()],
        debrief=debrief_out(debrief) if debrief else None,
    )


@router.post(
    "/conversation/summarize",
    response={200: DebriefOut, **errors(*WRITE, 404, 409, 422, *PROVIDER, 429)},
    summary="Write the debrief and end the conversation",
)
@provider_backed("generation")
def summarize(request: HttpRequest, payload: SummarizeIn):
    """409 when nothing was said yet; 503 (retryable) when the chat provider fails. Calling it
    again on a debriefed conversation returns the same debrief."""
    conversation = conversation_get_for_owner(owner=request.auth, pk=payload.conversation_id)
    return debrief_out(conversation_summarize(conversation=conversation, chat=registry.chat()))


@router.get(
    "/conversation/{conversation_id}",
    response={200: ConversationOut, **errors(404, 422)},
    summary="A conversation with its messages",
)
def conversation_detail(request: HttpRequest, conversation_id: uuid.UUID):
    return conversation_out(conversation_get_for_owner(owner=request.auth, pk=conversation_id))


@router.delete(
    "/conversation/{conversation_id}",
    response={204: None, **errors(403, 404, 422)},
    summary="Delete a conversation with its messages and debrief (the future self stays)",
)
def conversation_remove(request: HttpRequest, conversation_id: uuid.UUID):
    conversation_delete(conversation=conversation_get_for_owner(owner=request.auth, pk=conversation_id))
    return Status(204, None)
