"""Recording every provider call as a ``ProviderCall`` row.

Services say what a call belongs to with ``provider_call_scope(interview=...,
conversation=...)``; the registry wraps each provider so that every call made
inside the scope is recorded with task, provider, model, latency, usage and
outcome. Engines know nothing of this.

On the live voice path (``deferred_recording()``, set by the conversation
socket) the rows are written in the background, in batches, so no reply waits
for a database insert: the voice benchmark showed the per-call insert (five
per spoken turn) queueing behind other conversations' queries in the single
database thread. ``flush_provider_calls()`` writes what is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from futureself.providers.base import (
    OUTPUT_FORMATS,
    ChatDelta,
    ChatProvider,
    ChatRequest,
    ChatResult,
    ImageGenerator,
    ImageResult,
    ModerationResult,
    Moderator,
    ParsedResult,
    ProviderError,
    SchemaT,
    SpeechStream,
    SpeechToText,
    TextToSpeech,
    Transcript,
    Voice,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallScope:
    interview_id: Any = None
    conversation_id: Any = None


_scope: contextvars.ContextVar[CallScope] = contextvars.ContextVar("provider_call_scope", default=CallScope())
_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar("provider_call_deferred", default=False)


@contextlib.contextmanager
def provider_call_scope(*, interview=None, conversation=None) -> Iterator[CallScope]:
    """Attribute the provider calls made inside the block to an interview and/or conversation."""
    scope = CallScope(
        interview_id=getattr(interview, "pk", interview),
        conversation_id=getattr(conversation, "pk", conversation),
    )
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def deferred_recording() -> Iterator[None]:
    """Inside the block (and the tasks it starts), calls are recorded in the background, in batches."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


class _BatchWriter:
    """Rows of one event loop, written together shortly after the first of them arrives."""

    delay = 0.25  # seconds: long enough to gather a batch, short enough for the admin to look current

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.task: asyncio.Task | None = None
        self.now = asyncio.Event()

    def add(self, row: Any) -> None:
        self.rows.append(row)
        if self.task is None or self.task.done():
            self.now.clear()
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.now.wait(), self.delay)
        while self.rows:
            rows, self.rows = self.rows, []
            try:
                await _bulk_create(rows)
            except Exception:  # recording must never break anything
                logger.exception("could not record %d provider calls", len(rows))

    async def flush(self) -> None:
        if self.task is not None and not self.task.done():
            self.now.set()
            await asyncio.shield(self.task)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BatchWriter] = weakref.WeakKeyDictionary()


async def _bulk_create(rows: list[Any]) -> None:
    from channels.db import database_sync_to_async

    await database_sync_to_async(_write_rows)(rows)


def _write_rows(rows: list[Any]) -> None:
    from django.db import DatabaseError, transaction

    from futureself.models import ProviderCall

    try:
        with transaction.atomic():
            ProviderCall.objects.bulk_create(rows)
    except DatabaseError:
        # One bad row (its conversation deleted meanwhile) must not lose the others.
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except DatabaseError:
                logger.warning("dropped the record of a %s provider call", row.interface)


async def flush_provider_calls() -> None:
    """Write the calls recorded in the background on this event loop that are still pending."""
    writer = _writers.get(asyncio.get_running_loop())
    if writer is not None:
        await writer.flush()


async def record_call(
    *,
    interface: str,
    task: str,
    provider: str,
    model: str,
    started: float,
    first_output: float | None = None,
    error: BaseException | None = None,
    **usage: Any,
) -> None:
    from futureself.models import ProviderCall

    scope = _scope.get()
    if error is None:
        outcome, code = ProviderCall.Outcome.OK, ""
    elif isinstance(error, ProviderError):
        outcome, code = ProviderCall.Outcome.ERROR, error.code
    else:
        outcome, code = ProviderCall.Outcome.CANCELLED, type(error).__name__
    now = time.perf_counter()
    try:
        row = ProviderCall(
            interface=interface,
            task=task,
            provider=provider,
            model=model or "",
            latency_ms=round((now - started) * 1000),
            first_output_ms=None if first_output is None else round((first_output - started) * 1000),
            outcome=outcome,
            error_code=code,
            interview_id=scope.interview_id,
            conversation_id=scope.conversation_id,
            **{k: v for k, v in usage.items() if v},
        )
        if _deferred.get():
            loop = asyncio.get_running_loop()
            writer = _writers.get(loop)
            if writer is None:
                writer = _writers[loop] = _BatchWriter()
            writer.add(row)
        else:
            await row.asave(force_insert=True)
    except Exception:  # recording must never break the call it records
        logger.exception("could not record a %s provider call", interface)


