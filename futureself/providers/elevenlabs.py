"""ElevenLabs: Scribe speech-to-text (batch and realtime WebSocket), streamed
text-to-speech with a low-latency model, and the voice list."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from elevenlabs import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.realtime import scribe as sdk_scribe
from elevenlabs.realtime.connection import RealtimeEvents
from elevenlabs.realtime.scribe import AudioFormat, CommitStrategy
from pydantic import ValidationError

from futureself.providers.base import (
    OUTPUT_FORMATS,
    ProviderBadResponse,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
    Transcript,
    Voice,
)
from futureself.providers.resilience import (
    KEEPALIVE_SECONDS,
    Deadlines,
    PerLoop,
    RetryPolicy,
    Shards,
    describe,
    error_for_status,
    iterate_with_deadlines,
    tls_context,
    transport_error,
    with_retries,
    within,
)
from futureself.providers.transport import http_transport, in_flight


def _connect_without_compression(url: str, **kwargs: Any) -> Any:
    """Open the realtime STT socket without per-message deflate.

    Its messages are base64 PCM, which deflate barely shrinks; compressing ten
    of them a second per conversation was the largest single cost in daphne
    (8% of samples) in the voice benchmark at 200 conversations.
    """
    kwargs.setdefault("compression", None)
    return _sdk_websocket_connect(url, **kwargs)


_sdk_websocket_connect = sdk_scribe.websocket_connect
sdk_scribe.websocket_connect = _connect_without_compression

PROVIDER = "elevenlabs"
KEY_SETTING = "ELEVENLABS_API_KEY"
# Server messages of the realtime session that end an utterance in failure.
_REALTIME_ERRORS: dict[str, type[ProviderError]] = {
    "auth_error": ProviderNotConfigured,
    "unaccepted_terms": ProviderNotConfigured,
    "quota_exceeded": ProviderRateLimited,
    "rate_limited": ProviderRateLimited,
    "resource_exhausted": ProviderRateLimited,
    "queue_overflow": ProviderRateLimited,
    "commit_throttled": ProviderBadResponse,
    "insufficient_audio_activity": ProviderBadResponse,
    "input_error": ProviderBadResponse,
    "invalid_request": ProviderBadResponse,
    "chunk_size_exceeded": ProviderBadResponse,
    "transcriber_error": ProviderUnavailable,
    "session_time_limit_exceeded": ProviderUnavailable,
}
# How the SDK reports a realtime message that is not JSON (an ERROR event without message_type).
_SDK_PARSE_FAILURE = "Failed to parse message"


def map_error(exc: BaseException) -> ProviderError:
    """Any failure of the ElevenLabs SDK, its HTTP client or its WebSocket, as a ProviderError."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ApiError) and exc.status_code:
        return error_for_status(
            exc.status_code,
            provider=PROVIDER,
            key_setting=KEY_SETTING,
            headers=dict(exc.headers or {}),
            detail=str(exc.body or ""),
        )
    response = getattr(exc, "response", None)  # websockets' InvalidStatus: the handshake was refused
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        # Its headers carry Retry-After on a 429, as HTTP calls' do.
        headers = dict(getattr(response, "headers", None) or {})
        return error_for_status(status, provider=PROVIDER, key_setting=KEY_SETTING, headers=headers)
    if isinstance(exc, ValidationError | json.JSONDecodeError | ApiError):
        return ProviderBadResponse(f"ElevenLabs sent a malformed response ({describe(exc)}).", provider=PROVIDER)
    mapped = transport_error(exc, provider=PROVIDER)
    if mapped is not None:
        return mapped
    return ProviderBadResponse(f"ElevenLabs call failed ({describe(exc)}).", provider=PROVIDER)


# The SDK's HTTP client (httpx over httpcore) does O(connections^2) work on every request and
# response: its pool counts the idle connections inside a loop over them. With one pool serving
# every conversation of a process that was 9% of daphne's CPU at 100 voice conversations; several
# smaller pools, taken in turn, keep it small. At 200 conversations ~160 speech streams are open at
# once: with 8 pools their bookkeeping was still 1.6% of daphne's CPU (py-spy), so 16.
POOL_SHARDS = 16


