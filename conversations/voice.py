"""The live turn of a conversation: typed or spoken in, text and speech out.

``VoicePipeline`` serves one WebSocket connection. The consumer hands it parsed
frames; it sends the events back through the two callables it was given
(``send_json``, ``send_bytes``). Every turn goes through the same steps:

1. admission: per-person and per-IP rate limit, daily LLM-token budget (a
   spoken turn over them is still transcribed, and refused after that unless
   the phrase check flags it: a person in crisis is never refused);
2. speech-to-text for an utterance: the audio is streamed to the realtime
   transcriber while the person speaks and committed on ``audio.end`` (the batch
   transcriber is the fallback when the realtime one fails);
3. the person's words are saved while they are screened (``asafety_screen``): a
   flagged message is answered with the ``safety`` event and never reaches the persona;
4. the reply: the LLM stream is cut at sentence ends (``SentenceGate``); each
   sentence passes the output post-check (``check_output``), is sent as one
   ``reply.delta`` and, when speaking, goes to streaming TTS with its neighbouring
   text: the first sentence at once, the later ones grouped into as few requests as
   keep the audio flowing (``SPEECH_CHARS_PER_SECOND``). The next request is
   synthesised while the audio before it is still being sent; one forwarder sends
   the audio strictly in order.

Everything a reply does runs inside one task (``turn_task``) and its children,
so a barge-in (``interrupt`` or new audio) cancels the LLM stream and every TTS
stream at once, drops their queued audio, and only then sends ``reply.end``
with ``interrupted: true``: nothing of that reply can follow it.

Hot path: no ORM call while a reply streams (the reply is saved once at its end),
no per-chunk logging, audio forwarded as soon as it arrives. The conversation as the
prompt needs it (``ConversationState``) is kept for the life of the socket and
updated as messages are saved, so a turn reads nothing back; otherwise state is per
turn: the current utterance and the current reply, nothing kept afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from conversations import services
from conversations.engine import ConversationEngine, ConversationState, Reply, ReplyDelta, ReplyEnd, ReplyStart
from conversations.models import Conversation, Message
from futureself.limits import BudgetExceeded, RateLimited, abudget_charge_all, budget_exceeded
from futureself.ownership import Owner
from futureself.providers.base import (
    OUTPUT_FORMATS,
    ProviderError,
    ProviderNotConfigured,
    SpeechStream,
    SpeechToText,
    TextToSpeech,
    Transcript,
)
from futureself.safety.checker import SafetyVerdict, check_text
from futureself.safety.output import check_output
from futureself.safety.services import SafetyOutcome, asafety_screen

logger = logging.getLogger(__name__)

INPUT_AUDIO_FORMATS = {"pcm_s16le_16000": "audio/pcm;rate=16000", "webm_opus": "audio/webm"}
PCM_BYTES_PER_SECOND = 32_000
AUDIO_FRAME_BYTES = 64_000  # the most reply audio sent in one binary frame (2 s of PCM)
# The first sentence of a reply is synthesised the moment it is complete. The sentences after it
# are grouped: each TTS request takes everything complete by the time the audio already requested
# (estimated from its text at SPEECH_CHARS_PER_SECOND, faster than people speak, so the estimate
# errs short) is due to run out within SPEECH_LEAD_SECONDS, or by the end of the reply. A
# three-sentence reply is two requests, not three: fewer calls to the vendor (its concurrency
# limits, its per-request cost, our per-request CPU) and longer text for its prosody.
SPEECH_CHARS_PER_SECOND = 20.0
SPEECH_LEAD_SECONDS = 0.5
SPEECH_GROUP_MAX_CHARS = 400
STT_KEY_HINT = "set ELEVENLABS_API_KEY (with FUTURESELF_STT_PROVIDER=elevenlabs) to enable it"


class FrameError(Exception):
    """A frame or turn the server refuses; the connection stays usable."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.extra = extra

    def event(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, "retryable": self.retryable, **self.extra}


class OverLimit(FrameError):
    """A turn over the rate limit or today's LLM budget (``rate_limited`` / ``budget_exceeded``)."""


def _ms(start: float, end: float) -> int:
    return round((end - start) * 1000)


def provider_attribute(provider: Any, name: str, default: Any) -> Any:
    """An attribute of a provider, looking through the registry's recording wrapper."""
    for candidate in (provider, getattr(provider, "inner", None)):
        if candidate is not None and hasattr(candidate, name):
            return getattr(candidate, name)
    return default


def choose_output_format(requested: str, tts: TextToSpeech | None) -> str | None:
    """The audio format replies are spoken in: the client's choice when the TTS supports it,
    else one it supports; None when the client wants no audio or nothing can speak."""
    if requested == "none" or tts is None or not provider_attribute(tts, "available", True):
        return None
    supported = tuple(provider_attribute(tts, "supported_formats", tuple(OUTPUT_FORMATS)))
    if requested in supported:
        return requested
    for fallback in ("pcm_16000", "mp3_44100_128"):
        if fallback in supported:
            return fallback
    return supported[0] if supported else None


