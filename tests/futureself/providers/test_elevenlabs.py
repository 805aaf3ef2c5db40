"""Contract tests: the real elevenlabs client against the local vendor fake."""

from __future__ import annotations

import asyncio
import base64
import gc
import time
import weakref

import pytest

from futureself.providers.base import (
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
    SpeechToText,
    TextToSpeech,
)
from futureself.providers.elevenlabs import ElevenLabsSpeechStream, ElevenLabsSpeechToText, ElevenLabsTextToSpeech
from futureself.providers.resilience import Deadlines, RetryPolicy
from tests.vendor_fakes import Fault, Malformed, Stall
from tests.vendor_fakes.samples import MP3_FRAME

# Roomy for calls meant to succeed; the fault tests set short deadlines of their own.
ROOMY = Deadlines(stt=5, stt_final=5, tts_first_chunk=5, stream_total=10, complete=5)
QUICK_RETRIES = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=3)
HALF_SECOND_OF_PCM = bytes(16000)  # 16 kHz, 16-bit mono


def stt(fake, **overrides) -> ElevenLabsSpeechToText:
    options = {"api_key": "xi-test", "base_url": fake.base_url, "deadlines": ROOMY, "retry": QUICK_RETRIES}
    return ElevenLabsSpeechToText(model="scribe_v2", realtime_model="scribe_v2_realtime", **{**options, **overrides})


def tts(fake, **overrides) -> ElevenLabsTextToSpeech:
    options = {"api_key": "xi-test", "base_url": fake.base_url, "deadlines": ROOMY, "retry": QUICK_RETRIES}
    return ElevenLabsTextToSpeech(model="eleven_flash_v2_5", **{**options, **overrides})


def test_the_adapters_satisfy_the_interfaces(vendor_fake):
    assert isinstance(stt(vendor_fake), SpeechToText)
    speech = tts(vendor_fake)
    assert isinstance(speech, TextToSpeech)
    assert speech.available is True
    assert speech.supported_formats == ("mp3_44100_128", "pcm_16000")


# --- batch speech-to-text -----------------------------------------------------------


async def test_transcribe_sends_the_audio_to_scribe_and_returns_text_and_language(vendor_fake):
    vendor_fake.script("elevenlabs.stt", "I want to open a bakery.")

    transcript = await stt(vendor_fake).transcribe(b"webm-bytes", content_type="audio/webm;codecs=opus")

    assert transcript.text == "I want to open a bakery."
    assert transcript.language == "en"
    assert transcript.audio_seconds > 0
    sent = vendor_fake.last("elevenlabs.stt")
    assert sent.headers["xi-api-key"] == "xi-test"
    assert sent.form["model_id"] == "scribe_v2"
    assert sent.form["file_format"] == "other"
    assert sent.files["file"][2] == b"webm-bytes"
    assert sent.files["file"][1] == "audio/webm"


async def test_transcribe_declares_raw_pcm_and_passes_the_language(vendor_fake):
    transcript = await stt(vendor_fake).transcribe(
        HALF_SECOND_OF_PCM, content_type="audio/pcm;rate=16000", language="fr"
    )

    sent = vendor_fake.last("elevenlabs.stt")
    assert sent.form["file_format"] == "pcm_s16le_16"
    assert sent.form["language_code"] == "fr"
    assert transcript.language == "fr"
    assert transcript.audio_seconds == pytest.approx(0.5)


async def test_transcribe_with_a_rejected_key_is_not_configured(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Fault(401))

    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        await stt(vendor_fake).transcribe(b"x", content_type="audio/webm")
    assert len(vendor_fake.received("elevenlabs.stt")) == 1


async def test_transcribe_honours_retry_after_then_succeeds(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Fault(429, retry_after=0.3), "Second try.")

    started = time.perf_counter()
    transcript = await stt(vendor_fake).transcribe(b"x", content_type="audio/webm")

    assert transcript.text == "Second try."
    assert time.perf_counter() - started >= 0.3