class _ElevenLabsBase:
    name = PROVIDER

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        deadlines: Deadlines | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ProviderNotConfigured("ElevenLabs needs an API key: set ELEVENLABS_API_KEY.", provider=PROVIDER)
        self.api_key = api_key
        self.base_url = base_url or None
        self.deadlines = deadlines or Deadlines()
        self.retry = retry or RetryPolicy()
        self._clients: PerLoop[Shards[AsyncElevenLabs]] = PerLoop(lambda: Shards(self._new_client, POOL_SHARDS))

    def _new_client(self) -> tuple[AsyncElevenLabs, Callable[[], int]]:
        """An SDK client with a connection pool of its own, and the count of its requests in flight."""
        # Keep-alive up to the connection limit: httpcore 1.0 closes an idle connection whenever the
        # pool holds more connections in all than max_keepalive_connections (it counts them, not
        # the idle ones), so at httpx's default of 20, a shard with 21 connections in use dropped
        # each one as its request ended. At 200 voice conversations that was ~900 TCP connects
        # (and TLS handshakes against the real API) in a 30-second stretch.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS)
        transport = http_transport(httpx, limits=limits)
        http = httpx.AsyncClient(
            timeout=self.deadlines.stt, follow_redirects=True, verify=tls_context(httpx), transport=transport
        )
        client = AsyncElevenLabs(
            api_key=self.api_key, base_url=self.base_url, timeout=self.deadlines.stt, httpx_client=http
        )
        return client, functools.partial(in_flight, transport)

    def client(self) -> AsyncElevenLabs:
        return self._clients.get().next()

    def request_options(self, seconds: float) -> dict[str, Any]:
        # max_retries 0: the SDK retries 429/5xx twice by default; with_retries owns that.
        return {"timeout_in_seconds": seconds, "max_retries": 0}

    async def _call(self, make: Any, *, seconds: float, what: str) -> Any:
        async def attempt() -> Any:
            try:
                return await within(seconds, make(), what=what, provider=PROVIDER)
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise map_error(exc) from exc

        return await with_retries(attempt, policy=self.retry, provider=PROVIDER, what=what)

    async def ping(self) -> str:
        """One free call (a page of the voice list) to check the key and the server."""
        seconds = self.deadlines.complete
        response = await self._call(
            lambda: self.client().voices.search(page_size=10, request_options=self.request_options(seconds)),
            seconds=seconds,
            what="voice listing",
        )
        return f"{len(response.voices)} voices visible"


# --- speech-to-text -------------------------------------------------------------


def _file_format(content_type: str) -> str:
    """Scribe's ``file_format``: raw 16 kHz PCM skips decoding, anything else is sniffed."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("audio/pcm", "audio/l16") and "rate=16000" in content_type.replace(" ", ""):
        return "pcm_s16le_16"
    return "other"


_EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/wav": "wav", "audio/mpeg": "mp3", "audio/mp4": "m4a"}


class ElevenLabsSpeechToText(_ElevenLabsBase):
    def __init__(self, *, model: str = "scribe_v2", realtime_model: str = "scribe_v2_realtime", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.realtime_model = realtime_model

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None = None) -> Transcript:
        if not audio:
            raise ProviderBadResponse("There is no audio to transcribe.", provider=PROVIDER)
        file_format = _file_format(content_type)
        extension = "pcm" if file_format != "other" else _EXTENSIONS.get(content_type.split(";")[0].strip(), "bin")
        options: dict[str, Any] = {"language_code": language} if language else {}
        seconds = self.deadlines.stt
        result = await self._call(
            lambda: self.client().speech_to_text.convert(
                model_id=self.model,
                file=(f"speech.{extension}", audio, content_type.split(";")[0].strip()),
                file_format=file_format,
                request_options=self.request_options(seconds),
                **options,
            ),
            seconds=seconds,
            what="transcription",
        )
        text = getattr(result, "text", None)
        if not isinstance(text, str):  # the SDK builds responses without validating them
            raise ProviderBadResponse("ElevenLabs returned no transcript.", provider=PROVIDER)
        words = getattr(result, "words", None) or []
        ends = [w.end for w in words if getattr(w, "end", None) is not None]
        audio_seconds = len(audio) / 32000 if file_format == "pcm_s16le_16" else max(ends, default=0.0)
        return Transcript(
            text=text.strip(), language=getattr(result, "language_code", None), audio_seconds=audio_seconds
        )

    async def open_stream(self, *, sample_rate: int = 16000, language: str | None = None) -> ElevenLabsSpeechStream:
        try:
            audio_format = AudioFormat(f"pcm_{sample_rate}")
        except ValueError:
            raise ProviderBadResponse(f"ElevenLabs cannot stream {sample_rate} Hz audio.", provider=PROVIDER) from None
        options: dict[str, Any] = {
            "model_id": self.realtime_model,
            "audio_format": audio_format,
            "sample_rate": sample_rate,
            "commit_strategy": CommitStrategy.MANUAL,
        }
        if language:
            options["language_code"] = language
        connection = await self._call(
            lambda: self.client().speech_to_text.realtime.connect(options),  # type: ignore[arg-type]
            seconds=self.deadlines.stt_final,
            what="realtime transcription",
        )
        return ElevenLabsSpeechStream(
            connection, sample_rate=sample_rate, language=language, final_seconds=self.deadlines.stt_final
        )


class _LatestPartial:
    """The latest non-empty partial transcript of a realtime stream."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def update(self, data: dict[str, Any]) -> None:
        self.text = data.get("text", "") or self.text


