"""The provider interfaces the engines depend on (chat, speech-to-text,
text-to-speech, image) and the moderation interface the safety check uses.

Engines receive objects satisfying these protocols as arguments; they never
import a vendor SDK. Every implementation raises only ``ProviderError``
subclasses, so callers handle outages in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

ChatTask = Literal["interview", "profile", "personas", "conversation", "summary", "debrief", "moderation"]
CHAT_TASKS: tuple[str, ...] = ("interview", "profile", "personas", "conversation", "summary", "debrief", "moderation")

SchemaT = TypeVar("SchemaT", bound=BaseModel)


# --- errors -----------------------------------------------------------------


class ProviderError(Exception):
    """Base of every failure a provider reports.

    ``code`` is the stable machine-readable name used in API and WebSocket
    errors; ``retryable`` says whether the same request may succeed later.
    """

    code = "provider_error"
    retryable = True

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Timeout, connection failure or 5xx."""

    code = "provider_unavailable"


class ProviderRateLimited(ProviderError):
    """The vendor answered 429 (``retry_after`` in seconds when it said)."""

    code = "provider_rate_limited"


class ProviderBadResponse(ProviderError):
    """The vendor answered, but with something unusable (bad JSON, invalid schema, no image).

    Retryable (the API answers 503): a garbled answer may come out right on
    another try. A request the vendor refused (another 4xx) is raised with
    ``retryable = False`` (the API answers 502): it would be refused again.
    """

    code = "provider_bad_response"


class ProviderNotConfigured(ProviderError):
    """No provider can serve this (missing key, key rejected, feature unavailable offline)."""

    code = "provider_not_configured"
    retryable = False


# --- chat -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat call.

    ``messages`` are the rendered prompt. ``context`` carries the same facts as
    plain data (transcript, profile, card...) for providers that do not read
    prose, i.e. the offline engine; vendor providers ignore it.
    """

    task: str
    messages: Sequence[ChatMessage]
    context: Mapping[str, Any] = field(default_factory=dict)
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    model: str
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class ParsedResult[T]:
    value: T
    model: str
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of a streamed reply; the final delta carries ``usage`` and ``model``."""

    text: str
    usage: Usage | None = None
    model: str | None = None


@runtime_checkable
class ChatProvider(Protocol):
    name: str

    def model_for(self, task: str) -> str:
        """The model id this provider uses for ``task`` (from settings)."""
        ...

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Whole reply at once. Raises ProviderError."""
        ...

    async def parse(self, request: ChatRequest, schema: type[SchemaT]) -> ParsedResult[SchemaT]:
        """Structured output validated against ``schema``.

        Invalid output is retried once, then raised as ProviderBadResponse.
        """
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Reply as text deltas. Raises ProviderError before or during iteration."""
        ...


# --- speech-to-text ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    audio_seconds: float = 0.0


class SpeechStream(Protocol):
    """One utterance streamed while the person speaks."""

    async def send(self, pcm: bytes) -> None:
        """Append 16-bit little-endian mono PCM at the stream's sample rate."""
        ...

    async def finish(self) -> Transcript:
        """Commit the utterance and wait for its final transcript."""
        ...

    async def aclose(self) -> None:
        """Abandon the stream (idempotent)."""
        ...


@runtime_checkable
class SpeechToText(Protocol):
    name: str

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None = None) -> Transcript:
        """Batch transcription of a whole recording. Raises ProviderError."""
        ...

    async def open_stream(self, *, sample_rate: int = 16000, language: str | None = None) -> SpeechStream:
        """Start a realtime transcription session. Raises ProviderError."""
        ...


# --- text-to-speech ----------------------------------------------------------

OUTPUT_FORMATS: dict[str, str] = {
    "mp3_44100_128": "audio/mpeg",
    "pcm_16000": "audio/pcm;rate=16000",
}


@dataclass(frozen=True, slots=True)
class Voice:
    voice_id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    preview_url: str | None = None


@runtime_checkable
class TextToSpeech(Protocol):
    name: str

    def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "mp3_44100_128",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Audio chunks in order as they are produced. Raises ProviderError."""
        ...

    async def voices(self) -> list[Voice]:
        """Voices this provider can speak with."""
        ...


# --- images ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageResult:
    data: bytes
    content_type: str
    model: str = ""


@runtime_checkable
class ImageGenerator(Protocol):
    name: str

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        """One square image for ``prompt``. ``context`` is the card, for offline drawing."""
        ...


# --- moderation ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModerationScores:
    """The vendor's verdict on one text, in the vendor's category names."""

    categories: Mapping[str, bool] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModerationResult:
    results: Sequence[ModerationScores]  # one per text, in the order they were sent
    model: str = ""


@runtime_checkable
class Moderator(Protocol):
    name: str

    async def moderate(self, texts: Sequence[str]) -> ModerationResult:
        """Classify each of ``texts``. Raises ProviderError; the caller decides whether to fail open."""
        ...