async def test_transcribe_gives_up_on_repeated_server_errors(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Fault(500), Fault(500), Fault(500))

    with pytest.raises(ProviderUnavailable):
        await stt(vendor_fake).transcribe(b"x", content_type="audio/webm")
    assert len(vendor_fake.received("elevenlabs.stt")) == 3


async def test_a_rate_limit_longer_than_the_budget_is_reported_not_waited(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Fault(429, retry_after=60))

    with pytest.raises(ProviderRateLimited) as caught:
        await stt(vendor_fake).transcribe(b"x", content_type="audio/webm")
    assert caught.value.retry_after == 60


async def test_a_stalled_transcription_misses_its_deadline(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Stall())

    with pytest.raises(ProviderUnavailable, match="longer than"):
        await stt(vendor_fake, deadlines=Deadlines(stt=0.3), retry=RetryPolicy(attempts=1)).transcribe(
            b"x", content_type="audio/webm"
        )


async def test_a_malformed_transcription_is_a_bad_response(vendor_fake):
    vendor_fake.script("elevenlabs.stt", Malformed())

    with pytest.raises(ProviderBadResponse):
        await stt(vendor_fake).transcribe(b"x", content_type="audio/webm")


# --- realtime speech-to-text ----------------------------------------------------------


async def test_a_realtime_stream_sends_pcm_and_returns_the_committed_transcript(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", "Maybe I should call my sister more.")

    stream = await stt(vendor_fake).open_stream(sample_rate=16000, language="en")
    await stream.send(HALF_SECOND_OF_PCM[:8000])
    await stream.send(HALF_SECOND_OF_PCM[8000:])
    transcript = await stream.finish()

    assert transcript.text == "Maybe I should call my sister more."
    assert transcript.audio_seconds == pytest.approx(0.5)
    session = vendor_fake.last("elevenlabs.realtime")
    assert session.headers["xi-api-key"] == "xi-test"
    assert session.query["model_id"] == "scribe_v2_realtime"
    assert session.query["audio_format"] == "pcm_16000"
    assert session.query["commit_strategy"] == "manual"
    assert session.query["language_code"] == "en"
    audio = b"".join(base64.b64decode(m["audio_base_64"]) for m in session.ws_messages if m["audio_base_64"])
    assert audio == HALF_SECOND_OF_PCM
    assert session.ws_messages[-1]["commit"] is True


async def test_the_transcript_does_not_wait_for_the_sessions_close_handshake(vendor_fake):
    import asyncio

    vendor_fake.script("elevenlabs.realtime", "Maybe.")
    stream = await stt(vendor_fake).open_stream(sample_rate=16000)
    await stream.send(HALF_SECOND_OF_PCM)
    handshake_done = asyncio.Event()
    closed = []
    close = stream.connection.close

    async def slow_close(*args, **kwargs):
        closed.append("started")
        await handshake_done.wait()  # a vendor slow to acknowledge the close
        await close(*args, **kwargs)

    stream.connection.close = slow_close
    async with asyncio.timeout(5):  # waiting for the handshake would hang here
        transcript = await stream.finish()
        await stream.aclose()  # what the caller does next returns at once too

    assert transcript.text == "Maybe."
    await asyncio.sleep(0)
    assert closed == ["started"]  # the close is under way, in the background
    handshake_done.set()


async def test_a_realtime_transcript_that_never_comes_misses_the_final_deadline(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Stall())
    stream = await stt(vendor_fake, deadlines=Deadlines(stt_final=0.4)).open_stream()
    await stream.send(HALF_SECOND_OF_PCM)

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match="final transcript"):
        await stream.finish()
    assert time.perf_counter() - started < 1.5


async def test_a_realtime_commit_of_too_little_audio_is_a_bad_response(vendor_fake):
    stream = await stt(vendor_fake).open_stream()
    await stream.send(bytes(320))

    with pytest.raises(ProviderBadResponse, match=r"0\.3 s") as caught:
        await stream.finish()
    assert caught.value.retryable is False