class RecordingChat:
    def __init__(self, inner: ChatProvider) -> None:
        self.inner = inner
        self.name = inner.name

    def model_for(self, task: str) -> str:
        return self.inner.model_for(task)

    async def complete(self, request: ChatRequest) -> ChatResult:
        return await self._recorded(request, self.inner.complete(request))

    async def parse(self, request: ChatRequest, schema: type[SchemaT]) -> ParsedResult[SchemaT]:
        return await self._recorded(request, self.inner.parse(request, schema))

    async def _recorded(self, request: ChatRequest, call):
        """Await a whole-reply call and record it, with its usage or its error."""
        started = time.perf_counter()
        try:
            result = await call
        except BaseException as exc:
            await record_call(**self._common(request), started=started, error=exc)
            raise
        await record_call(
            interface="chat",
            task=request.task,
            provider=self.name,
            model=result.model,
            started=started,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        started = time.perf_counter()
        first: float | None = None
        usage = None
        model = self.model_for(request.task)
        error: BaseException | None = None
        try:
            async for delta in self.inner.stream(request):
                if first is None and delta.text:
                    first = time.perf_counter()
                if delta.usage is not None:
                    usage = delta.usage
                if delta.model:
                    model = delta.model
                yield delta
        except BaseException as exc:
            error = exc
            raise
        finally:
            await record_call(
                interface="chat",
                task=request.task,
                provider=self.name,
                model=model,
                started=started,
                first_output=first,
                error=error,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
            )

    def _common(self, request: ChatRequest) -> dict[str, Any]:
        return {
            "interface": "chat",
            "task": request.task,
            "provider": self.name,
            "model": self.model_for(request.task),
        }


class _RecordingSpeechStream:
    def __init__(self, inner: SpeechStream, provider: str) -> None:
        self.inner = inner
        self.provider = provider
        self.started = time.perf_counter()
        self._recorded = False

    async def send(self, pcm: bytes) -> None:
        await self.inner.send(pcm)

    async def finish(self) -> Transcript:
        try:
            transcript = await self.inner.finish()
        except BaseException as exc:
            await self._record(error=exc)
            raise
        await self._record(audio_seconds=transcript.audio_seconds)
        return transcript

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _record(self, **kwargs: Any) -> None:
        if self._recorded:
            return
        self._recorded = True
        await record_call(
            interface="stt", task="realtime", provider=self.provider, model="", started=self.started, **kwargs
        )


class RecordingSpeechToText:
    def __init__(self, inner: SpeechToText) -> None:
        self.inner = inner
        self.name = inner.name

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None = None) -> Transcript:
        started = time.perf_counter()
        try:
            transcript = await self.inner.transcribe(audio, content_type=content_type, language=language)
        except BaseException as exc:
            await record_call(interface="stt", task="batch", provider=self.name, model="", started=started, error=exc)
            raise
        await record_call(
            interface="stt",
            task="batch",
            provider=self.name,
            model="",
            started=started,
            audio_seconds=transcript.audio_seconds,
        )
        return transcript

    async def open_stream(self, *, sample_rate: int = 16000, language: str | None = None) -> SpeechStream:
        inner = await self.inner.open_stream(sample_rate=sample_rate, language=language)
        return _RecordingSpeechStream(inner, self.name)


class RecordingTextToSpeech:
    def __init__(self, inner: TextToSpeech) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def available(self) -> bool:
        """Whether the inner provider can speak now (offline speech needs espeak-ng)."""
        return getattr(self.inner, "available", True)

    @property
    def supported_formats(self) -> tuple[str, ...]:
        return tuple(getattr(self.inner, "supported_formats", OUTPUT_FORMATS))

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "mp3_44100_128",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        started = time.perf_counter()
        first: float | None = None
        error: BaseException | None = None
        try:
            async for chunk in self.inner.stream(
                text,
                voice_id=voice_id,
                output_format=output_format,
                previous_text=previous_text,
                next_text=next_text,
            ):
                if first is None:
                    first = time.perf_counter()
                yield chunk
        except BaseException as exc:
            error = exc
            raise
        finally:
            await record_call(
                interface="tts",
                task="speech",
                provider=self.name,
                model="",
                started=started,
                first_output=first,
                error=error,
                characters=len(text),
            )

    async def voices(self) -> list[Voice]:
        return await self.inner.voices()


class RecordingImageGenerator:
    def __init__(self, inner: ImageGenerator) -> None:
        self.inner = inner
        self.name = inner.name

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        started = time.perf_counter()
        try:
            result = await self.inner.generate(prompt, context=context)
        except BaseException as exc:
            await record_call(
                interface="image", task="avatar", provider=self.name, model="", started=started, error=exc
            )
            raise
        await record_call(interface="image", task="avatar", provider=self.name, model=result.model, started=started)
        return result


class RecordingModerator:
    """Moderation calls, recorded as chat calls of task ``moderation`` (its model is a chat-task
    setting, ``MISTRAL_MODEL_MODERATION``). On the voice path they are batched like the others."""

    def __init__(self, inner: Moderator) -> None:
        self.inner = inner
        self.name = inner.name

    async def moderate(self, texts: Sequence[str]) -> ModerationResult:
        started = time.perf_counter()
        model = getattr(self.inner, "model", "")
        try:
            result = await self.inner.moderate(texts)
        except BaseException as exc:
            await record_call(
                interface="chat", task="moderation", provider=self.name, model=model, started=started, error=exc
            )
            raise
        await record_call(
            interface="chat", task="moderation", provider=self.name, model=result.model or model, started=started
        )
        return result
