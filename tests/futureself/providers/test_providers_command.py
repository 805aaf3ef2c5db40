"""``manage.py providers``, and the settings-driven factories it builds from."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command

from futureself.models import ProviderCall
from futureself.providers import registry
from futureself.providers.base import ChatMessage, ChatRequest, ProviderNotConfigured
from futureself.providers.elevenlabs import ElevenLabsSpeechToText, ElevenLabsTextToSpeech
from futureself.providers.gemini import GeminiImage
from futureself.providers.mistral import MistralChat, MistralImage
from tests.vendor_fakes import Fault


@pytest.fixture
def vendors(settings, vendor_fake):
    """Every interface served by a vendor, all pointed at the fake."""
    settings.MISTRAL_API_KEY = "mistral-key"
    settings.MISTRAL_SERVER_URL = vendor_fake.base_url
    settings.ELEVENLABS_API_KEY = "xi-key"
    settings.ELEVENLABS_BASE_URL = vendor_fake.base_url
    settings.GEMINI_API_KEY = "gemini-key"
    settings.GEMINI_BASE_URL = vendor_fake.base_url
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.FUTURESELF_STT_PROVIDER = "elevenlabs"
    settings.FUTURESELF_TTS_PROVIDER = "elevenlabs"
    settings.FUTURESELF_IMAGE_PROVIDER = "gemini"
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    return vendor_fake


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("providers", *args, stdout=out)
    return out.getvalue()


def test_it_says_every_interface_is_offline_under_test_settings():
    output = run()

    assert "chat            offline" in output
    assert "set ELEVENLABS_API_KEY to enable speech-to-text" in output
    assert "offline mode: on for chat, speech-to-text, text-to-speech, image" in output


def test_it_says_what_screens_messages_besides_the_phrase_check(vendors, settings):
    settings.SAFETY_MODERATION_ENABLED = True
    assert (
        f"moderation      mistral     mistral-moderation-latest after the phrase check, at {vendors.base_url}" in run()
    )

    settings.SAFETY_MODERATION_ENABLED = False
    assert "moderation      offline     off (SAFETY_MODERATION_ENABLED=0)" in run()

    settings.SAFETY_MODERATION_ENABLED = True
    settings.FUTURESELF_CHAT_PROVIDER = "offline"
    assert "moderation      offline     the phrase check alone screens messages (moderation follows chat" in run()


def test_it_lists_the_vendor_and_the_model_per_chat_task(vendors, settings):
    settings.MISTRAL_MODELS = {**settings.MISTRAL_MODELS, "profile": "mistral-large-latest"}

    output = run()

    assert "chat            mistral" in output
    assert "  profile       mistral-large-latest" in output
    assert "  interview     mistral-small-latest" in output
    assert "eleven_flash_v2_5, mp3_44100_128" in output
    assert "gemini-3.1-flash-image" in output
    assert "offline mode: off" in output


def test_ping_makes_one_call_per_configured_vendor(vendors):
    output = run("--ping")

    assert "ping mistral     ok" in output
    assert "every configured model is listed" in output
    assert "ping elevenlabs  ok" in output
    assert "ping gemini      ok" in output
    assert len(vendors.received("mistral.models")) == 1
    assert vendors.last("mistral.models").headers["Authorization"] == "Bearer mistral-key"
    assert len(vendors.received("elevenlabs.voices")) == 1
    assert vendors.last("gemini.models").path.endswith("/models/gemini-3.1-flash-image")
    assert not vendors.received("mistral.chat")


def test_ping_names_models_the_vendor_does_not_list(vendors, settings):
    settings.MISTRAL_MODELS = {**settings.MISTRAL_MODELS, "debrief": "mistral-imaginary-latest"}

    assert "not listed: mistral-imaginary-latest" in run("--ping")


def test_ping_fails_loudly_and_names_the_key_when_a_vendor_rejects_it(vendors):
    vendors.script("mistral.models", Fault(401))
    out = io.StringIO()

    with pytest.raises(CommandError, match="mistral"):
        call_command("providers", "--ping", stdout=out)
    assert "FAILED (provider_not_configured)" in out.getvalue()
    assert "MISTRAL_API_KEY" in out.getvalue()
    assert "ping elevenlabs  ok" in out.getvalue()


def test_ping_with_everything_offline_calls_nothing():
    assert "nothing to ping" in run("--ping")


def test_the_factories_build_vendor_adapters_from_settings(vendors, settings):
    settings.PROVIDER_TIMEOUTS = {**settings.PROVIDER_TIMEOUTS, "first_token": 3.0}

    chat = registry.build("chat", "mistral")
    assert isinstance(chat, MistralChat)
    assert chat.server_url == vendors.base_url
    assert chat.deadlines.first_token == 3.0
    assert chat.model_for("personas") == settings.MISTRAL_MODELS["personas"]
    assert isinstance(registry.build("stt", "elevenlabs"), ElevenLabsSpeechToText)
    assert isinstance(registry.build("tts", "elevenlabs"), ElevenLabsTextToSpeech)
    assert isinstance(registry.build("image", "gemini"), GeminiImage)
    assert registry.build("image", "mistral").model == settings.MISTRAL_IMAGE_MODEL
    assert isinstance(registry.build("image", "mistral"), MistralImage)
    assert registry.text_to_speech().name == "elevenlabs"


@pytest.mark.django_db
def test_calls_through_the_registry_reach_the_vendor_and_are_recorded(vendors):
    vendors.script("mistral.chat", "A reply.", Fault(401))
    chat = registry.chat()
    ask = ChatRequest(task="interview", messages=[ChatMessage("user", "Hello")])

    assert async_to_sync(chat.complete)(ask).text == "A reply."
    with pytest.raises(ProviderNotConfigured):
        async_to_sync(chat.complete)(ask)

    ok, failed = ProviderCall.objects.order_by("created_at")
    assert (ok.provider, ok.task, ok.model, ok.outcome) == ("mistral", "interview", "mistral-small-latest", "ok")
    assert ok.output_tokens == 2
    assert (failed.outcome, failed.error_code) == ("error", "provider_not_configured")
