"""The ``/conversation/stream`` WebSocket: a thin relay to the conversation engine.

It parses frames, authenticates, checks ownership through the selector, and
relays to ``ConversationEngine``; the protocol is documented in
``docs/protocol.md``. Each reply runs as one asyncio task (``self.reply_task``)
so that an interrupt (or, with voice, barge-in) can cancel all of its work at
once. Binary frames are reserved for audio (voice issue).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.urls import NoReverseMatch, reverse

from conversations import services
from conversations.engine import ConversationEngine, Reply, ReplyEnd, ReplyEvent
from conversations.models import Conversation
from conversations.selectors import conversation_get_for_owner
from futureself.auth import user_for_token
from futureself.ownership import Owner, owner_from_scope
from futureself.providers import registry
from futureself.providers.base import ProviderError
from futureself.providers.recording import provider_call_scope

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_START_TIMEOUT = 4408
OUTPUT_AUDIO_FORMATS = ("mp3_44100_128", "pcm_16000", "none")


class FrameError(Exception):
    """A frame the consumer refuses; the connection stays usable."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


def avatar_url(future_self) -> str | None:
    if not future_self.avatar:
        return None
    try:
        return reverse("personas:avatar", args=[future_self.pk])
    except NoReverseMatch:
        return None


def _history(conversation: Conversation) -> list[dict[str, Any]]:
    return [
        {
            "message_id": str(m.pk),
            "role": m.role,
            "text": m.text,
            "interrupted": m.interrupted,
            "input_mode": m.input_mode,
            "timings": m.timings,
            "created_at": m.created_at.isoformat(),
        }
        for m in conversation.messages.order_by("position")
    ]


def _ready_payload(conversation: Conversation) -> dict[str, Any]:
    future_self = conversation.future_self
    card = future_self.card
    history = _history(conversation)
    return {
        "type": "ready",
        "conversation_id": str(conversation.pk),
        "status": conversation.status,
        "future_self": {
            "id": str(future_self.pk),
            "name": card.get("title") or future_self.path,
            "path": future_self.path,
            "years_ahead": future_self.years_ahead,
            "tagline": card.get("tagline", ""),
            "avatar_url": avatar_url(future_self),
        },
        "voice_enabled": False,
        "history": history,
        "awaiting_reply": bool(history) and history[-1]["role"] == "user",
    }