async def test_a_realtime_auth_error_message_is_not_configured(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", {"message_type": "auth_error", "error": "Invalid API key"})
    stream = await stt(vendor_fake).open_stream()
    await stream.send(HALF_SECOND_OF_PCM)

    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        await stream.finish()


async def test_a_realtime_handshake_rejected_with_401_is_not_configured(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Fault(401))

    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        await stt(vendor_fake).open_stream()


async def test_a_realtime_handshake_rate_limited_waits_as_retry_after_asks(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Fault(429, retry_after=0.3), "Heard you.")

    started = time.perf_counter()
    stream = await stt(vendor_fake).open_stream()
    assert time.perf_counter() - started >= 0.3
    await stream.send(HALF_SECOND_OF_PCM)

    assert (await stream.finish()).text == "Heard you."
    assert len(vendor_fake.received("elevenlabs.realtime")) == 2


async def test_a_realtime_handshake_rate_limited_past_the_budget_is_reported(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Fault(429, retry_after=60))

    with pytest.raises(ProviderRateLimited) as caught:
        await stt(vendor_fake).open_stream()
    assert (caught.value.retryable, caught.value.retry_after) == (True, 60)
    assert len(vendor_fake.received("elevenlabs.realtime")) == 1


async def test_a_realtime_handshake_refused_with_500_is_retried_then_unavailable(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Fault(500), Fault(500), Fault(500))

    with pytest.raises(ProviderUnavailable) as caught:
        await stt(vendor_fake).open_stream()
    assert caught.value.retryable is True
    assert len(vendor_fake.received("elevenlabs.realtime")) == QUICK_RETRIES.attempts


async def test_a_realtime_handshake_refused_with_500_once_is_invisible(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Fault(500))

    stream = await stt(vendor_fake).open_stream()
    await stream.aclose()
    assert len(vendor_fake.received("elevenlabs.realtime")) == 2


async def test_a_malformed_realtime_message_is_a_bad_response(vendor_fake):
    vendor_fake.script("elevenlabs.realtime", Malformed())
    stream = await stt(vendor_fake).open_stream()
    await stream.send(HALF_SECOND_OF_PCM)

    started = time.perf_counter()
    with pytest.raises(ProviderBadResponse, match="malformed") as caught:
        await stream.finish()
    assert time.perf_counter() - started < 1.0  # reported at once, not at the final deadline
    assert caught.value.retryable is True
    assert vendor_fake.last("elevenlabs.realtime").ws_messages[-1]["commit"] is True


async def test_a_closed_realtime_stream_refuses_more_audio(vendor_fake):
    stream = await stt(vendor_fake).open_stream()
    await stream.aclose()
    await stream.aclose()

    with pytest.raises(ProviderUnavailable):
        await stream.send(HALF_SECOND_OF_PCM)


# --- text-to-speech ------------------------------------------------------------------


async def test_tts_streams_audio_with_voice_model_format_and_context(vendor_fake):
    audio = MP3_FRAME * 40
    vendor_fake.script("elevenlabs.tts", audio)

    chunks = [
        c
        async for c in tts(vendor_fake).stream(
            "I moved in the spring.",
            voice_id="voice-123",
            output_format="mp3_44100_128",
            previous_text="It was hard at first.",
            next_text="I never looked back.",
        )
    ]

    assert b"".join(chunks) == audio
    assert len(chunks) > 1
    sent = vendor_fake.last("elevenlabs.tts")
    assert sent.path == "/v1/text-to-speech/voice-123/stream"
    assert sent.query["output_format"] == "mp3_44100_128"
    assert sent.json["text"] == "I moved in the spring."
    assert sent.json["model_id"] == "eleven_flash_v2_5"
    assert sent.json["previous_text"] == "It was hard at first."
    assert sent.json["next_text"] == "I never looked back."


async def test_tts_connections_stay_open_for_reuse_when_more_than_twenty_are_in_use(vendor_fake, monkeypatch):
    """httpcore 1.0 closes idle connections whenever its pool holds more than
    max_keepalive_connections in all: at httpx's default of 20, the second burst opened new ones."""
    from futureself.providers import elevenlabs

    monkeypatch.setattr(elevenlabs, "POOL_SHARDS", 1)
    speech = tts(vendor_fake)

    async def speak() -> None:
        assert [c async for c in speech.stream("Hi.", voice_id="v", output_format="pcm_16000")]

    for _ in range(2):
        await asyncio.gather(*(speak() for _ in range(30)))

    peers = [r.peer for r in vendor_fake.requests if r.route == "elevenlabs.tts"]
    assert len(peers) == 60
    assert len(set(peers)) == 30


async def test_one_speech_after_another_reuses_one_connection(vendor_fake):
    """A quiet server's requests (one conversation: two a turn, seconds apart) were spread over
    the pools in turn, so each came to a pool left idle past the keep-alive and opened a new
    connection (a TLS handshake against the real API) before its first audio."""
    speech = tts(vendor_fake)

    for text in ("I moved in the spring.", "It was hard at first.", "I never looked back."):
        assert [c async for c in speech.stream(text, voice_id="v", output_format="pcm_16000")]

    peers = [r.peer for r in vendor_fake.requests if r.route == "elevenlabs.tts"]
    assert len(peers) == 3
    assert peers[0] is not None
    assert set(peers) == {peers[0]}


async def test_tts_produces_pcm_when_asked(vendor_fake):
    chunks = [c async for c in tts(vendor_fake).stream("Hello there.", voice_id="v", output_format="pcm_16000")]

    assert vendor_fake.last("elevenlabs.tts").query["output_format"] == "pcm_16000"
    assert len(b"".join(chunks)) % 2 == 0


async def test_tts_rejects_an_unsupported_format_without_calling_the_vendor(vendor_fake):
    with pytest.raises(ProviderBadResponse, match="Unsupported output format"):
        [c async for c in tts(vendor_fake).stream("Hi.", voice_id="v", output_format="ulaw_8000")]
    assert not vendor_fake.received("elevenlabs.tts")


async def test_tts_with_a_rejected_key_is_not_configured(vendor_fake):
    vendor_fake.script("elevenlabs.tts", Fault(401))

    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        [c async for c in tts(vendor_fake).stream("Hi.", voice_id="v")]


async def test_tts_retries_a_server_error_before_the_first_chunk(vendor_fake):
    vendor_fake.script("elevenlabs.tts", Fault(503), MP3_FRAME * 4)

    chunks = [c async for c in tts(vendor_fake).stream("Hi.", voice_id="v")]

    assert b"".join(chunks) == MP3_FRAME * 4
    assert len(vendor_fake.received("elevenlabs.tts")) == 2


async def test_tts_honours_retry_after(vendor_fake):
    vendor_fake.script("elevenlabs.tts", Fault(429, retry_after=0.2))

    started = time.perf_counter()
    chunks = [c async for c in tts(vendor_fake).stream("Hi.", voice_id="v")]

    assert chunks
    assert time.perf_counter() - started >= 0.2


async def test_tts_that_sends_nothing_misses_the_first_chunk_deadline(vendor_fake):
    vendor_fake.script("elevenlabs.tts", Stall(), Stall(), Stall())
    impatient = tts(vendor_fake, deadlines=Deadlines(tts_first_chunk=0.4))

    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable):
        [c async for c in impatient.stream("Hi.", voice_id="v")]
    assert time.perf_counter() - started < 1.5