class ElevenLabsSpeechStream:
    """One utterance over the realtime WebSocket, committed by ``finish()``.

    The SDK calls its event handlers synchronously from its reader task, so
    they only hand events over with ``put_nowait``.
    """

    def __init__(self, connection: Any, *, sample_rate: int, language: str | None, final_seconds: float) -> None:
        self.connection = connection
        self.sample_rate = sample_rate
        self.language = language
        self.final_seconds = final_seconds
        self._bytes = 0
        self._closed = False
        # The handlers hold the queue and the partial text, never ``self``: the connection holds
        # the handlers, so a handler holding the stream would make a reference cycle, and every
        # utterance's stream (its turn with it) would wait for the cyclic collector's oldest pass.
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._partial = _LatestPartial()
        events = self._events
        connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT, lambda data: events.put_nowait(("committed", data)))
        connection.on(RealtimeEvents.PARTIAL_TRANSCRIPT, self._partial.update)
        connection.on(RealtimeEvents.ERROR, lambda data: events.put_nowait(("error", data)))
        connection.on(RealtimeEvents.CLOSE, lambda *info: events.put_nowait(("close", info)))

    @property
    def partial(self) -> str:
        return self._partial.text

    async def send(self, pcm: bytes) -> None:
        if self._closed:
            raise ProviderUnavailable("The transcription stream is closed.", provider=PROVIDER)
        if not pcm:
            return
        self._bytes += len(pcm)
        try:
            await self.connection.send({"audio_base_64": base64.b64encode(pcm).decode("ascii")})
        except Exception as exc:
            raise map_error(exc) from exc

    async def finish(self) -> Transcript:
        if self._closed:
            raise ProviderUnavailable("The transcription stream is closed.", provider=PROVIDER)
        try:
            await self.connection.commit()
            async with asyncio.timeout(self.final_seconds):
                while True:
                    kind, data = await self._events.get()
                    if kind == "committed":
                        # The transcript is what the person waits for: the close handshake (a
                        # round trip to ElevenLabs) happens after it, not before.
                        self._close_in_background()
                        return Transcript(
                            text=(data.get("text") or "").strip(),
                            language=data.get("language_code") or self.language,
                            audio_seconds=self._bytes / (2 * self.sample_rate),
                        )
                    if kind == "error":
                        raise self._error(data)
                    if kind == "close":
                        raise ProviderUnavailable(
                            "ElevenLabs closed the transcription stream before the transcript.", provider=PROVIDER
                        )
        except TimeoutError:
            raise ProviderUnavailable(
                f"ElevenLabs did not send the final transcript within {self.final_seconds:g} s.", provider=PROVIDER
            ) from None
        except ProviderError:
            raise
        except Exception as exc:
            raise map_error(exc) from exc
        finally:
            await self.aclose()

    def _error(self, data: dict[str, Any]) -> ProviderError:
        kind = data.get("message_type", "")
        detail = str(data.get("error") or data.get("message") or kind or "unknown error")[:200]
        if not kind and detail.startswith(_SDK_PARSE_FAILURE):
            # A garbled server message: a bad response like a garbled HTTP body, worth another try.
            return ProviderBadResponse(
                f"ElevenLabs sent a malformed transcription message ({detail}).", provider=PROVIDER
            )
        error_class = _REALTIME_ERRORS.get(kind, ProviderUnavailable)
        if error_class is ProviderNotConfigured:
            return ProviderNotConfigured(
                f"ElevenLabs refused the transcription session ({detail}); check {KEY_SETTING}.", provider=PROVIDER
            )
        error = error_class(f"ElevenLabs transcription failed: {detail}", provider=PROVIDER)
        if error_class is ProviderBadResponse:
            error.retryable = False  # the same audio would be refused again
        return error

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._close_quietly()

    def _close_in_background(self) -> None:
        if self._closed:
            return
        self._closed = True
        task = asyncio.create_task(self._close_quietly())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close()


