"""The voice benchmark's simulated people: where a recording's speech ends, and what an open
microphone hears from a server that answers before the person has finished."""

import array
import asyncio
import json
import math

from bench._voice_common import FRAME_BYTES, OpenMicrophoneClient, recorded_pcm, voiced_seconds


def tone(seconds: float, amplitude: int = 8000) -> bytes:
    samples = array.array("h", (int(amplitude * math.sin(i / 5)) for i in range(int(seconds * 16000))))
    return samples.tobytes()


def test_speech_ends_at_the_last_word_not_at_the_room_noise_after_it():
    # The recording's last word ends at ~3.21 s; its room and reverberation go on to 3.48 s, then silence.
    recording = recorded_pcm()

    assert len(recording) / 32000 == 3.78
    assert 3.15 < voiced_seconds(recording) < 3.25


def test_speech_ends_where_a_clean_voice_stops():
    assert voiced_seconds(tone(1.0) + tone(0.5, amplitude=300) + bytes(16000)) == 1.0


async def serve_an_eager_turn_model(sent: list[str]):
    """A peer that answers at the first word (audio the person hears while still speaking), then
    properly once half a second of silence has followed the speech."""
    from websockets.asyncio.server import serve

    async def handler(ws):
        speaking, silent_frames = False, 0
        async for frame in ws:
            if any(frame):
                if not speaking:
                    speaking = True
                    await ws.send(b"\x01\x00" * 160)
                    await ws.send(b"\x01\x00" * 160)
                    sent.append("early")
                silent_frames = 0
            elif speaking:
                silent_frames += 1
                if silent_frames == 5:
                    speaking = False
                    await ws.send(b"\x02\x00" * 160)
                    await ws.send(
                        json.dumps({"type": "reply.end", "text": "Yes.", "timings": {}, "interrupted": False})
                    )
                    sent.append("answer")

    return await serve(handler, "127.0.0.1", 0)


def test_an_open_microphone_counts_reply_audio_heard_while_still_speaking():
    async def scenario():
        sent: list[str] = []
        server = await serve_an_eager_turn_model(sent)
        port = server.sockets[0].getsockname()[1]
        client = OpenMicrophoneClient(f"http://127.0.0.1:{port}", quiet_after_cut_in_s=0.3)
        client.url = f"ws://127.0.0.1:{port}/"
        try:
            await client.connect()
            result = await client.turn(tone(0.4) + bytes(FRAME_BYTES), timeout=5)
        finally:
            await client.close()
            server.close()
        return result, sent

    result, sent = asyncio.run(scenario())

    assert sent == ["early", "answer"]
    assert result.error is None
    assert result.timings["audio_while_speaking"] == 2
    assert result.reply_text == "Yes."
    # Timed from the end of speech to the answer after ~0.4 s more of silence (the recording's last 0.1 s
    # included), not to the early audio (which, left for the turn to read, would have given ~0 ms).
    assert result.first_audio_ms >= 250