class ConversationConsumer(AsyncWebsocketConsumer):
    # A socket that never sends a valid ``start`` is closed, so idle unauthenticated sockets do not pile up.
    start_timeout_seconds = 30.0

    async def connect(self) -> None:
        self.conversation: Conversation | None = None
        self.engine: ConversationEngine | None = None
        self.reply: Reply | None = None
        self.reply_task: asyncio.Task | None = None
        self.memory_task: asyncio.Task | None = None
        self.sent_end_id: uuid.UUID | None = None
        self.output_audio = "none"
        # Accept first: a close code (4401, 4404) can only reach the client on an open socket.
        await self.accept()
        self.start_deadline = asyncio.get_running_loop().call_later(
            self.start_timeout_seconds, lambda: asyncio.ensure_future(self._close_unstarted())
        )

    async def _close_unstarted(self) -> None:
        if self.conversation is None:
            await self.close(code=CLOSE_START_TIMEOUT)

    async def disconnect(self, code: int) -> None:
        self.start_deadline.cancel()
        await self._stop_reply()
        if self.memory_task is not None and not self.memory_task.done():
            self.memory_task.cancel()
            await asyncio.gather(self.memory_task, return_exceptions=True)

    # -- frames --

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        received_at = time.perf_counter()
        try:
            if bytes_data is not None:
                raise FrameError("audio_not_enabled", "Binary frames carry audio, which this connection does not take.")
            message = self._parse(text_data)
            kind = message.get("type")
            if kind == "start":
                await self.on_start(message)
                return
            handler = {
                "text": self.on_text,
                "interrupt": self.on_interrupt,
                "retry": self.on_retry,
                "end": self.on_end,
            }.get(kind)
            if handler is None:
                raise FrameError("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")
            if self.conversation is None:
                raise FrameError("not_started", 'Send {"type": "start", ...} first.')
            await handler(message, received_at)
        except FrameError as exc:
            await self.send_json(
                {"type": "error", "code": exc.code, "message": exc.message, "retryable": exc.retryable}
            )

    def _parse(self, text_data: str | None) -> dict[str, Any]:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            raise FrameError("bad_json", "Frames must be JSON objects with a 'type'.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise FrameError("bad_json", "Frames must be JSON objects with a 'type'.")
        return message

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, default=str))

    # -- start --

    async def on_start(self, message: dict[str, Any]) -> None:
        if self.conversation is not None:
            raise FrameError("already_started", "This connection has already started a conversation.")
        owner = await self._owner(message.get("token"))
        if owner.is_anonymous:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        raw_id = message.get("conversation_id") or self._query_param("conversation_id")
        if not raw_id:
            raise FrameError("missing_conversation_id", "Give conversation_id in the start message or the URL.")
        output_audio = message.get("output_audio") or "none"
        if output_audio not in OUTPUT_AUDIO_FORMATS:
            raise FrameError("bad_output_audio", f"output_audio must be one of {', '.join(OUTPUT_AUDIO_FORMATS)}.")
        try:
            conversation_id = uuid.UUID(str(raw_id))
            self.conversation, ready = await database_sync_to_async(self._load)(owner, conversation_id)
        except (ValueError, Http404):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.start_deadline.cancel()
        self.output_audio = output_audio
        self.engine = ConversationEngine(chat=registry.chat())
        await self.send_json(ready)

    async def _owner(self, token: Any) -> Owner:
        if token:
            user = await database_sync_to_async(user_for_token)(str(token))
            return Owner(user_id=user.pk) if user is not None else Owner()
        return await database_sync_to_async(owner_from_scope)(self.scope)

    def _query_param(self, name: str) -> str | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get(name)
        return values[0] if values else None

    @staticmethod
    def _load(owner: Owner, conversation_id: uuid.UUID) -> tuple[Conversation, dict[str, Any]]:
        conversation = conversation_get_for_owner(owner=owner, pk=conversation_id)
        return conversation, _ready_payload(conversation)

    # -- turns --

    async def _ensure_open(self) -> None:
        status = await Conversation.objects.filter(pk=self.conversation.pk).values_list("status", flat=True).aget()
        if status == Conversation.Status.ENDED:
            raise FrameError("conversation_ended", "This conversation has ended; start a new one to keep talking.")

    def _ensure_idle(self) -> None:
        if self.reply_task is not None and not self.reply_task.done():
            raise FrameError(
                "busy",
                'A reply is still streaming: send {"type": "interrupt"} first, or wait for reply.end.',
                retryable=True,
            )

    async def on_text(self, message: dict[str, Any], received_at: float) -> None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("empty_text", "The text is empty.")
        text = text.strip()
        if len(text) > settings.MESSAGE_MAX_CHARS:
            raise FrameError("text_too_long", f"A message can be at most {settings.MESSAGE_MAX_CHARS} characters.")
        self._ensure_idle()
        await self._ensure_open()
        await self.engine.add_user_message(self.conversation.pk, text)
        self._start_reply(received_at)

    async def on_retry(self, message: dict[str, Any], received_at: float) -> None:
        self._ensure_idle()
        await self._ensure_open()
        if await self.engine.pending_user_message(self.conversation.pk) is None:
            raise FrameError("nothing_to_retry", "Every message already has a reply.")
        self._start_reply(received_at)

    async def on_interrupt(self, message: dict[str, Any], received_at: float) -> None:
        await self._stop_reply()

    async def on_end(self, message: dict[str, Any], received_at: float) -> None:
        await self._stop_reply()
        await database_sync_to_async(services.conversation_end)(conversation=self.conversation)
        await self.send_json({"type": "ended", "conversation_id": str(self.conversation.pk)})
        await self.close(code=1000)

    # -- the reply task --

    def _start_reply(self, received_at: float) -> None:
        self.reply = None
        self.reply_task = asyncio.create_task(self._run_reply(received_at))

    async def _run_reply(self, received_at: float) -> None:
        with provider_call_scope(conversation=self.conversation.pk):
            try:
                self.reply = await self.engine.start_reply(self.conversation.pk, started_at=received_at)
                async for event in self.reply.events():
                    await self.send_json(self._event_payload(event))
                    if isinstance(event, ReplyEnd):
                        self.sent_end_id = event.message_id
            except ProviderError as exc:
                await self.send_json(
                    {
                        "type": "error",
                        "code": exc.code,
                        "message": "Your future self could not answer just now. "
                        + ('Send {"type": "retry"} to try again.' if exc.retryable else ""),
                        "retryable": exc.retryable,
                        "message_id": str(self.reply.message_id) if self.reply else None,
                    }
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("conversation reply failed")
                await self.send_json(
                    {
                        "type": "error",
                        "code": "internal_error",
                        "message": 'Something went wrong on our side. Send {"type": "retry"} to try again.',
                        "retryable": True,
                        "message_id": str(self.reply.message_id) if self.reply else None,
                    }
                )
                return
        self._schedule_memory_fold()

    async def _stop_reply(self) -> None:
        """Cancel the reply being streamed, save its partial text as interrupted and send its ``reply.end``.

        Nothing of that reply is sent after its ``reply.end``: the task that sends the deltas is
        finished before the end event goes out.
        """
        task = self.reply_task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        reply = self.reply
        if reply is None:
            return
        end = await reply.interrupt()
        if self.sent_end_id != end.message_id:
            try:
                await self.send_json(self._event_payload(end))
            except Exception:  # the socket may already be gone on disconnect
                logger.debug("could not send reply.end after interrupt")

    def _schedule_memory_fold(self) -> None:
        if self.memory_task is not None and not self.memory_task.done():
            return
        self.memory_task = asyncio.create_task(self._fold_memory())

    async def _fold_memory(self) -> None:
        with provider_call_scope(conversation=self.conversation.pk):
            try:
                await self.engine.fold_memory(self.conversation.pk)
            except ProviderError as exc:
                # The turns stay in the prompt and the next fold tries again.
                logger.warning("could not fold the conversation memory: %s", exc.code)
            except Exception:
                logger.exception("folding the conversation memory failed")

    @staticmethod
    def _event_payload(event: ReplyEvent) -> dict[str, Any]:
        if isinstance(event, ReplyEnd):
            return {
                "type": event.type,
                "message_id": str(event.message_id),
                "text": event.text,
                "interrupted": event.interrupted,
                "timings": event.timings,
            }
        if event.type == "reply.start":
            return {"type": event.type, "message_id": str(event.message_id)}
        return {"type": event.type, "text": event.text}
