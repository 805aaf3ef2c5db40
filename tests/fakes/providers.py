"""In-process fakes of the four provider interfaces, for unit tests of engines.

Each is a queue of scripted replies plus a record of calls::

    chat = FakeChat()
    chat.enqueue("Where do you live?")
    await engine.next_question(...)
    assert chat.calls[-1].task == "interview"

An enqueued exception is raised instead of replying. With nothing enqueued,
``FakeChat`` falls back to the offline engine when ``fallback_offline`` is set,
otherwise it fails the test loudly.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from futureself.providers.base import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    ImageResult,
    ParsedResult,
    ProviderBadResponse,
    SchemaT,
    Transcript,
    Usage,
    Voice,
)


class FakeChat:
    name = "fake"

    def __init__(self, *, fallback_offline: bool = False, delay: float = 0.0, chunk_delay: float = 0.0) -> None:
        self.replies: deque[Any] = deque()
        self.calls: list[ChatRequest] = []
        self.fallback_offline = fallback_offline
        self.delay = delay
        self.chunk_delay = chunk_delay

    def enqueue(self, *replies: Any) -> FakeChat:
        self.replies.extend(replies)
        return self

    def model_for(self, task: str) -> str:
        return f"fake-{task}"

    async def _next(self, request: ChatRequest) -> Any:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.replies:
            if self.fallback_offline:
                from futureself.providers.offline import TASK_HANDLERS, _handler

                if request.task in TASK_HANDLERS:
                    return _handler(request.task)(request)
            raise AssertionError(f"FakeChat got an unexpected {request.task!r} call")
        reply = self.replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            reply = reply(request)
        return reply

    async def complete(self, request: ChatRequest) -> ChatResult:
        reply = await self._next(request)
        return ChatResult(text=str(reply), model=self.model_for(request.task), usage=Usage(10, 5))

    async def parse(self, request: ChatRequest, schema: type[SchemaT]) -> ParsedResult[SchemaT]:
        reply = await self._next(request)
        if isinstance(reply, schema):
            value = reply
        else:
            try:
                value = schema.model_validate(reply)
            except Exception as exc:
                raise ProviderBadResponse(f"invalid {schema.__name__}", provider="fake") from exc
        return ParsedResult(value=value, model=self.model_for(request.task), usage=Usage(10, 5))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        reply = await self._next(request)
        chunks = reply if isinstance(reply, list) else _split_words(str(reply))
        for chunk in chunks:
            if isinstance(chunk, BaseException):
                raise chunk
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield ChatDelta(text=chunk)
        yield ChatDelta(text="", usage=Usage(10, len(chunks)), model=self.model_for(request.task))


def _split_words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class FakeSpeechStream:
    owner: FakeSpeechToText
    chunks: list[bytes] = field(default_factory=list)
    closed: bool = False

    async def send(self, pcm: bytes) -> None:
        self.chunks.append(pcm)

    async def finish(self) -> Transcript:
        return await self.owner._next(b"".join(self.chunks))

    async def aclose(self) -> None:
        self.closed = True


class FakeSpeechToText:
    name = "fake"

    def __init__(self) -> None:
        self.replies: deque[Any] = deque()
        self.calls: list[bytes] = []
        self.streams: list[FakeSpeechStream] = []

    def enqueue(self, *replies: Any) -> FakeSpeechToText:
        self.replies.extend(replies)
        return self

    async def _next(self, audio: bytes) -> Transcript:
        self.calls.append(audio)
        reply = self.replies.popleft() if self.replies else "hello"
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, Transcript):
            return reply
        return Transcript(text=str(reply), language="en", audio_seconds=len(audio) / 32000)

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None = None) -> Transcript:
        return await self._next(audio)

    async def open_stream(self, *, sample_rate: int = 16000, language: str | None = None) -> FakeSpeechStream:
        stream = FakeSpeechStream(owner=self)
        self.streams.append(stream)
        return stream


class FakeTextToSpeech:
    name = "fake"

    def __init__(self, *, chunks_per_text: int = 2, delay: float = 0.0, fail_with: BaseException | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.chunks_per_text = chunks_per_text
        self.delay = delay
        self.fail_with = fail_with

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "mp3_44100_128",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        self.calls.append(
            {
                "text": text,
                "voice_id": voice_id,
                "output_format": output_format,
                "previous_text": previous_text,
                "next_text": next_text,
            }
        )
        if self.fail_with is not None:
            raise self.fail_with
        for index in range(self.chunks_per_text):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield f"{text}|{index}".encode()

    async def voices(self) -> list[Voice]:
        return [
            Voice("voice-older-woman", "Margaret", {"gender": "female", "age": "old"}),
            Voice("voice-young-man", "Sam", {"gender": "male", "age": "young"}),
            Voice("voice-middle-neutral", "Alex", {"gender": "neutral", "age": "middle_aged"}),
        ]


class FakeImageGenerator:
    name = "fake"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Mapping[str, Any] | None]] = []
        self.delay = delay
        self.failures: deque[BaseException] = deque()

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        self.calls.append((prompt, context))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.popleft()
        # A valid 1x1 PNG.
        png = (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
            b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
        )
        return ImageResult(data=png, content_type="image/png", model="fake-image")
