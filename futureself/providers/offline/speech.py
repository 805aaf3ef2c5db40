"""Offline speech: no speech-to-text, and text-to-speech through espeak-ng.

Speech recognition needs a vendor, so ``OfflineSpeechToText`` says so clearly
(typing still works). ``OfflineTextToSpeech`` runs the local ``espeak-ng``
binary and turns its 22.05 kHz WAV into the 16 kHz mono s16le PCM the browser
plays, streamed in ~100 ms chunks while espeak is still speaking.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import struct
import sys
from array import array
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from math import gcd

from django.conf import settings

from futureself.providers.base import (
    ProviderNotConfigured,
    ProviderUnavailable,
    SpeechStream,
    Transcript,
    Voice,
)

PROVIDER = "offline"
OUTPUT_RATE = 16000
CHUNK_BYTES = OUTPUT_RATE * 2 // 10  # 100 ms of 16-bit mono
READ_BYTES = 4096
MAX_HEADER_BYTES = 4096


class OfflineSpeechToText:
    name = PROVIDER

    def _not_configured(self) -> ProviderNotConfigured:
        return ProviderNotConfigured(
            "Speech-to-text is not available offline: set ELEVENLABS_API_KEY to talk by voice. "
            "Typing your messages still works.",
            provider=PROVIDER,
        )

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None = None) -> Transcript:
        raise self._not_configured()

    async def open_stream(self, *, sample_rate: int = 16000, language: str | None = None) -> SpeechStream:
        raise self._not_configured()


# --- voices ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EspeakVoice:
    voice_id: str
    name: str
    variant: str  # espeak voice variant, appended to the language: "en+f3"
    gender: str
    age: str
    pitch: int  # espeak -p, 0..99
    speed: int  # espeak -s, words per minute
    description: str


# Older voices are lower and slower; the variants were picked by ear.
VOICES: tuple[EspeakVoice, ...] = (
    EspeakVoice("offline-f1", "Clara", "f3", "female", "young", 58, 168, "bright and quick"),
    EspeakVoice("offline-f2", "Helen", "f5", "female", "middle_aged", 48, 158, "warm and steady"),
    EspeakVoice("offline-f3", "Margaret", "f2", "female", "old", 38, 142, "soft and unhurried"),
    EspeakVoice("offline-m1", "Leo", "m3", "male", "young", 55, 168, "light and lively"),
    EspeakVoice("offline-m2", "Daniel", "m1", "male", "middle_aged", 42, 156, "calm and grounded"),
    EspeakVoice("offline-m3", "Arthur", "m7", "male", "old", 30, 140, "deep and deliberate"),
)
LANGUAGES: dict[str, str] = {"en": "English", "fr": "French"}
DEFAULT_LANGUAGE = "en"
_BY_ID = {voice.voice_id: voice for voice in VOICES}


def resolve_voice(voice_id: str | None) -> tuple[EspeakVoice, str]:
    """The espeak voice and language for ``voice_id``.

    ``offline-f2`` speaks English, ``offline-f2-fr`` French. Any other id (a
    vendor voice kept on a card after switching to offline, or none) maps to a
    fixed voice by hash, so the same self always sounds the same.
    """
    voice_id = voice_id or ""
    base, _, suffix = voice_id.rpartition("-")
    if suffix in LANGUAGES and base in _BY_ID:
        return _BY_ID[base], suffix
    if voice_id in _BY_ID:
        return _BY_ID[voice_id], DEFAULT_LANGUAGE
    digest = hashlib.sha256(voice_id.encode()).digest()
    return VOICES[digest[0] % len(VOICES)], DEFAULT_LANGUAGE


def offline_voices() -> list[Voice]:
    voices = []
    for language, language_name in LANGUAGES.items():
        for voice in VOICES:
            suffix = "" if language == DEFAULT_LANGUAGE else f"-{language}"
            voices.append(
                Voice(
                    voice_id=voice.voice_id + suffix,
                    name=voice.name if not suffix else f"{voice.name} ({language_name})",
                    labels={
                        "gender": voice.gender,
                        "age": voice.age,
                        "language": language,
                        "description": voice.description,
                    },
                )
            )
    return voices


# --- audio -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WavFormat:
    channels: int
    sample_rate: int
    bits: int


def parse_wav_header(data: bytes) -> tuple[WavFormat, int] | None:
    """The format and the offset of the samples, or None if more bytes are needed.

    espeak writes to a pipe, so the sizes in the header are placeholders: only
    the ``fmt `` chunk and the start of ``data`` are used. Raises ValueError on
    anything that is not 16-bit PCM WAV.
    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    offset, fmt = 12, None
    while True:
        if len(data) < offset + 8:
            return None
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"data":
            if fmt is None:
                raise ValueError("WAV data before its format")
            return fmt, body
        if len(data) < body + size:
            return None
        if chunk_id == b"fmt ":
            if size < 16:
                raise ValueError("WAV format chunk too short")
            tag, channels, rate = struct.unpack_from("<HHI", data, body)
            bits = struct.unpack_from("<H", data, body + 14)[0]
            if tag != 1 or bits != 16 or channels < 1 or rate < 1:
                raise ValueError(f"unsupported WAV encoding (tag {tag}, {bits} bits)")
            fmt = WavFormat(channels=channels, sample_rate=rate, bits=bits)
        offset = body + size + (size & 1)