async def test_tts_that_stops_midway_misses_the_whole_stream_deadline(vendor_fake):
    vendor_fake.script("elevenlabs.tts", Stall(after=1))
    received: list[bytes] = []

    async def consume() -> None:
        impatient = tts(vendor_fake, deadlines=Deadlines(tts_first_chunk=2, stream_total=0.8))
        async for chunk in impatient.stream("A much longer sentence to say out loud.", voice_id="v"):
            received.append(chunk)

    with pytest.raises(ProviderUnavailable, match="deadline"):
        await consume()
    assert received


async def test_voices_lists_the_vendor_voices(vendor_fake):
    voices = await tts(vendor_fake).voices()

    assert [v.name for v in voices] == ["George", "Sarah", "Bill"]
    assert voices[0].voice_id == "JBFqnCBsd6RMkjVDRZzb"
    assert voices[0].labels["accent"] == "british"
    assert vendor_fake.last("elevenlabs.voices").path == "/v2/voices"


async def test_a_malformed_voice_list_is_a_bad_response(vendor_fake):
    vendor_fake.script("elevenlabs.voices", Malformed())

    with pytest.raises(ProviderBadResponse):
        await tts(vendor_fake).voices()


async def test_a_voice_list_with_a_rejected_key_is_not_configured_and_not_retried(vendor_fake):
    vendor_fake.script("elevenlabs.voices", Fault(401))

    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY") as caught:
        await tts(vendor_fake).voices()
    assert caught.value.retryable is False
    assert len(vendor_fake.received("elevenlabs.voices")) == 1


