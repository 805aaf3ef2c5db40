"""Helpers for the voice tests: receive text and binary frames alike, with their arrival times."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from channels.testing import WebsocketCommunicator

from futureself.providers.base import Voice

HALF_SECOND_OF_PCM = bytes(16_000)  # 16 kHz, 16-bit mono
FRAME = 3_200  # 100 ms, as the browser sends it


@dataclass
class Frame:
    at: float
    kind: str  # "event" or "audio"
    value: Any

    @property
    def type(self) -> str:
        return self.value["type"] if self.kind == "event" else "audio"


async def next_frame(communicator: WebsocketCommunicator, timeout: float = 3) -> Frame:
    output = await communicator.receive_output(timeout)
    assert output["type"] == "websocket.send", output
    if output.get("bytes") is not None:
        return Frame(time.perf_counter(), "audio", output["bytes"])
    return Frame(time.perf_counter(), "event", json.loads(output["text"]))


async def collect(
    communicator: WebsocketCommunicator, *, until: tuple[str, ...] = ("reply.end",), timeout: float = 3
) -> list[Frame]:
    """Every frame up to and including the first event whose type is in ``until``."""
    frames: list[Frame] = []
    while True:
        frame = await next_frame(communicator, timeout)
        frames.append(frame)
        if frame.kind == "event" and frame.type in until:
            return frames


async def start_voice(communicator, conversation, **extra) -> dict:
    payload = {"type": "start", "conversation_id": str(conversation.pk), "output_audio": "pcm_16000", **extra}
    await communicator.send_json_to(payload)
    return await communicator.receive_json_from(3)


async def speak(communicator, audio: bytes = HALF_SECOND_OF_PCM, *, frame: int = FRAME) -> None:
    """Send one utterance as the browser does: ~100 ms binary frames, then ``audio.end``."""
    for offset in range(0, len(audio), frame):
        await communicator.send_to(bytes_data=audio[offset : offset + frame])
    await communicator.send_json_to({"type": "audio.end"})


def events(frames: list[Frame]) -> list[dict]:
    return [f.value for f in frames if f.kind == "event"]


def audio(frames: list[Frame]) -> list[bytes]:
    return [f.value for f in frames if f.kind == "audio"]


@dataclass
class PacedTTS:
    """A TTS fake whose audio for each sentence comes in ``chunks`` pieces, ``delay`` apart
    (``delays`` per sentence text override it); it records when each stream starts and ends."""

    chunks: int = 3
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    supported_formats: tuple[str, ...] = ("mp3_44100_128", "pcm_16000")
    name: str = "paced"
    calls: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def stream(
        self,
        text: str,
        *,
        voice_id: str,
        output_format: str = "mp3_44100_128",
        previous_text: str | None = None,
        next_text: str | None = None,
    ) -> AsyncIterator[bytes]:
        call = {"text": text, "format": output_format, "previous_text": previous_text, "next_text": next_text}
        call["started"] = time.perf_counter()
        self.calls.append(call)
        try:
            for index in range(self.chunks):
                await asyncio.sleep(self.delays.get(text, self.delay))
                yield f"{text}|{index}".encode()
        except asyncio.CancelledError:
            self.cancelled.append(text)
            raise
        call["ended"] = time.perf_counter()

    async def voices(self) -> list[Voice]:
        return [Voice("voice-middle-neutral", "Alex")]