# Realtime sessions closing after their transcript (kept so the tasks are not collected early).
_closing: set[asyncio.Task] = set()


# --- text-to-speech -------------------------------------------------------------


class ElevenLabsTextToSpeech(_ElevenLabsBase):
    available = True
    supported_formats: tuple[str, ...] = tuple(OUTPUT_FORMATS)

    def __init__(self, *, model: str = "eleven_flash_v2_5", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "mp3_44100_128",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        if output_format not in self.supported_formats:
            error = ProviderBadResponse(
                f"Unsupported output format {output_format!r}; use one of {', '.join(self.supported_formats)}.",
                provider=PROVIDER,
            )
            error.retryable = False
            raise error
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = start + self.deadlines.tts_first_chunk
        total_deadline = start + self.deadlines.stream_total
        context: dict[str, str] = {}
        if previous_text:
            context["previous_text"] = previous_text
        if next_text:
            context["next_text"] = next_text

        async def open_audio() -> tuple[AsyncIterator[bytes], bytes]:
            """Start the stream and read its first chunk: HTTP errors surface there."""
            audio = self.client().text_to_speech.stream(
                voice_id,
                text=text,
                model_id=self.model,
                output_format=output_format,
                # Audio as it comes off the network: the SDK's default cuts it into 1 KiB pieces,
                # four WebSocket frames to the person for every 100 ms of speech.
                request_options={**self.request_options(self.deadlines.stream_total), "chunk_size": None},
                **context,
            )
            try:
                first = await anext(audio)
            except StopAsyncIteration:
                first = b""
            except BaseException:
                await audio.aclose()
                raise
            return audio, first

        # Retried only until the first chunk is due: the person is waiting.
        try:
            async with asyncio.timeout_at(first_deadline):
                audio, first = await self._call(
                    open_audio, seconds=self.deadlines.tts_first_chunk, what="speech synthesis"
                )
        except TimeoutError:
            raise ProviderUnavailable(
                f"ElevenLabs sent no audio within {self.deadlines.tts_first_chunk:g} s.", provider=PROVIDER
            ) from None
        try:
            if first:
                yield first
            async with contextlib.aclosing(
                iterate_with_deadlines(
                    audio,
                    first_deadline=total_deadline,
                    total_deadline=total_deadline,
                    provider=PROVIDER,
                    what="speech synthesis",
                )
            ) as chunks:
                async for chunk in chunks:
                    if chunk:
                        yield chunk
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | GeneratorExit):
                raise
            raise map_error(exc) from exc
        finally:
            with contextlib.suppress(Exception):
                await audio.aclose()

    async def voices(self) -> list[Voice]:
        seconds = self.deadlines.complete
        response = await self._call(
            lambda: self.client().voices.search(page_size=100, request_options=self.request_options(seconds)),
            seconds=seconds,
            what="voice listing",
        )
        return [
            Voice(
                voice_id=v.voice_id,
                name=v.name or v.voice_id,
                labels=dict(v.labels or {}),
                preview_url=v.preview_url,
            )
            for v in response.voices
        ]


def build_speech_to_text() -> ElevenLabsSpeechToText:
    from django.conf import settings

    return ElevenLabsSpeechToText(
        api_key=settings.ELEVENLABS_API_KEY,
        base_url=settings.ELEVENLABS_BASE_URL,
        model=settings.ELEVENLABS_STT_MODEL,
        realtime_model=settings.ELEVENLABS_STT_REALTIME_MODEL,
        deadlines=Deadlines.from_settings(),
        retry=RetryPolicy.from_settings(),
    )


def build_text_to_speech() -> ElevenLabsTextToSpeech:
    from django.conf import settings

    return ElevenLabsTextToSpeech(
        api_key=settings.ELEVENLABS_API_KEY,
        base_url=settings.ELEVENLABS_BASE_URL,
        model=settings.ELEVENLABS_TTS_MODEL,
        deadlines=Deadlines.from_settings(),
        retry=RetryPolicy.from_settings(),
    )