async def test_a_rate_limited_voice_list_waits_as_retry_after_asks(vendor_fake):
    vendor_fake.script("elevenlabs.voices", Fault(429, retry_after=0.3))

    started = time.perf_counter()
    voices = await tts(vendor_fake).voices()

    assert [v.name for v in voices] == ["George", "Sarah", "Bill"]
    assert time.perf_counter() - started >= 0.3
    assert len(vendor_fake.received("elevenlabs.voices")) == 2


async def test_a_voice_list_rate_limited_past_the_budget_is_reported(vendor_fake):
    vendor_fake.script("elevenlabs.voices", Fault(429, retry_after=60))

    with pytest.raises(ProviderRateLimited) as caught:
        await tts(vendor_fake).voices()
    assert (caught.value.retryable, caught.value.retry_after) == (True, 60)
    assert len(vendor_fake.received("elevenlabs.voices")) == 1


async def test_a_voice_list_failing_with_500_is_retried_then_unavailable(vendor_fake):
    vendor_fake.script("elevenlabs.voices", Fault(500), Fault(500), Fault(500))

    with pytest.raises(ProviderUnavailable) as caught:
        await tts(vendor_fake).voices()
    assert caught.value.retryable is True
    assert len(vendor_fake.received("elevenlabs.voices")) == QUICK_RETRIES.attempts


def test_a_missing_key_is_not_configured():
    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        ElevenLabsTextToSpeech(api_key="")


async def test_the_realtime_socket_does_not_ask_for_compression(vendor_fake):
    stream = await stt(vendor_fake).open_stream(sample_rate=16000)
    await stream.aclose()

    headers = {k.lower() for k in vendor_fake.last("elevenlabs.realtime").headers}
    assert "sec-websocket-extensions" not in headers


class HandlerRecordingConnection:
    """Holds the handlers a realtime stream registers, as the SDK's connection does."""

    def __init__(self) -> None:
        self.handlers: dict[object, object] = {}

    def on(self, event: object, handler: object) -> None:
        self.handlers[event] = handler


def test_a_realtime_stream_is_freed_without_the_cyclic_collector():
    from elevenlabs.realtime import RealtimeEvents

    connection = HandlerRecordingConnection()
    stream = ElevenLabsSpeechStream(connection, sample_rate=16_000, language="en", final_seconds=1)
    connection.handlers[RealtimeEvents.PARTIAL_TRANSCRIPT]({"text": "I think"})
    connection.handlers[RealtimeEvents.PARTIAL_TRANSCRIPT]({"text": ""})
    assert stream.partial == "I think"

    freed = weakref.ref(stream)
    gc.disable()
    try:
        del stream, connection
        assert freed() is None
    finally:
        gc.enable()
