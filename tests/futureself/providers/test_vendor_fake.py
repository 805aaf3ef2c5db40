"""The vendor fake's defaults, which let the whole app run against it unscripted."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from mistralai.extra.utils.response_format import response_format_from_pydantic_model

from conversations.schemas import DebriefData
from futureself.providers.base import ChatMessage, ChatRequest
from futureself.providers.mistral import MistralChat
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
    args = parse_args(["--port", "9000", "--llm-first-token-ms", "350", "--tts-realtime", "--stt-final-ms", "300"])

    assert (args.port, args.llm_first_token_ms, args.tts_realtime, args.stt_final_ms) == (9000, 350, True, 300)


async def test_configured_latency_delays_the_first_token(vendor_fake):

    vendor_fake.latency = replace(vendor_fake.latency, llm_first_token_ms=200)
    chat = MistralChat(api_key="k", server_url=vendor_fake.base_url)
    started = time.perf_counter()

    async for delta in chat.stream(ChatRequest(task="conversation", messages=[ChatMessage("user", "hi")])):
        if delta.text:
            break

    assert time.perf_counter() - started >= 0.2
