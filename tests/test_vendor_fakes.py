"""The vendor fakes' own behaviour where a benchmark or a test relies on it beyond the wire format."""

from __future__ import annotations

import base64
import json

import aiohttp

TENTH_OF_A_SECOND = 3200  # bytes of 16 kHz 16-bit mono PCM


async def realtime_messages(base_url: str, chunks: list[bytes]) -> list[dict]:
    """Send ``chunks`` to the realtime STT socket, then return what came back."""
    url = base_url.replace("http://", "ws://") + "/v1/speech-to-text/realtime?audio_format=pcm_16000"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers={"xi-api-key": "xi-test"}) as ws:
        assert json.loads((await ws.receive()).data)["message_type"] == "session_started"
        for chunk in chunks:
            payload = {"message_type": "input_audio_chunk", "audio_base_64": base64.b64encode(chunk).decode()}
            await ws.send_json(payload)
        await ws.send_json({"message_type": "input_audio_chunk", "audio_base_64": "", "commit": True})
        messages = []
        while not messages or messages[-1]["message_type"] != "committed_transcript":
            messages.append(json.loads((await ws.receive(timeout=5)).data))
        return messages


async def test_realtime_stt_hears_no_words_in_digital_silence(vendor_fake):
    """An open microphone streams silence between utterances: a real recogniser hears nothing there,
    and a partial transcript would tell a VAD-driven client that someone started talking."""
    speech = (b"\x10\x20" * (TENTH_OF_A_SECOND // 2)) * 3
    silence = bytes(TENTH_OF_A_SECOND) * 5

    messages = await realtime_messages(vendor_fake.base_url, [silence, speech, silence])

    partials = [m["text"] for m in messages if m["message_type"] == "partial_transcript"]
    assert len(partials) == 1  # for the speech chunk only
    assert partials[0]
    assert messages[-1]["message_type"] == "committed_transcript"
