import asyncio
import io
import itertools
import math
import os
import shutil
import signal
import struct
import subprocess
import wave

import pytest
from django.conf import settings

from futureself.providers import registry
from futureself.providers.base import ProviderNotConfigured, ProviderUnavailable
from futureself.providers.offline.speech import (
    CHUNK_BYTES,
    VOICES,
    OfflineSpeechToText,
    OfflineTextToSpeech,
    PcmConverter,
    resolve_voice,
)
from futureself.providers.recording import RecordingTextToSpeech

needs_espeak = pytest.mark.skipif(
    shutil.which(settings.OFFLINE_ESPEAK_BINARY) is None, reason="espeak-ng is not installed on this machine"
)

SENTENCE = "Ten years from now, I lead a ward in Montreal and I call my sister every Sunday."
LONG_TEXT = " ".join([SENTENCE] * 40)


def samples_of(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def sine_wav(*, rate: int, seconds: float, frequency: float, channels: int = 1) -> bytes:
    frames = int(rate * seconds)
    values = [round(12000 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(frames)]
    interleaved = [v for v in values for _ in range(channels)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(interleaved)}h", *interleaved))
    return buffer.getvalue()


def zero_crossings(samples: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


async def collect(stream) -> list[bytes]:
    return [chunk async for chunk in stream]


def espeak_reference(voice_id: str, text: str) -> tuple[int, int]:
    """Frames and sample rate of espeak-ng's own rendering of ``text``."""
    voice, language = resolve_voice(voice_id)
    command = [settings.OFFLINE_ESPEAK_BINARY, "--stdout", "-v", f"{language}+{voice.variant}"]
    command += ["-p", str(voice.pitch), "-s", str(voice.speed), text]
    wav = subprocess.run(command, capture_output=True, check=True).stdout
    return (len(wav) - 44) // 2, struct.unpack_from("<I", wav, 24)[0]


def process_exists(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")  # a zombie still has its /proc entry


class Spawned(list):
    """The processes the provider starts, to check what happens to them."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()


@pytest.fixture
def spawned(monkeypatch):
    processes = Spawned()
    real = asyncio.create_subprocess_exec

    async def spy(*args, **kwargs):
        process = await real(*args, **kwargs)
        processes.append(process)
        processes.started.set()
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    return processes


# --- speech-to-text ------------------------------------------------------------


async def test_transcribe_says_speech_to_text_needs_the_elevenlabs_key():
    with pytest.raises(ProviderNotConfigured) as caught:
        await OfflineSpeechToText().transcribe(b"\x00\x00", content_type="audio/pcm")

    assert "ELEVENLABS_API_KEY" in caught.value.message
    assert "typing" in caught.value.message.lower()
    assert caught.value.retryable is False
    assert caught.value.code == "provider_not_configured"


async def test_opening_a_realtime_stream_fails_the_same_way():
    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        await OfflineSpeechToText().open_stream(sample_rate=16000)


# --- voices --------------------------------------------------------------------


async def test_voices_cover_both_genders_at_every_age_with_labels():
    voices = await OfflineTextToSpeech().voices()
    english = [v for v in voices if v.labels["language"] == "en"]

    assert {(v.labels["gender"], v.labels["age"]) for v in english} == {
        (gender, age) for gender in ("female", "male") for age in ("young", "middle_aged", "old")
    }
    assert len({v.voice_id for v in voices}) == len(voices)
    assert all(v.voice_id.startswith("offline-") and v.name for v in voices)


async def test_every_listed_voice_resolves_to_its_own_espeak_voice_and_language():
    for voice in await OfflineTextToSpeech().voices():
        espeak_voice, language = resolve_voice(voice.voice_id)
        assert language == voice.labels["language"]
        assert espeak_voice.gender == voice.labels["gender"]
        assert espeak_voice.age == voice.labels["age"]

    assert resolve_voice("offline-f1-fr") == (resolve_voice("offline-f1")[0], "fr")


def test_an_unknown_voice_id_always_maps_to_the_same_offline_voice():
    first = resolve_voice("21m00Tcm4TlvDq8ikWAM")

    assert first == resolve_voice("21m00Tcm4TlvDq8ikWAM")
    assert first[0] in VOICES
    assert resolve_voice(None)[0] in VOICES


# --- WAV to 16 kHz PCM -----------------------------------------------------------


def test_converter_resamples_22050_hz_wav_to_16_khz_keeping_pitch_and_length():
    wav = sine_wav(rate=22050, seconds=1.0, frequency=440)

    pcm = PcmConverter().feed(wav) + b""
    converter = PcmConverter()
    pieces = [converter.feed(wav[i : i + 777]) for i in range(0, len(wav), 777)]
    streamed = b"".join(pieces) + converter.finish()
    samples = samples_of(streamed)

    assert abs(len(samples) - 16000) <= 1
    assert abs(zero_crossings(samples) - 880) <= 4  # still a 440 Hz tone
    assert rms(samples) > 8000
    assert streamed.startswith(pcm)  # arbitrary split points give the same audio


def test_converter_keeps_the_first_channel_of_stereo_audio():
    converter = PcmConverter()
    samples = samples_of(
        converter.feed(sine_wav(rate=16000, seconds=0.5, frequency=200, channels=2)) + converter.finish()
    )

    assert len(samples) == 8000
    assert abs(zero_crossings(samples) - 200) <= 2


def test_converter_rejects_what_is_not_wav():
    with pytest.raises(ValueError, match="not a WAV"):
        PcmConverter().feed(b"this is plain text, not audio at all")


def test_converter_rejects_wav_that_is_not_16_bit_pcm():
    eight_bit = io.BytesIO()
    with wave.open(eight_bit, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(22050)
        out.writeframes(bytes(100))

    with pytest.raises(ValueError, match="unsupported WAV encoding"):
        PcmConverter().feed(eight_bit.getvalue())


# --- text-to-speech with espeak-ng -------------------------------------------------


@needs_espeak
async def test_it_speaks_16khz_s16le_pcm_in_100ms_chunks():
    chunks = await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f2", output_format="pcm_16000"))

    assert len(chunks) > 5
    assert all(len(chunk) == CHUNK_BYTES for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= CHUNK_BYTES
    assert len(chunks[-1]) % 2 == 0
    samples = samples_of(b"".join(chunks))
    assert rms(samples) > 500  # speech, not silence

    # Same length as espeak's own 22.05 kHz rendering, rescaled to 16 kHz.
    frames, rate = await asyncio.to_thread(espeak_reference, "offline-f2", SENTENCE)
    assert abs(len(samples) - frames * 16000 / rate) <= 2


@needs_espeak
async def test_voices_sound_different():
    female = b"".join(await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f1")))
    male = b"".join(await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-m3")))
    french = b"".join(await collect(OfflineTextToSpeech().stream("Bonjour, je suis toi.", voice_id="offline-m3-fr")))

    assert female != male
    assert rms(samples_of(french)) > 500


@needs_espeak
async def test_audio_streams_while_espeak_is_still_speaking_and_closing_early_kills_it(spawned):
    stream = OfflineTextToSpeech().stream(LONG_TEXT, voice_id="offline-m2")

    first = await anext(stream)
    (process,) = spawned
    assert len(first) == CHUNK_BYTES
    assert process.returncode is None  # the first chunk came long before espeak finished

    await stream.aclose()

    assert process.returncode == -signal.SIGKILL
    assert not await asyncio.to_thread(process_exists, process.pid)  # reaped: no zombie left


async def test_cancelling_a_consumer_waiting_for_audio_kills_espeak(spawned, settings, tmp_path):
    slow = tmp_path / "slow-espeak"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")  # starts, then never speaks
    slow.chmod(0o755)
    settings.OFFLINE_ESPEAK_BINARY = str(slow)
    stream = OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f3")

    task = asyncio.create_task(anext(stream))
    await asyncio.wait_for(spawned.started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert spawned[0].returncode == -signal.SIGKILL


@needs_espeak
async def test_a_consumer_that_drops_the_stream_without_closing_it_still_stops_espeak(spawned):
    async def speak_first_chunk_only():
        async for _chunk in OfflineTextToSpeech().stream(LONG_TEXT, voice_id="offline-m1"):
            break

    await speak_first_chunk_only()
    for _ in range(100):  # the loop closes abandoned generators a few iterations later
        if spawned[0].returncode is not None:
            break
        await asyncio.sleep(0.01)

    assert spawned[0].returncode == -signal.SIGKILL


async def test_blank_text_gives_no_audio_and_starts_nothing(spawned, settings):
    settings.OFFLINE_ESPEAK_BINARY = "sleep"  # any installed binary: it must not be started
    assert await collect(OfflineTextToSpeech().stream("   ", voice_id="offline-f1")) == []
    assert spawned == []


async def test_an_unsupported_format_is_refused():
    with pytest.raises(ProviderNotConfigured, match="pcm_16000") as caught:
        await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f1", output_format="mp3_44100_128"))

    assert caught.value.retryable is False


async def test_a_missing_espeak_binary_makes_speech_unavailable(settings):
    settings.OFFLINE_ESPEAK_BINARY = "/nonexistent/espeak-ng"
    tts = OfflineTextToSpeech()

    assert tts.available is False
    assert registry.tts_available() is False
    assert registry.text_to_speech().available is False
    with pytest.raises(ProviderNotConfigured, match="espeak-ng") as caught:
        await collect(tts.stream(SENTENCE, voice_id="offline-f1"))
    assert caught.value.retryable is False


async def test_espeak_failing_is_a_retryable_outage(settings):
    settings.OFFLINE_ESPEAK_BINARY = "false"  # found on PATH, exits 1 without output

    with pytest.raises(ProviderUnavailable, match="exit 1") as caught:
        await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f1"))

    assert caught.value.retryable is True


async def test_garbage_from_espeak_is_an_outage_and_the_process_is_stopped(settings, spawned, tmp_path):
    noisy = tmp_path / "noisy-espeak"
    noisy.write_text("#!/bin/sh\nexec yes garbage\n")  # endless text, not a WAV stream
    noisy.chmod(0o755)
    settings.OFFLINE_ESPEAK_BINARY = str(noisy)

    with pytest.raises(ProviderUnavailable, match="unusable audio"):
        await collect(OfflineTextToSpeech().stream(SENTENCE, voice_id="offline-f1"))

    assert spawned[0].returncode == -signal.SIGKILL


# --- registry ----------------------------------------------------------------------


@needs_espeak
def test_registry_reports_offline_speech_available_when_espeak_is_installed():
    assert registry.configured_name("tts") == "offline"
    assert registry.tts_available() is True
    assert registry.text_to_speech().supported_formats == ("pcm_16000",)


def test_the_recording_wrapper_exposes_what_the_inner_provider_supports(fake_tts):
    wrapped = registry.text_to_speech()

    assert registry.tts_available() is True  # a provider without `available` can always speak
    assert wrapped.available is True
    assert "mp3_44100_128" in wrapped.supported_formats
    assert RecordingTextToSpeech(OfflineTextToSpeech()).supported_formats == ("pcm_16000",)
