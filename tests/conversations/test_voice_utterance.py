"""How an utterance's audio reaches the realtime transcriber."""

from __future__ import annotations

import asyncio

from conversations.voice import Utterance
from tests.fakes.providers import FakeSpeechToText


async def test_frames_that_queue_up_go_to_the_transcriber_in_one_message_in_order():
    stt = FakeSpeechToText().enqueue("hello there")
    utterance = Utterance(stt=stt, input_format="pcm_s16le_16000")
    frames = [bytes([i]) * 3200 for i in range(5)]
    for frame in frames:  # all queued before the feeder gets to run
        utterance.push(frame)

    transcript = await utterance.transcribe()
    await utterance.aclose()

    assert transcript.text == "hello there"
    assert stt.streams[0].chunks == [b"".join(frames)]


async def test_frames_arriving_one_by_one_are_sent_as_they_come():
    stt = FakeSpeechToText()
    utterance = Utterance(stt=stt, input_format="pcm_s16le_16000")
    for i in range(3):
        utterance.push(bytes([i]) * 3200)
        await asyncio.sleep(0.01)

    await utterance.transcribe()
    await utterance.aclose()

    assert stt.streams[0].chunks == [bytes([i]) * 3200 for i in range(3)]
