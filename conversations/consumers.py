"""The ``/conversation/stream`` WebSocket: a thin relay to the voice pipeline.

It parses frames (JSON control messages and binary audio), authenticates,
checks ownership through the selector, and hands each turn to
``VoicePipeline``, which sends the events back; the protocol is documented in
``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from django.conf import settings
from django.http import Http404
from django.urls import NoReverseMatch, reverse

from conversations import services
from conversations.engine import ConversationEngine, ConversationState, state_of
from conversations.models import Conversation
from conversations.selectors import conversation_get_for_owner
from conversations.voice import (
    INPUT_AUDIO_FORMATS,
    FrameError,
    VoicePipeline,
    choose_output_format,
    internal_error_event,
)
from futureself.auth import user_for_token
from futureself.ownership import Owner, owner_from_scope
from futureself.providers import registry
from futureself.providers.base import ProviderError
from futureself.providers.recording import deferred_recording, flush_provider_calls, provider_call_scope

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_START_TIMEOUT = 4408
OUTPUT_AUDIO_FORMATS = ("mp3_44100_128", "pcm_16000", "none")
# Sent in ``ready``: a voice-only or external client may show no page, so the socket itself says what this is.
AI_NOTICE = (
    "You are talking with an AI, not a person. This future self is imagined by a machine from what you shared: "
    "one possibility, not a prediction, and not therapy. If you are in crisis, please contact local emergency services."
)

__all__ = ["ConversationConsumer", "FrameError", "avatar_url"]


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
            "safety_flagged": m.safety_flagged,
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
        "notice": AI_NOTICE,
        "voice_enabled": False,
        "history": history,
        "awaiting_reply": bool(history) and history[-1]["role"] == "user" and not history[-1]["safety_flagged"],
    }


def _provider(getter) -> Any:
    """The configured provider, or None when it cannot be built (no key, offline part missing)."""
    try:
        return getter()
    except (ProviderError, ImportError):
        return None


def tts_available(tts) -> bool:
    """Whether replies can actually be spoken (the offline TTS needs espeak-ng installed)."""
    if tts is None:
        return False
    check = getattr(registry, "tts_available", None)
    if callable(check):
        return bool(check())
    return bool(getattr(getattr(tts, "inner", tts), "available", True))


def stt_available(stt) -> bool:
    return stt is not None and bool(getattr(getattr(stt, "inner", stt), "available", stt.name != "offline"))


class ConversationConsumer(AsyncWebsocketConsumer):
    # The socket is a direct relay that takes no messages from other processes: not joining the
    # channel layer spares every live conversation a Redis connection and a blocking poll (an
    # unknown alias makes Channels skip the layer).
    channel_layer_alias = "conversation-socket-uses-no-layer"
    # A socket that never sends a valid ``start`` is closed, so idle unauthenticated sockets do not pile up.
    start_timeout_seconds = 30.0

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a trip to the
        # database thread for each audio frame (ten a second while someone speaks). Every database
        # call of this consumer goes through database_sync_to_async, which does that in its own
        # thread, so frames skip it.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        self.conversation: Conversation | None = None
        self.pipeline: VoicePipeline | None = None
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
        if self.pipeline is not None:
            with provider_call_scope(conversation=self.conversation.pk), deferred_recording():
                await self.pipeline.close()
            await flush_provider_calls()

    # -- frames --

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        received_at = time.perf_counter()
        try:
            if bytes_data is not None:
                await self.on_audio(bytes_data)
                return
            message = self._parse(text_data)
            kind = message.get("type")
            if kind == "start":
                await self.on_start(message)
                return
            handler = {
                "text": self.on_text,
                "audio.end": self.on_audio_end,
                "interrupt": self.on_interrupt,
                "retry": self.on_retry,
                "end": self.on_end,
            }.get(kind)
            if handler is None:
                raise FrameError("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")
            if self.conversation is None:
                raise FrameError("not_started", 'Send {"type": "start", ...} first.')
            # Provider calls are recorded off the hot path (batched, in the background).
            with provider_call_scope(conversation=self.conversation.pk), deferred_recording():
                await handler(message, received_at)
        except FrameError as exc:
            await self.send_json(exc.event())
        except Exception as exc:
            # A frame that failed in a way nobody expected still gets an answer, and the socket stays
            # usable. The type only: an exception's message may quote what the person said.
            logger.error("a conversation frame failed: %s", type(exc).__name__)
            await self.send_json(internal_error_event())

    def _parse(self, text_data: str | None) -> dict[str, Any]:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            raise FrameError("bad_json", "Frames must be JSON objects with a 'type'.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise FrameError("bad_json", "Frames must be JSON objects with a 'type'.")
        return message

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self._send_frame({"type": "websocket.send", "text": json.dumps(payload, default=str)})

    async def send_audio(self, chunk: bytes) -> None:
        await self._send_frame({"type": "websocket.send", "bytes": chunk})

    @functools.cached_property
    def _send_frame(self) -> Callable[[dict[str, Any]], Awaitable[None]]:
        """Where frames go: past Channels' session middleware when it wraps this consumer.

        It wraps every send to save the session with an HTTP response; it never saves on a
        WebSocket frame, yet each frame paid its checks through the lazy session object (about
        1.5% of daphne's CPU at 100 spoken conversations, ten audio frames a second each). The
        accept and the close still go through it.
        """
        wrapper = getattr(self.base_send, "__self__", None)
        if isinstance(wrapper, InstanceSessionWrapper):
            return wrapper.real_send
        return self.base_send

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
        input_audio = message.get("input_audio") or "pcm_s16le_16000"
        if input_audio not in INPUT_AUDIO_FORMATS:
            raise FrameError("bad_input_audio", f"input_audio must be one of {', '.join(INPUT_AUDIO_FORMATS)}.")
        try:
            conversation_id = uuid.UUID(str(raw_id))
            conversation, ready, state = await database_sync_to_async(self._load)(owner, conversation_id)
        except (ValueError, Http404):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.start_deadline.cancel()
        stt = _provider(registry.speech_to_text)
        tts = _provider(registry.text_to_speech)
        output_format = choose_output_format(output_audio, tts) if tts_available(tts) else None
        future_self = conversation.future_self
        self.conversation = conversation
        self.pipeline = VoicePipeline(
            engine=ConversationEngine(chat=registry.chat()),
            conversation=conversation,
            owner=owner,
            ip=(self.scope.get("client") or [None])[0],
            send_json=self.send_json,
            send_bytes=self.send_audio,
            stt=stt if stt_available(stt) else None,
            tts=tts,
            output_format=output_format,
            input_format=input_audio,
            voice_id=future_self.voice_id or future_self.card.get("voice_id") or settings.ELEVENLABS_DEFAULT_VOICE_ID,
            state=state,
        )
        await self.send_json(
            {
                **ready,
                "voice_enabled": output_format is not None,
                "output_audio": output_format or "none",
                "voice_input": stt_available(stt),
                "input_audio": input_audio,
                "audio_limits": {
                    "max_frame_bytes": settings.VOICE_MAX_FRAME_BYTES,
                    "max_utterance_bytes": settings.VOICE_MAX_UTTERANCE_BYTES,
                    "min_utterance_ms": settings.VOICE_MIN_UTTERANCE_MS,
                },
            }
        )

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
    def _load(owner: Owner, conversation_id: uuid.UUID) -> tuple[Conversation, dict[str, Any], ConversationState]:
        conversation = conversation_get_for_owner(owner=owner, pk=conversation_id)
        return conversation, _ready_payload(conversation), state_of(conversation)

    # -- turns --

    async def on_text(self, message: dict[str, Any], received_at: float) -> None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("empty_text", "The text is empty.")
        text = text.strip()
        if len(text) > settings.MESSAGE_MAX_CHARS:
            raise FrameError("text_too_long", f"A message can be at most {settings.MESSAGE_MAX_CHARS} characters.")
        await self.pipeline.text_turn(text, received_at)

    async def on_audio(self, data: bytes) -> None:
        if self.conversation is None:
            raise FrameError("not_started", 'Send {"type": "start", ...} first.')
        with provider_call_scope(conversation=self.conversation.pk), deferred_recording():
            await self.pipeline.audio_frame(data)

    async def on_audio_end(self, message: dict[str, Any], received_at: float) -> None:
        await self.pipeline.audio_end(received_at)

    async def on_retry(self, message: dict[str, Any], received_at: float) -> None:
        await self.pipeline.retry(received_at)

    async def on_interrupt(self, message: dict[str, Any], received_at: float) -> None:
        await self.pipeline.stop_reply()

    async def on_end(self, message: dict[str, Any], received_at: float) -> None:
        await self.pipeline.stop_reply()
        await database_sync_to_async(services.conversation_end)(conversation=self.conversation)
        await self.send_json({"type": "ended", "conversation_id": str(self.conversation.pk)})
        await self.close(code=1000)