class LinearResampler:
    """Streaming linear-interpolation resampler for mono 16-bit samples.

    Output sample ``n`` sits at input position ``n * src / dst``; exact integer
    arithmetic keeps chunk boundaries seamless.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        divisor = gcd(src_rate, dst_rate)
        self.up = dst_rate // divisor
        self.down = src_rate // divisor
        self._pending: list[int] = []
        self._base = 0  # input index of _pending[0]
        self._produced = 0

    def feed(self, samples: Iterable[int]) -> list[int]:
        self._pending.extend(samples)
        return self._drain(final=False)

    def flush(self) -> list[int]:
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> list[int]:
        pending, base, up, down = self._pending, self._base, self.up, self.down
        end = base + len(pending)
        out: list[int] = []
        n = self._produced
        while True:
            position = n * down
            index = position // up
            if index + 1 >= end:
                if final and index < end:
                    out.append(pending[index - base])
                    n += 1
                    continue
                break
            frac = position - index * up
            first = pending[index - base]
            out.append(first + (pending[index + 1 - base] - first) * frac // up)
            n += 1
        self._produced = n
        keep_from = min((n * down) // up, end) - base
        if keep_from > 0:
            del pending[:keep_from]
            self._base = base + keep_from
        return out


class PcmConverter:
    """Turns a WAV byte stream into 16 kHz mono s16le PCM bytes, incrementally."""

    def __init__(self, output_rate: int = OUTPUT_RATE) -> None:
        self.output_rate = output_rate
        self._header = bytearray()
        self._format: WavFormat | None = None
        self._resampler: LinearResampler | None = None
        self._leftover = b""

    def feed(self, data: bytes) -> bytes:
        if self._format is None:
            self._header += data
            parsed = parse_wav_header(bytes(self._header))
            if parsed is None:
                if len(self._header) > MAX_HEADER_BYTES:
                    raise ValueError("WAV header too long")
                return b""
            self._format, start = parsed
            self._resampler = LinearResampler(self._format.sample_rate, self.output_rate)
            data = bytes(self._header[start:])
            self._header.clear()
        frame = 2 * self._format.channels
        data = self._leftover + data
        usable = len(data) - len(data) % frame
        self._leftover = data[usable:]
        samples = array("h", data[:usable])
        if sys.byteorder == "big":
            samples.byteswap()
        if self._format.channels > 1:
            samples = samples[:: self._format.channels]  # the first channel is enough for a voice
        return self._pack(self._resampler.feed(samples))

    def finish(self) -> bytes:
        if self._format is None:
            if self._header:
                raise ValueError("incomplete WAV header")
            return b""
        return self._pack(self._resampler.flush())

    @staticmethod
    def _pack(samples: list[int]) -> bytes:
        return struct.pack(f"<{len(samples)}h", *samples)


# --- text-to-speech ----------------------------------------------------------


class OfflineTextToSpeech:
    name = PROVIDER
    supported_formats: tuple[str, ...] = ("pcm_16000",)

    @property
    def binary(self) -> str | None:
        """Full path of the espeak-ng binary, or None when it is not installed."""
        return shutil.which(settings.OFFLINE_ESPEAK_BINARY)

    @property
    def available(self) -> bool:
        return self.binary is not None

    async def voices(self) -> list[Voice]:
        return offline_voices()

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "pcm_16000",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        """16 kHz s16le PCM in ~100 ms chunks as espeak-ng produces it.

        Raises ProviderNotConfigured (no espeak-ng, unsupported format) or
        ProviderUnavailable (espeak failed). Closing the generator early kills
        espeak.
        """
        if output_format not in self.supported_formats:
            raise ProviderNotConfigured(
                f"Offline speech can only produce {', '.join(self.supported_formats)}, not {output_format!r}.",
                provider=PROVIDER,
            )
        binary = self.binary
        if binary is None:
            raise ProviderNotConfigured(
                f"Offline speech needs espeak-ng ({settings.OFFLINE_ESPEAK_BINARY!r} is not installed); "
                "install it or set ELEVENLABS_API_KEY.",
                provider=PROVIDER,
            )
        if not text.strip():
            return
        voice, language = resolve_voice(voice_id)
        command = [
            binary,
            "--stdout",
            "--stdin",
            "-v",
            f"{language}+{voice.variant}",
            "-p",
            str(voice.pitch),
            "-s",
            str(voice.speed),
        ]
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ProviderUnavailable(f"Could not start espeak-ng: {exc}", provider=PROVIDER) from exc
        try:
            async with contextlib.aclosing(self._pcm_chunks(process, text)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await _stop(process)

    async def _pcm_chunks(self, process: asyncio.subprocess.Process, text: str) -> AsyncIterator[bytes]:
        # espeak-ng reads all of stdin before it speaks (checked with 128 kB),
        # so writing first cannot deadlock against a full stdout.
        # A process that failed at once may be gone before the write: its pipe is then closed (and
        # writing to it an error of its own under uvloop); the exit code below says what happened.
        if not process.stdin.is_closing():
            process.stdin.write(text.encode())
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await process.stdin.drain()
        process.stdin.close()

        converter = PcmConverter()
        buffered = bytearray()
        try:
            while data := await process.stdout.read(READ_BYTES):
                buffered += converter.feed(data)
                while len(buffered) >= CHUNK_BYTES:
                    yield bytes(buffered[:CHUNK_BYTES])
                    del buffered[:CHUNK_BYTES]
            buffered += converter.finish()
        except ValueError as exc:
            raise ProviderUnavailable(f"espeak-ng produced unusable audio: {exc}", provider=PROVIDER) from exc

        returncode = await process.wait()
        if returncode != 0:
            detail = (await process.stderr.read()).decode(errors="replace").strip()
            raise ProviderUnavailable(
                f"espeak-ng failed (exit {returncode}){': ' + detail if detail else ''}", provider=PROVIDER
            )
        if buffered:
            yield bytes(buffered)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    # Reap it even if we are being cancelled, so no zombie is left behind.
    # communicate() drains and closes the pipes: wait() alone never returns
    # while a stdout we stopped reading is paused with data still in it.
    await asyncio.shield(process.communicate())
