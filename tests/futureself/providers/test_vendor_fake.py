"""The vendor fake's defaults, which let the whole app run against it unscripted."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from mistralai.extra.utils.response_format import response_format_from_pydantic_model

from conversations.schemas import DebriefData
from futureself.providers.base import ChatMessage, ChatRequest, ProviderUnavailable
from futureself.providers.elevenlabs import ElevenLabsSpeechToText, ElevenLabsTextToSpeech
from futureself.providers.mistral import MistralChat
from futureself.providers.resilience import RetryPolicy
from interviews.schemas import ProfileData
from personas.schemas import GeneratedSelves
from tests.vendor_fakes.__main__ import parse_args
from tests.vendor_fakes.samples import audio, sample_for_schema


@pytest.mark.parametrize("schema", [ProfileData, GeneratedSelves, DebriefData], ids=lambda s: s.__name__)
def test_the_default_structured_reply_is_valid_for_each_app_schema(schema):
    sent = response_format_from_pydantic_model(schema)["json_schema"]["schema"]

    schema.model_validate(sample_for_schema(sent))


async def test_an_unscripted_structured_call_through_the_adapter_validates(vendor_fake):
    chat = MistralChat(api_key="k", server_url=vendor_fake.base_url, models={"profile": "mistral-medium-latest"})
    request = ChatRequest(task="profile", messages=[ChatMessage("user", "Here is my interview.")])

    result = await chat.parse(request, ProfileData)

    assert isinstance(result.value, ProfileData)


def test_default_audio_lasts_about_as_long_as_the_text_takes_to_say():
    pcm, seconds = audio("A sentence of about forty-five characters long.", "pcm_16000")

    assert len(pcm) == int(seconds * 16000) * 2
    assert 2.5 < seconds < 4


def test_the_standalone_server_takes_latency_options():
    args = parse_args(["--port", "9000", "--llm-first-token-ms", "350", "--stt-final-ms", "300"])

    assert (args.port, args.llm_first_token_ms, args.tts_realtime, args.stt_final_ms) == (9000, 350, True, 300)
    assert parse_args(["--no-tts-realtime"]).tts_realtime is False


async def test_configured_latency_delays_the_first_token(vendor_fake):

    vendor_fake.latency = replace(vendor_fake.latency, llm_first_token_ms=200)
    chat = MistralChat(api_key="k", server_url=vendor_fake.base_url)
    started = time.perf_counter()

    async for delta in chat.stream(ChatRequest(task="conversation", messages=[ChatMessage("user", "hi")])):
        if delta.text:
            break

    assert time.perf_counter() - started >= 0.2


async def test_another_process_can_script_and_inspect_the_fake_over_http(vendor_fake):
    async with httpx.AsyncClient(base_url=vendor_fake.base_url) as client:
        scripted = await client.post(
            "/_fake/script",
            json={"route": "mistral.chat", "replies": ["Scripted.", {"fault": 503, "retry_after": 0}]},
        )
        await client.post("/_fake/latency", json={"stt_final_ms": 5})
        chat = MistralChat(api_key="k", server_url=vendor_fake.base_url, retry=RetryPolicy(attempts=1))
        first = await chat.complete(ChatRequest(task="conversation", messages=[ChatMessage("user", "hi")]))
        with pytest.raises(ProviderUnavailable):
            await chat.complete(ChatRequest(task="conversation", messages=[ChatMessage("user", "again")]))
        received = (await client.get("/_fake/requests", params={"route": "mistral.chat"})).json()

    assert scripted.json() == {"pending": 2}
    assert vendor_fake.latency.stt_final_ms == 5
    assert first.text == "Scripted."
    assert [r["json"]["messages"][0]["content"] for r in received] == ["hi", "again"]


def test_env_points_every_vendor_setting_at_the_fake(vendor_fake):
    env = vendor_fake.env()

    assert env["MISTRAL_SERVER_URL"] == env["ELEVENLABS_BASE_URL"] == env["GEMINI_BASE_URL"] == vendor_fake.base_url
    assert env["FUTURESELF_CHAT_PROVIDER"] == "mistral"


async def test_tts_latency_delays_the_first_audio_then_paces_at_playback_speed(vendor_fake):
    vendor_fake.latency = replace(vendor_fake.latency, tts_first_audio_ms=150, tts_realtime=True)
    speech = ElevenLabsTextToSpeech(api_key="k", base_url=vendor_fake.base_url)
    started = time.perf_counter()
    arrivals = []

    async for _ in speech.stream("Twenty characters!!", voice_id="v", output_format="pcm_16000"):
        arrivals.append(time.perf_counter() - started)

    _, seconds = audio("Twenty characters!!", "pcm_16000")
    assert arrivals[0] >= 0.15
    assert arrivals[-1] >= 0.15 + seconds * 0.8


async def test_stt_latency_delays_the_final_transcript_after_commit(vendor_fake):
    vendor_fake.latency = replace(vendor_fake.latency, stt_final_ms=200)
    stream = await ElevenLabsSpeechToText(api_key="k", base_url=vendor_fake.base_url).open_stream()
    await stream.send(bytes(16000))

    started = time.perf_counter()
    await stream.finish()

    assert time.perf_counter() - started >= 0.2


async def test_tts_with_timestamps_sends_the_same_audio_as_json_lines(vendor_fake):
    import base64
    import json

    vendor_fake.latency = replace(vendor_fake.latency, tts_first_audio_ms=100)
    async with httpx.AsyncClient(base_url=vendor_fake.base_url) as client:
        started = time.perf_counter()
        response = await client.post(
            "/v1/text-to-speech/v/stream/with-timestamps",
            params={"output_format": "pcm_16000"},
            json={"text": "Hello there.", "model_id": "eleven_flash_v2_5"},
        )
        elapsed = time.perf_counter() - started

    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert b"".join(base64.b64decode(line["audio_base64"]) for line in lines) == audio("Hello there.", "pcm_16000")[0]
    assert lines[0]["alignment"]["characters"] == list("Hello there.")
    assert elapsed >= 0.1
    assert vendor_fake.last("elevenlabs.tts").json["text"] == "Hello there."


async def test_a_latency_wait_never_ends_early_and_keeps_serving_others_while_it_waits():
    """The bench counts every millisecond past the fake's latency as the app's: the wait's last
    stretch yields to the loop until the deadline instead of sleeping past it."""
    import asyncio

    from tests.vendor_fakes.server import PRECISE_MARGIN_MS, VendorFake, clock

    ticks = 0

    async def other_requests():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_requests())
    try:
        for ms in (0.5, PRECISE_MARGIN_MS + 3, 40):
            started, before = clock(), ticks
            await VendorFake().sleep_ms(ms)
            assert clock() - started >= ms / 1000
            assert ticks > before  # the loop ran other tasks during the wait, even in its spin
    finally:
        other.cancel()