# --- sentences ------------------------------------------------------------------------

_SENTENCE_END = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?=\\s)|\n")
# An end mark at the very end of the text so far, with the word before it and any closing quotes.
_TRAILING_END = re.compile("(\\S*?)([.!?\u2026]+)([\"'\u201d\u2019)\\]]*)$")
_PLAIN_WORD = re.compile(r"[^\W\d_]{2,}(?:['\u2019-][^\W\d_]+)*")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "prof", "vs", "etc", "e.g", "i.e", "mt", "jr", "sr", "no"})
# Words that may be abbreviations: before ending a sentence on one of them the gate sees what follows.
_MAYBE_ABBREVIATIONS = _ABBREVIATIONS | frozenset(
    {"inc", "ltd", "co", "corp", "approx", "ave", "rd", "gen", "lt", "col", "sgt", "rev", "fig", "vol"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
_CLOSING = ".!?\u2026\"'\u201d\u2019)]"
_SOFT_BREAK = re.compile("[,;:\u2014\u2013](?=\\s)")


class SentenceGate:
    """Cuts a stream of text deltas into sentences, each with its leading whitespace.

    The pieces concatenate back to the streamed text. A sentence ends at an end mark
    followed by whitespace (so "3.5" or "U.S." mid-word stay whole); a run-on longer
    than ``soft_limit`` is cut at its last clause break, so speech and text never
    wait long for a full stop.

    An end mark that closes the text so far ends the sentence at once, without
    waiting for the next token to show what follows it, when nothing after it could
    still belong to the sentence: "!", "?" or "\u2026", or a full stop after an
    ordinary word (two or more letters, not an abbreviation) with every quote and
    bracket closed. After a number, an initial, an abbreviation, "U.S"-like words or
    inside a quote the gate waits for the next token as before. Waiting would cost
    the first sentence one token's time (25 ms at 40 tokens a second) before its
    speech can start.
    """

    def __init__(self, *, soft_limit: int = 220) -> None:
        self.soft_limit = soft_limit
        self.buffer = ""

    @property
    def pending(self) -> str:
        return self.buffer

    def feed(self, text: str) -> list[str]:
        self.buffer += text
        pieces: list[str] = []
        start = 0
        while (match := _SENTENCE_END.search(self.buffer, start)) is not None:
            end = match.end()
            if (match.group(0) != "\n" and self._is_abbreviation(match.start())) or not self.buffer[:end].strip():
                start = end  # not an end after all, or only leading blank lines: they go with the next sentence
                continue
            pieces.append(self.buffer[:end])
            self.buffer = self.buffer[end:]
            start = 0
        if self._ends_here():
            pieces.append(self.buffer)
            self.buffer = ""
        elif len(self.buffer) > self.soft_limit:
            pieces.append(self._soft_cut())
        return pieces

    def flush(self) -> list[str]:
        piece, self.buffer = self.buffer, ""
        return [piece] if piece.strip() else []

    def _is_abbreviation(self, at: int) -> bool:
        word = re.search(r"(\S+)$", self.buffer[:at])
        if word is None:
            return False
        token = word.group(1)
        return token.lower().strip("(\"'") in _ABBREVIATIONS or (len(token) == 1 and token.isupper())

    def _ends_here(self) -> bool:
        """Whether the end mark closing the buffer ends its sentence whatever comes next."""
        if not self.buffer or self.buffer[-1] not in _CLOSING:
            return False
        match = _TRAILING_END.search(self.buffer)
        if match is None or not self._quotes_closed():
            return False
        word, marks = match.group(1).lstrip("\"'\u201c\u2018(["), match.group(2)
        if marks != ".":
            return not marks.endswith(".") and "/" not in word  # "..", "?." could grow; a URL's "?" is no end
        return _PLAIN_WORD.fullmatch(word) is not None and word.lower() not in _MAYBE_ABBREVIATIONS

    def _quotes_closed(self) -> bool:
        text = self.buffer
        return (
            text.count('"') % 2 == 0
            and text.count("\u201c") <= text.count("\u201d")
            and text.count("(") <= text.count(")")
            and text.count("[") <= text.count("]")
        )

    def _soft_cut(self) -> str:
        breaks = [m.end() for m in _SOFT_BREAK.finditer(self.buffer) if m.end() > 40]
        cut = breaks[-1] if breaks else (self.buffer.rfind(" ") if self.buffer.rfind(" ") > 40 else len(self.buffer))
        piece, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return piece


# --- one utterance ---------------------------------------------------------------------


class Utterance:
    """The audio of one utterance, streamed to the realtime transcriber as it arrives.

    The bytes are also kept (up to the utterance limit) for the batch fallback.
    """

    def __init__(
        self, *, stt: SpeechToText | None, input_format: str, language: str | None = None, rejected: bool = False
    ) -> None:
        self.stt = stt
        self.input_format = input_format
        self.language = language
        self.audio = bytearray()
        self.rejected = rejected or stt is None
        self.realtime_error: ProviderError | None = None
        # Set when the utterance began over a limit: it is refused after transcription unless in crisis.
        self.refusal: OverLimit | None = None
        self.used_fallback = False
        self._stream: SpeechStream | None = None
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._feeder: asyncio.Task | None = None
        if input_format == "pcm_s16le_16000" and not self.rejected:
            self._feeder = asyncio.create_task(self._feed())

    @property
    def size(self) -> int:
        return len(self.audio)

    @property
    def duration_ms(self) -> int | None:
        return round(self.size * 1000 / PCM_BYTES_PER_SECOND) if self.input_format == "pcm_s16le_16000" else None

    def push(self, data: bytes) -> None:
        self.audio += data
        if self._feeder is not None:
            self._chunks.put_nowait(data)

    async def _feed(self) -> None:
        try:
            self._stream = await self.stt.open_stream(sample_rate=16000, language=self.language)
            ended = False
            while not ended and (chunk := await self._chunks.get()) is not None:
                # Whatever queued up meanwhile goes in the same message: fewer, larger sends under load.
                pieces = [chunk]
                while not self._chunks.empty():
                    piece = self._chunks.get_nowait()
                    if piece is None:
                        ended = True
                        break
                    pieces.append(piece)
                await self._stream.send(b"".join(pieces))
        except ProviderError as exc:
            self.realtime_error = exc
            self._drain()

    def _drain(self) -> None:
        while not self._chunks.empty():
            self._chunks.get_nowait()

    async def transcribe(self) -> Transcript:
        """Commit the utterance (realtime), or transcribe it whole when that failed. Raises ProviderError."""
        if self._feeder is not None:
            self._chunks.put_nowait(None)
            await self._feeder
            if self.realtime_error is None and self._stream is not None:
                try:
                    return await self._stream.finish()
                except ProviderError as exc:
                    self.realtime_error = exc
            if isinstance(self.realtime_error, ProviderNotConfigured):
                raise self.realtime_error
            logger.info("realtime transcription failed (%s); using batch", self.realtime_error.code)
        self.used_fallback = self._feeder is not None
        return await self.stt.transcribe(bytes(self.audio), content_type=INPUT_AUDIO_FORMATS[self.input_format])

    async def aclose(self) -> None:
        if self._feeder is not None and not self._feeder.done():
            self._feeder.cancel()
            await asyncio.gather(self._feeder, return_exceptions=True)
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.aclose()
        self.audio = bytearray()
        self._drain()


# --- one reply -----------------------------------------------------------------------------

_END = object()


@dataclass(slots=True)
class _Failure:
    error: BaseException


@dataclass(frozen=True, slots=True)
class Saved:
    """A turn's message once saved, with the position the connection expected it at, its safety
    screen still to be awaited and, when one was begun, the reply already requested."""

    message: Message
    expected_position: int | None
    screen: asyncio.Task[SafetyOutcome]
    early_reply: Reply | None
    saved_at: float  # time.perf_counter() when the insert returned


class ReplyRun:
    """What one reply has produced so far: the sentences shown, the audio in flight, its timings."""

    def __init__(
        self, reply: Reply, *, received_at: float, timings: dict[str, Any], tts_allowance: int | None = None
    ) -> None:
        self.reply = reply
        self.received_at = received_at
        self.timings = timings
        # Voice characters this reply may still use (read once at admission; None: unlimited).
        self.tts_allowance = tts_allowance
        self.tts_reserved = 0
        self.shown: list[str] = []
        self.end_sent = False
        self.audio_started = False
        self.tts_failed = False
        self.tts_started_at: float | None = None
        self.tts_characters = 0
        # One queue per TTS request (a sentence or a group), in order; each holds its audio chunks.
        self.sentences: asyncio.Queue[asyncio.Queue | None] = asyncio.Queue()
        # Sentences waiting to be synthesised together (see SPEECH_CHARS_PER_SECOND).
        self.speech_pending: list[str] = []
        self.speech_previous = ""
        self.speech_requested_at: float | None = None
        self.speech_chars = 0
        self.speech_timer: asyncio.TimerHandle | None = None

    @property
    def text(self) -> str:
        return "".join(self.shown).strip()


SendJson = Callable[[dict[str, Any]], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]


class VoicePipeline:
    """Turns of one connection: admission, transcription, safety, the streamed and spoken reply."""

    def __init__(
        self,
        *,
        engine: ConversationEngine,
        conversation: Conversation,
        owner: Owner,
        ip: str | None,
        send_json: SendJson,
        send_bytes: SendBytes,
        stt: SpeechToText | None = None,
        tts: TextToSpeech | None = None,
        output_format: str | None = None,
        input_format: str = "pcm_s16le_16000",
        voice_id: str = "",
        language: str | None = None,
        state: ConversationState | None = None,
    ) -> None:
        self.engine = engine
        self.conversation = conversation
        self.owner = owner
        self.ip = ip
        self.send_json = send_json
        self.send_bytes = send_bytes
        self.stt = stt
        self.tts = tts if output_format else None
        self.output_format = output_format
        self.input_format = input_format
        self.voice_id = voice_id
        self.language = language
        self.max_frame = settings.VOICE_MAX_FRAME_BYTES
        self.max_utterance = settings.VOICE_MAX_UTTERANCE_BYTES
        self.min_utterance = settings.VOICE_MIN_UTTERANCE_MS * PCM_BYTES_PER_SECOND // 1000
        self.tts_concurrency = max(1, settings.VOICE_TTS_CONCURRENCY)
        self.pipelined_tts = settings.VOICE_PIPELINED_TTS
        self.utterance: Utterance | None = None
        self.turn_task: asyncio.Task | None = None
        # True from the moment a turn is accepted until its last event (reply.end, safety or error) is sent.
        # Bookkeeping after that (budget charge) runs on; only the next turn's limit check waits for it.
        self.turn_open = False
        self.run: ReplyRun | None = None
        self.memory_task: asyncio.Task | None = None
        # The conversation as the prompt needs it, kept while the socket lives so a turn reads
        # nothing back from the database (see ConversationState.with_message).
        self.state = state
        self.tts_allowance: int | None = None
        # The reply requested while its turn's message is screened (see _save_then_screen).
        self.early_reply: Reply | None = None

    @property
    def speaking(self) -> bool:
        return self.tts is not None

    @property
    def busy(self) -> bool:
        return self.turn_open and self.turn_task is not None and not self.turn_task.done()

    def _begin_turn(self, work: Coroutine[Any, Any, None]) -> None:
        self.run = None
        self.turn_open = True
        self.turn_task = asyncio.create_task(self._guarded(work))

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run one turn so that it always ends with a last event, even when something fails that no
        step expected (a bug, not a provider error: those each step answers itself)."""
        try:
            await work
        except Exception as exc:
            await self._fail(exc)

    async def _fail(self, exc: Exception) -> None:
        """End the turn after an unexpected failure: what was shown is kept as an interrupted reply
        (announced by its ``reply.end``), then ``internal_error``; the connection takes the next turn."""
        # The type only: an exception's message or traceback may quote what the person said.
        logger.error("a conversation turn failed: %s", type(exc).__name__)
        if self.turn_task is not asyncio.current_task() or not self.turn_open:
            return  # the turn had already sent its last event: the failure was in its bookkeeping
        run = self.run
        extra: dict[str, Any] = {}
        if run is not None and not run.end_sent:
            run.end_sent = True
            try:
                if run.text:
                    end = await run.reply.interrupt(text=run.text, extra_timings=self._timings(run))
                    await self.send_json(end_payload(end))
                    await self._note_message(run.reply.message, run.reply.position)
                    await self._settle(run, llm_tokens=run.reply.tokens_used())
                else:
                    # Nothing was shown: nothing is stored, and the client drops the empty reply.
                    extra["message_id"] = str(run.reply.message_id)
                    await self._settle(run, llm_tokens=0)
            except Exception as again:
                logger.error("could not save the reply of a failed turn: %s", type(again).__name__)
        await self._conclude(internal_error_event(**extra))

    async def _conclude(self, payload: dict[str, Any]) -> None:
        """Send the turn's last event: from here on the connection takes the next turn."""
        self.turn_open = False
        await self.send_json(payload)

    # -- admission --

    async def admit(self, *, limits: bool = True) -> None:
        """Check, in one trip, that the conversation is open and (``limits``) count the turn against
        the rate limits and today's LLM budget; note the voice budget left. Raises FrameError."""
        if limits:
            await self._previous_turn_charged()
        try:
            admission = await database_sync_to_async(services.turn_admit)(
                conversation_id=self.conversation.pk, owner=self.owner, ip=self.ip, limits=limits
            )
        except (RateLimited, BudgetExceeded) as exc:
            raise OverLimit(exc.code, exc.detail, retryable=exc.retryable, retry_after=exc.retry_after) from None
        if not admission.open:
            raise FrameError("conversation_ended", "This conversation has ended; start a new one to keep talking.")
        self.tts_allowance = admission.tts_remaining

    async def _previous_turn_charged(self) -> None:
        """Wait for the last turn's budget charge, which runs just after its reply.end: a person who
        speaks at once would otherwise be checked against a budget that does not count that reply yet."""
        task = self.turn_task
        if task is not None and not task.done() and not self.turn_open:
            await asyncio.wait({task})  # never raises, and leaves the task alone if this waiter is cancelled

    def ensure_idle(self) -> None:
        if self.busy:
            raise FrameError(
                "busy",
                'A reply is still streaming: send {"type": "interrupt"} first, or wait for reply.end.',
                retryable=True,
            )

    async def current_state(self) -> ConversationState:
        if self.state is None:
            self.state = await self.engine.load_state(self.conversation.pk)
        return self.state

    async def _note_message(self, message: Message, expected: int | None, *, in_prompt: bool = True) -> None:
        """Keep ``state`` in step with a message just saved; when it did not land where this
        connection expected (another tab wrote, or a retry matched an earlier message), read the
        conversation back instead."""
        if self.state is not None and expected is not None and message.position == expected:
            self.state = self.state.with_message(message, in_prompt=in_prompt)
        else:
            self.state = await self.engine.load_state(self.conversation.pk)

    # -- typed turns --

    async def text_turn(self, text: str, received_at: float) -> None:
        self.ensure_idle()
        # A person in crisis is never refused: a message the phrase check flags skips the
        # limits (its answer is the static crisis message, which costs no provider call).
        phrases = check_text(text)
        await self.admit(limits=not phrases.flagged)
        saved = await self._save_then_screen(text, received_at, phrases, input_mode=Message.InputMode.TEXT)
        self._begin_turn(self._answer(saved, received_at, {}))

    async def retry(self, received_at: float) -> None:
        self.ensure_idle()
        await self.admit()
        self.state = await self.engine.load_state(self.conversation.pk)
        if not self.state.awaiting_reply:
            raise FrameError("nothing_to_retry", "Every message already has a reply.")
        self._begin_turn(self._reply(received_at, {}))

    # -- spoken turns --

    async def audio_frame(self, data: bytes) -> None:
        """One binary frame of the current utterance; the first frame of an utterance barges in."""
        if len(data) > self.max_frame:
            if self.utterance is None:
                self.utterance = Utterance(stt=None, input_format=self.input_format)
            await self._reject_utterance()
            raise FrameError(
                "audio_too_large", f"An audio frame can be at most {self.max_frame} bytes; send smaller frames."
            )
        if self.utterance is None:
            await self.stop_reply()
            self.utterance = Utterance(stt=self.stt, input_format=self.input_format, language=self.language)
            if self.stt is None:
                raise FrameError("provider_not_configured", _stt_unconfigured_message(), stage="stt")
            try:
                await self.admit()
            except OverLimit as exc:
                # A person in crisis is never refused, and their words are not known yet: keep the
                # utterance (still within the size limits), transcribe it, and refuse it then unless the
                # phrase check flags it (``_voice_turn``).
                self.utterance.refusal = exc
            except FrameError:
                await self._reject_utterance()
                raise
        utterance = self.utterance
        if utterance.rejected:
            return
        if utterance.size + len(data) > self.max_utterance:
            await self._reject_utterance()
            seconds = self.max_utterance // PCM_BYTES_PER_SECOND
            raise FrameError(
                "audio_too_large", f"An utterance can be at most {self.max_utterance} bytes (about {seconds} s)."
            )
        utterance.push(data)

    async def _reject_utterance(self) -> None:
        """Drop the utterance's audio and ignore its remaining frames until ``audio.end``."""
        utterance = self.utterance
        if utterance is not None:
            utterance.rejected = True
            await utterance.aclose()

    async def audio_end(self, received_at: float) -> None:
        utterance, self.utterance = self.utterance, None
        if utterance is None:
            raise FrameError("no_audio", "audio.end came without any audio frame before it.")
        if utterance.rejected:
            await utterance.aclose()
            return
        if utterance.input_format == "pcm_s16le_16000" and utterance.size < self.min_utterance:
            await utterance.aclose()
            raise FrameError(
                "audio_too_short",
                f"That was too short to hear: hold the button while you speak (at least "
                f"{settings.VOICE_MIN_UTTERANCE_MS} ms).",
            )
        self.ensure_idle()
        self._begin_turn(self._voice_turn(utterance, received_at))

    async def _voice_turn(self, utterance: Utterance, received_at: float) -> None:
        try:
            transcript = await utterance.transcribe()
        except ProviderNotConfigured:
            await self._conclude(
                FrameError("provider_not_configured", _stt_unconfigured_message(), stage="stt").event()
            )
            return
        except ProviderError as exc:
            await self._conclude(
                FrameError(
                    exc.code,
                    "We could not make out what you said just now. Try again, or type your message.",
                    retryable=exc.retryable,
                    stage="stt",
                ).event()
            )
            return
        finally:
            duration_ms = utterance.duration_ms
            await utterance.aclose()
        timings = {"stt_ms": _ms(received_at, time.perf_counter())}
        text = transcript.text.strip()[: settings.MESSAGE_MAX_CHARS]
        if not text:
            await self._conclude(
                FrameError("nothing_heard", "We did not hear any words. Try again, a little closer to the mic.").event()
            )
            return
        phrases = check_text(text)
        if utterance.refusal is not None and not phrases.flagged:
            # Over the limit and not a crisis: refused now, nothing saved and no model asked.
            await self._conclude(utterance.refusal.event())
            return
        await self.send_json({"type": "transcript", "text": text, "final": True})
        saved = await self._save_then_screen(
            text,
            received_at,
            phrases,
            input_mode=Message.InputMode.VOICE,
            audio_duration_ms=duration_ms or round(transcript.audio_seconds * 1000) or None,
        )
        await self._answer(saved, received_at, timings)

    # -- safety, then the reply --

    async def _save_then_screen(
        self,
        text: str,
        received_at: float,
        phrases: SafetyVerdict,
        *,
        input_mode: str,
        audio_duration_ms: int | None = None,
    ) -> Saved:
        """Save the person's words, then send the reply's request and screen the words at once;
        ``_answer`` reads nothing of the reply before the verdict.

        The request goes out only when the phrase check (``phrases``, run once per turn by the
        caller) has passed and the message landed where this connection expected it (its prompt
        is then exactly what would be built after the verdict). Moderation answers in
        milliseconds and the model's first words take hundreds, so the verdict costs no wait; a
        flag drops the request unread (``docs/safety.md``).
        """
        state = await self.current_state()
        expected = state.position_for_user_message
        message = await self.engine.add_user_message(
            self.conversation.pk, text, input_mode=input_mode, audio_duration_ms=audio_duration_ms, state=state
        )
        saved_at = time.perf_counter()
        early = None
        if expected is not None and message.position == expected and not phrases.flagged:
            early = await self.engine.start_reply(
                self.conversation.pk, started_at=received_at, state=state.with_message(message)
            )
            early.begin()
        self.early_reply = early
        screen = asyncio.create_task(
            asafety_screen(
                text=text,
                source="conversation",
                conversation=self.conversation,
                input_mode=input_mode,
                phrases=phrases,
            )
        )
        return Saved(message, expected, screen, early, saved_at)

    async def _answer(self, saved: Saved, received_at: float, timings: dict[str, Any]) -> None:
        message, expected, early = saved.message, saved.expected_position, saved.early_reply
        timings["saved_ms"] = _ms(received_at, saved.saved_at)
        try:
            try:
                outcome = await saved.screen
            finally:
                saved.screen.cancel()  # a no-op once done; stops it when the turn is cancelled
            if outcome.flagged:
                if early is not None:
                    early.discard()
                    # The request was sent, so its prompt counts against the day's budget.
                    await abudget_charge_all(owner=self.owner, amounts={"llm_tokens": early.tokens_used()})
                await database_sync_to_async(services.message_flag_unsafe)(message_id=message.pk)
                await self._note_message(message, expected, in_prompt=False)
                await self._conclude({**outcome.ws_event, "message_id": str(message.pk)})
                return
            await self._note_message(message, expected)
        except BaseException:
            if early is not None:
                early.discard()
            raise
        await self._reply(received_at, timings, early=early)

    async def _reply(self, received_at: float, timings: dict[str, Any], *, early: Reply | None = None) -> None:
        self.run = None
        reply = early or await self.engine.start_reply(self.conversation.pk, started_at=received_at, state=self.state)
        run = self.run = ReplyRun(reply, received_at=received_at, timings=timings, tts_allowance=self.tts_allowance)
        try:
            await self._stream_reply(run)
        except ProviderError as exc:
            await self._conclude(
                FrameError(
                    exc.code,
                    "Your future self could not answer just now. "
                    + ('Send {"type": "retry"} to try again.' if exc.retryable else ""),
                    retryable=exc.retryable,
                    message_id=str(reply.message_id),
                ).event()
            )
            await self._settle(run, llm_tokens=0)
            return
        end = await reply.finish(text=run.text, extra_timings=self._timings(run))
        run.end_sent = True
        await self._conclude(end_payload(end))
        await self._note_message(reply.message, reply.position)
        await self._settle(run, llm_tokens=reply.tokens_used())
        self._schedule_memory_fold()

    async def _settle(self, run: ReplyRun, *, llm_tokens: int) -> None:
        """Charge today's budgets with what the reply used, in one trip, after its last event."""
        await abudget_charge_all(
            owner=self.owner, amounts={"llm_tokens": llm_tokens, "tts_characters": run.tts_characters}
        )

    async def _stream_reply(self, run: ReplyRun) -> None:
        gate = SentenceGate()
        children: set[asyncio.Task] = set()
        slots = asyncio.Semaphore(self.tts_concurrency)
        forwarder = asyncio.create_task(self._forward_audio(run)) if self.speaking else None
        if forwarder is not None:
            children.add(forwarder)
        try:
            async for event in run.reply.stream():
                if isinstance(event, ReplyStart):
                    await self.send_json({"type": "reply.start", "message_id": str(event.message_id)})
                elif isinstance(event, ReplyDelta):
                    for piece in gate.feed(event.text):
                        await self._emit(run, piece, gate.pending, slots, children)
            for piece in gate.flush():
                await self._emit(run, piece, "", slots, children)
            self._flush_speech(run, slots, children)
            if self.speaking and not self.pipelined_tts and run.text:
                self._speak(run, run.text, slots, children, previous="", following="")
            if forwarder is not None:
                run.sentences.put_nowait(None)
                await forwarder
        finally:
            # Reached early only by a failure or a barge-in: stop every TTS stream and drop their audio.
            run.reply.discard()  # in case the reply was cancelled before its stream was first read
            if run.speech_timer is not None:
                run.speech_timer.cancel()
            for task in children:
                task.cancel()
            if children:
                await asyncio.gather(*children, return_exceptions=True)

    async def _emit(
        self, run: ReplyRun, piece: str, following: str, slots: asyncio.Semaphore, children: set[asyncio.Task]
    ) -> None:
        sentence = piece.strip()
        verdict = check_output(sentence, language=self.language)
        if not verdict.ok:
            logger.info("a reply sentence broke the %s rule and was replaced", verdict.rule)
            sentence = verdict.replacement
            piece = piece[: len(piece) - len(piece.lstrip())] + sentence
        previous = run.text
        if not run.shown:
            run.timings["first_sentence_ms"] = _ms(run.received_at, time.perf_counter())
        run.shown.append(piece)
        await self.send_json({"type": "reply.delta", "text": piece})
        has_words = any(character.isalnum() for character in sentence)  # not a stray "!" cut off after "Wow!"
        if self.speaking and self.pipelined_tts and not run.tts_failed and has_words:
            self._queue_speech(run, sentence, slots, children, previous=previous[-400:], following=following.strip())

    def _queue_speech(
        self,
        run: ReplyRun,
        sentence: str,
        slots: asyncio.Semaphore,
        children: set[asyncio.Task],
        *,
        previous: str,
        following: str,
    ) -> None:
        """Synthesise the reply's first sentence now; group the later ones (SPEECH_CHARS_PER_SECOND)."""
        loop = asyncio.get_running_loop()
        if run.speech_requested_at is None:
            run.speech_requested_at = loop.time()
            run.speech_chars = len(sentence)
            self._speak(run, sentence, slots, children, previous=previous, following=following)
            return
        if not run.speech_pending:
            run.speech_previous = previous
        run.speech_pending.append(sentence)
        due = run.speech_requested_at + run.speech_chars / SPEECH_CHARS_PER_SECOND - SPEECH_LEAD_SECONDS
        if loop.time() >= due or sum(len(s) + 1 for s in run.speech_pending) > SPEECH_GROUP_MAX_CHARS:
            self._flush_speech(run, slots, children, following=following)
        elif run.speech_timer is None:
            run.speech_timer = loop.call_at(due, self._flush_speech, run, slots, children)

    def _flush_speech(
        self, run: ReplyRun, slots: asyncio.Semaphore, children: set[asyncio.Task], following: str = ""
    ) -> None:
        """Send the grouped sentences to synthesis in one request."""
        if run.speech_timer is not None:
            run.speech_timer.cancel()
            run.speech_timer = None
        pending, run.speech_pending = run.speech_pending, []
        if not pending or run.tts_failed:
            return
        text = " ".join(pending)
        run.speech_chars += len(text)
        self._speak(run, text, slots, children, previous=run.speech_previous, following=following)

    def _speak(
        self,
        run: ReplyRun,
        text: str,
        slots: asyncio.Semaphore,
        children: set[asyncio.Task],
        *,
        previous: str,
        following: str,
    ) -> None:
        audio: asyncio.Queue = asyncio.Queue()
        run.sentences.put_nowait(audio)
        task = asyncio.create_task(self._synthesize(run, text, audio, slots, previous=previous, following=following))
        children.add(task)
        task.add_done_callback(children.discard)

    async def _synthesize(
        self, run: ReplyRun, text: str, audio: asyncio.Queue, slots: asyncio.Semaphore, *, previous: str, following: str
    ) -> None:
        try:
            async with slots:
                if run.tts_failed:
                    return
                if run.tts_allowance is not None and run.tts_reserved + len(text) > run.tts_allowance:
                    raise budget_exceeded("tts_characters")
                run.tts_reserved += len(text)
                started = time.perf_counter()
                if run.tts_started_at is None:
                    run.tts_started_at = started
                first = True
                async for chunk in self.tts.stream(
                    text,
                    voice_id=self.voice_id,
                    output_format=self.output_format,
                    previous_text=previous or None,
                    next_text=following or None,
                ):
                    if first and "tts_first_audio_ms" not in run.timings:
                        run.timings["tts_first_audio_ms"] = _ms(started, time.perf_counter())
                    first = False
                    if chunk:
                        audio.put_nowait(chunk)
                audio.put_nowait(_END)
                run.tts_characters += len(text)
        except (ProviderError, BudgetExceeded) as exc:
            audio.put_nowait(_Failure(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a TTS adapter must not take the text reply down
            # The type and the provider only: an adapter's message or traceback may quote the sentence.
            logger.error(
                "speech synthesis failed in the %s provider: %s",
                provider_attribute(self.tts, "name", "unknown"),
                type(exc).__name__,
            )
            audio.put_nowait(_Failure(exc))
        finally:
            audio.put_nowait(_END)  # a second marker after a complete sentence is never read

    async def _forward_audio(self, run: ReplyRun) -> None:
        """Send the reply's audio: sentence by sentence, each chunk as soon as it arrives.

        Chunks that queued up behind a slow send go out together in one frame (up to
        ``AUDIO_FRAME_BYTES``): fewer, larger sends exactly when the loop is busy.
        """
        while (audio := await run.sentences.get()) is not None:
            item = await audio.get()
            while item is not _END:
                if isinstance(item, _Failure):
                    if not run.tts_failed:
                        run.tts_failed = True
                        await self.send_json(_tts_error(item.error, run.reply.message_id))
                    item = await audio.get()
                    continue
                pieces, size, item = [item], len(item), None
                while size < AUDIO_FRAME_BYTES and not audio.empty():
                    queued = audio.get_nowait()
                    if not isinstance(queued, bytes):
                        item = queued
                        break
                    pieces.append(queued)
                    size += len(queued)
                if not run.tts_failed:
                    await self._send_audio(run, pieces[0] if len(pieces) == 1 else b"".join(pieces))
                if item is None:
                    item = await audio.get()

    async def _send_audio(self, run: ReplyRun, data: bytes) -> None:
        if not run.audio_started:
            run.audio_started = True
            await self.send_json(
                {"type": "audio.start", "message_id": str(run.reply.message_id), "format": self.output_format}
            )
            run.timings["first_audio_ms"] = _ms(run.received_at, time.perf_counter())
        await self.send_bytes(data)

    def _timings(self, run: ReplyRun) -> dict[str, Any]:
        timings = dict(run.timings)
        if self.speaking:
            timings.setdefault("tts_first_audio_ms", None)
            timings.setdefault("first_audio_ms", None)
        return timings

    # -- barge-in --

    async def stop_reply(self) -> None:
        """Cancel the turn in progress (transcription, LLM and every TTS stream), save the reply's
        shown text as interrupted and send its ``reply.end``; nothing of that reply follows it."""
        task = self.turn_task
        if task is None or task.done() or not self.turn_open:
            return
        self.turn_open = False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.early_reply is not None:
            self.early_reply.discard()  # the turn may have been cancelled before it took the reply over
        run = self.run
        if run is None or run.end_sent:
            return
        run.end_sent = True
        end = await run.reply.interrupt(text=run.text, extra_timings=self._timings(run))
        with contextlib.suppress(Exception):  # the socket may already be gone on disconnect
            await self.send_json(end_payload(end))
        with contextlib.suppress(Exception):
            await self._note_message(run.reply.message, run.reply.position)
            await self._settle(run, llm_tokens=run.reply.tokens_used())

    async def close(self) -> None:
        await self.stop_reply()
        if self.utterance is not None:
            await self.utterance.aclose()
            self.utterance = None
        if self.memory_task is not None and not self.memory_task.done():
            self.memory_task.cancel()
            await asyncio.gather(self.memory_task, return_exceptions=True)

    # -- memory, off the hot path --

    def _schedule_memory_fold(self) -> None:
        if self.memory_task is not None and not self.memory_task.done():
            return
        if self.state is None or not self.engine.fold_due(self.state):
            return
        self.memory_task = asyncio.create_task(self._fold_memory(self.state))

    async def _fold_memory(self, state: ConversationState) -> None:
        try:
            fold = await self.engine.fold_memory(self.conversation.pk, state=state)
            # Turns added meanwhile stay: the fold only covers positions below ``fold.through``.
            if fold is not None:
                self.state = self.state.folded(fold) if self.state is not None else None
            else:  # another connection folded first: read the summary it stored
                self.state = await self.engine.load_state(self.conversation.pk)
        except ProviderError as exc:
            # The turns stay in the prompt and the next fold tries again.
            logger.warning("could not fold the conversation memory: %s", exc.code)
        except Exception as exc:
            # The type only: the summary call's error may quote the turns being folded.
            logger.error("folding the conversation memory failed: %s", type(exc).__name__)


def internal_error_event(**extra: Any) -> dict[str, Any]:
    """The answer to a failure nobody expected (logged by the caller, by exception type only)."""
    return FrameError(
        "internal_error", "Something went wrong on our side. Try again in a moment.", retryable=True, **extra
    ).event()


def _stt_unconfigured_message() -> str:
    return (
        f"Speaking needs a speech-to-text service, which this server has not set up ({STT_KEY_HINT}). "
        "You can keep typing."
    )


def _tts_error(error: BaseException, message_id) -> dict[str, Any]:
    if isinstance(error, BudgetExceeded):
        return FrameError(error.code, error.detail, retryable=False, stage="tts", message_id=str(message_id)).event()
    code = error.code if isinstance(error, ProviderError) else "tts_failed"
    retryable = error.retryable if isinstance(error, ProviderError) else True
    return FrameError(
        code,
        "Your future self's voice is not available just now; the reply continues as text.",
        retryable=retryable,
        stage="tts",
        message_id=str(message_id),
    ).event()


def end_payload(event: ReplyEnd) -> dict[str, Any]:
    return {
        "type": event.type,
        "message_id": str(event.message_id),
        "text": event.text,
        "interrupted": event.interrupted,
        "timings": event.timings,
    }
