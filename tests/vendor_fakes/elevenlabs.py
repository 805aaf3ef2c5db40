"""ElevenLabs' wire format: Scribe batch and realtime STT, streamed TTS, voices."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.vendor_fakes import samples
from tests.vendor_fakes.server import Fault, Malformed, Stall, VendorFake, bound, clock

VOICES = (
    {"voice_id": "JBFqnCBsd6RMkjVDRZzb", "name": "George", "labels": {"accent": "british", "age": "middle aged"}},
    {"voice_id": "EXAVITQu4vr4xnSDxMaL", "name": "Sarah", "labels": {"accent": "american", "age": "young"}},
    {"voice_id": "pqHfZKP75CvOlQylNhV4", "name": "Bill", "labels": {"accent": "american", "age": "old"}},
)
MIN_COMMIT_SECONDS = 0.3


def add_routes(app: web.Application, fake: VendorFake) -> None:
    app.router.add_post("/v1/speech-to-text", bound(batch_stt, fake))
    app.router.add_get("/v1/speech-to-text/realtime", bound(realtime_stt, fake))
    app.router.add_post("/v1/text-to-speech/{voice_id}/stream", bound(tts_stream, fake))
    app.router.add_post("/v1/text-to-speech/{voice_id}/stream/with-timestamps", bound(tts_stream_with_timestamps, fake))
    app.router.add_get("/v2/voices", bound(voices, fake))


def _words(text: str) -> list[dict[str, Any]]:
    words, at = [], 0.0
    for word in text.split():
        words.append({"text": word, "start": round(at, 2), "end": round(at + 0.3, 2), "type": "word", "logprob": 0.0})
        at += 0.35
    return words


async def batch_stt(request: web.Request, fake: VendorFake) -> web.Response:
    arrived = clock()
    form, files = {}, {}
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            files[name] = (value.filename, value.content_type, value.file.read())
        else:
            form[name] = value
    fake.record(request, "elevenlabs.stt", form=form, files=files)
    reply = fake.next_reply("elevenlabs.stt")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="elevenlabs")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=b'{"text": 42}', content_type="application/json")
    await fake.sleep_from(arrived, fake.latency.stt_final_ms)
    text = reply if isinstance(reply, str) else samples.DEFAULT_TRANSCRIPT
    language = form.get("language_code") if form.get("language_code") not in (None, "", "null") else "en"
    return web.json_response(
        {
            "language_code": language,
            "language_probability": 0.98,
            "text": text,
            "words": _words(text),
            "transcription_id": uuid.uuid4().hex,
        }
    )


async def realtime_stt(request: web.Request, fake: VendorFake) -> web.StreamResponse:
    entry = fake.record(request, "elevenlabs.realtime")
    if fake.pending("elevenlabs.realtime") and isinstance(fake._scripts["elevenlabs.realtime"][0], Fault):
        return fake.fault_response(fake.next_reply("elevenlabs.realtime"), vendor="elevenlabs")
    if not request.headers.get("xi-api-key") and "token" not in request.query:
        return web.json_response({"detail": {"status": "invalid_api_key"}}, status=401)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    rate = int(request.query.get("audio_format", "pcm_16000").split("_")[-1])
    session_id = uuid.uuid4().hex
    await ws.send_json(
        {
            "message_type": "session_started",
            "session_id": session_id,
            "config": {k: v for k, v in request.query.items() if k != "token"},
        }
    )
    pending_bytes = voiced_bytes = 0
    tasks: set[asyncio.Task] = set()

    async def commit(arrived: float) -> None:
        reply = fake.next_reply("elevenlabs.realtime")
        if isinstance(reply, Stall):
            await fake.stall()
            return
        if isinstance(reply, dict):
            await ws.send_json(reply)
            return
        if isinstance(reply, Malformed):  # a text frame that is not JSON
            await ws.send_str(reply.body.decode(errors="replace"))
            return
        await fake.sleep_from(arrived, fake.latency.stt_final_ms)
        text = reply if isinstance(reply, str) else samples.DEFAULT_TRANSCRIPT
        if not ws.closed:
            await ws.send_json({"message_type": "committed_transcript", "text": text})

    async for message in ws:
        received_at = clock()
        if message.type != WSMsgType.TEXT:
            continue
        try:
            data = json.loads(message.data)
        except json.JSONDecodeError:
            await ws.send_json({"message_type": "input_error", "error": "Messages must be JSON."})
            continue
        entry.ws_messages.append(data)
        if data.get("message_type") != "input_audio_chunk":
            continue
        chunk = base64.b64decode(data.get("audio_base_64") or "")
        pending_bytes += len(chunk)
        if chunk.strip(b"\0"):  # digital silence (an open microphone between utterances) has no words
            voiced_bytes += len(chunk)
            heard = samples.DEFAULT_TRANSCRIPT.split()[: max(1, voiced_bytes // (rate // 2))]
            await ws.send_json({"message_type": "partial_transcript", "text": " ".join(heard)})
        if data.get("commit"):
            if pending_bytes < MIN_COMMIT_SECONDS * rate * 2:
                await ws.send_json(
                    {"message_type": "commit_throttled", "error": "Commit needs at least 0.3 s of new audio."}
                )
                continue
            pending_bytes = voiced_bytes = 0
            task = asyncio.create_task(commit(received_at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    return ws


async def tts_stream(request: web.Request, fake: VendorFake) -> web.StreamResponse:
    arrived = clock()
    body = await request.json()
    fake.record(request, "elevenlabs.tts", json=body)
    reply = fake.next_reply("elevenlabs.tts")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="elevenlabs")
    if isinstance(reply, Stall) and reply.after == 0:
        await fake.stall()
        return web.Response(status=504)
    output_format = request.query.get("output_format", "mp3_44100_128")
    if isinstance(reply, bytes):
        audio = reply
    else:
        audio, _ = samples.audio(body.get("text", ""), output_format)
    content_type = "audio/mpeg" if output_format.startswith("mp3") else "application/octet-stream"
    response = web.StreamResponse(headers={"Content-Type": content_type, "request-id": uuid.uuid4().hex})
    await response.prepare(request)
    await fake.sleep_from(arrived, fake.latency.tts_first_audio_ms)
    per_second = samples.bytes_per_second(output_format)
    chunk_size = max(1024, int(per_second / 10))  # about 100 ms of audio per chunk
    # Real time by the clock from the first chunk: the fake's scheduling delays do not add up.
    first_chunk_at = clock()
    for index, start in enumerate(range(0, len(audio), chunk_size)):
        if isinstance(reply, Stall) and index >= reply.after:
            await fake.stall()
            return response
        if fake.latency.tts_realtime and index:
            await fake.pace_until(first_chunk_at + start / per_second)
        await response.write(audio[start : start + chunk_size])
    await response.write_eof()
    return response


async def tts_stream_with_timestamps(request: web.Request, fake: VendorFake) -> web.StreamResponse:
    """The same speech as ``tts_stream``, as newline-delimited JSON chunks ``{"audio_base64", "alignment"}``
    (what Pipecat's ElevenLabs HTTP service reads), paced the same way."""
    arrived = clock()
    body = await request.json()
    fake.record(request, "elevenlabs.tts", json=body)
    reply = fake.next_reply("elevenlabs.tts")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="elevenlabs")
    output_format = request.query.get("output_format", "mp3_44100_128")
    text = body.get("text", "")
    audio = reply if isinstance(reply, bytes) else samples.audio(text, output_format)[0]
    response = web.StreamResponse(headers={"Content-Type": "application/json", "request-id": uuid.uuid4().hex})
    await response.prepare(request)
    await fake.sleep_from(arrived, fake.latency.tts_first_audio_ms)
    per_second = samples.bytes_per_second(output_format)
    chunk_size = max(1024, int(per_second / 10))
    first_chunk_at = clock()
    for index, start in enumerate(range(0, len(audio), chunk_size)):
        if fake.latency.tts_realtime and index:
            await fake.pace_until(first_chunk_at + start / per_second)
        chunk = audio[start : start + chunk_size]
        alignment = None
        if index == 0 and text:
            seconds = len(audio) / per_second
            step = seconds / len(text)
            alignment = {
                "characters": list(text),
                "character_start_times_seconds": [round(i * step, 3) for i in range(len(text))],
                "character_end_times_seconds": [round((i + 1) * step, 3) for i in range(len(text))],
            }
        line = {"audio_base64": base64.b64encode(chunk).decode(), "alignment": alignment, "normalized_alignment": None}
        await response.write(json.dumps(line).encode() + b"\n")
    await response.write_eof()
    return response


async def voices(request: web.Request, fake: VendorFake) -> web.Response:
    fake.record(request, "elevenlabs.voices")
    reply = fake.next_reply("elevenlabs.voices")
    if isinstance(reply, Fault):
        return fake.fault_response(reply, vendor="elevenlabs")
    if isinstance(reply, Stall):
        await fake.stall()
    if isinstance(reply, Malformed):
        return web.Response(body=reply.body, content_type="application/json")
    listed = reply or VOICES
    return web.json_response(
        {
            "voices": [
                {
                    "voice_id": v["voice_id"],
                    "name": v["name"],
                    "category": "premade",
                    "labels": v.get("labels", {}),
                    "preview_url": f"https://example.invalid/previews/{v['voice_id']}.mp3",
                }
                for v in listed
            ],
            "has_more": False,
            "total_count": len(listed),
            "next_page_token": None,
        }
    )
