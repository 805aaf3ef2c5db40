"""Offline providers: everything works with no key and no network.

Chat is a deterministic engine: each task has a handler module in this package
that reads ``ChatRequest.context`` (the same facts the vendor prompt is rendered
from) and returns text, or a dict validated against the requested schema.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import ValidationError

from futureself.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    ParsedResult,
    ProviderBadResponse,
    ProviderNotConfigured,
    SchemaT,
    Usage,
)

OFFLINE_MODEL = "offline-1"

# task -> "module:function"; each function takes the ChatRequest and returns str or dict.
TASK_HANDLERS: dict[str, str] = {
    "interview": "futureself.providers.offline.interview:respond",
    "profile": "futureself.providers.offline.profile:extract",
    "personas": "futureself.providers.offline.personas:generate",
    "conversation": "futureself.providers.offline.conversation:reply",
    "summary": "futureself.providers.offline.conversation:summarize",
    "debrief": "futureself.providers.offline.conversation:debrief",
}


def _handler(task: str) -> Callable[[ChatRequest], Any]:
    target = TASK_HANDLERS.get(task)
    if target is None:
        raise ProviderNotConfigured(f"The offline engine cannot serve the {task!r} task.", provider="offline")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _count_tokens(text: str) -> int:
    return max(1, len(text.split())) if text else 0


def _input_tokens(request: ChatRequest) -> int:
    return sum(_count_tokens(m.content) for m in request.messages)


class OfflineChat:
    name = "offline"

    def model_for(self, task: str) -> str:
        return OFFLINE_MODEL

    async def complete(self, request: ChatRequest) -> ChatResult:
        text = str(_handler(request.task)(request))
        return ChatResult(text=text, model=OFFLINE_MODEL, usage=Usage(_input_tokens(request), _count_tokens(text)))

    async def parse(self, request: ChatRequest, schema: type[SchemaT]) -> ParsedResult[SchemaT]:
        raw = _handler(request.task)(request)
        try:
            value = schema.model_validate(raw)
        except ValidationError as exc:
            raise ProviderBadResponse(
                f"The offline engine produced an invalid {schema.__name__}: {exc.error_count()} errors.",
                provider="offline",
            ) from exc
        return ParsedResult(value=value, model=OFFLINE_MODEL, usage=Usage(_input_tokens(request), 0))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        text = str(_handler(request.task)(request))
        words = text.split(" ")
        for index, word in enumerate(words):
            yield ChatDelta(text=word if index == 0 else " " + word)
        yield ChatDelta(text="", usage=Usage(_input_tokens(request), _count_tokens(text)), model=OFFLINE_MODEL)


def build_chat() -> OfflineChat:
    return OfflineChat()


def build_speech_to_text():
    from futureself.providers.offline.speech import OfflineSpeechToText

    return OfflineSpeechToText()


def build_text_to_speech():
    from futureself.providers.offline.speech import OfflineTextToSpeech

    return OfflineTextToSpeech()


def build_image():
    from futureself.providers.offline.portrait import OfflinePortraits

    return OfflinePortraits()
