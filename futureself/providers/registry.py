"""Which implementation serves each interface, chosen by settings.

``chat()``, ``speech_to_text()``, ``text_to_speech()`` and ``image()`` build the
configured provider on first use (wrapped so that every call is recorded) and
return the same instance afterwards. Tests replace them with
``use_providers(chat=fake, ...)``.

``moderation()`` serves the safety check's second opinion. It follows chat:
Mistral's moderation model when Mistral serves chat (with its key) and
``SAFETY_MODERATION_ENABLED`` is on, otherwise nothing (``None``): offline
chat means no vendor is called for moderation either.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from futureself.providers.base import ChatProvider, ImageGenerator, Moderator, SpeechToText, TextToSpeech
from futureself.providers.recording import (
    RecordingChat,
    RecordingImageGenerator,
    RecordingModerator,
    RecordingSpeechToText,
    RecordingTextToSpeech,
)

FACTORIES: dict[tuple[str, str], str] = {
    ("chat", "mistral"): "futureself.providers.mistral:build_chat",
    ("chat", "offline"): "futureself.providers.offline:build_chat",
    ("stt", "elevenlabs"): "futureself.providers.elevenlabs:build_speech_to_text",
    ("stt", "offline"): "futureself.providers.offline:build_speech_to_text",
    ("tts", "elevenlabs"): "futureself.providers.elevenlabs:build_text_to_speech",
    ("tts", "offline"): "futureself.providers.offline:build_text_to_speech",
    ("image", "gemini"): "futureself.providers.gemini:build_image",
    ("image", "mistral"): "futureself.providers.mistral:build_image",
    ("image", "offline"): "futureself.providers.offline:build_image",
    ("moderation", "mistral"): "futureself.providers.mistral:build_moderation",
}

SETTING_FOR_INTERFACE = {
    "chat": "FUTURESELF_CHAT_PROVIDER",
    "stt": "FUTURESELF_STT_PROVIDER",
    "tts": "FUTURESELF_TTS_PROVIDER",
    "image": "FUTURESELF_IMAGE_PROVIDER",
}

WRAPPERS = {
    "chat": RecordingChat,
    "stt": RecordingSpeechToText,
    "tts": RecordingTextToSpeech,
    "image": RecordingImageGenerator,
    "moderation": RecordingModerator,
}

_built: dict[str, Any] = {}
_overrides: dict[str, Any] = {}


def configured_name(interface: str) -> str:
    if interface == "moderation":
        return _moderation_name()
    return getattr(settings, SETTING_FOR_INTERFACE[interface])


def _moderation_name() -> str:
    if settings.SAFETY_MODERATION_ENABLED and configured_name("chat") == "mistral" and settings.MISTRAL_API_KEY:
        return "mistral"
    return "offline"


def build(interface: str, name: str) -> Any:
    """A new, unwrapped provider ``name`` for ``interface``."""
    module_name, _, attr = FACTORIES[(interface, name)].partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory()


def import_configured() -> None:
    """Import the modules (and so the vendor SDKs) of the configured providers, without building them."""
    for (interface, name), path in FACTORIES.items():
        if configured_name(interface) == name:
            importlib.import_module(path.partition(":")[0])


def _get(interface: str) -> Any:
    if interface in _overrides:
        return _overrides[interface]
    provider = _built.get(interface)
    if provider is None:
        provider = WRAPPERS[interface](build(interface, configured_name(interface)))
        _built[interface] = provider
    return provider


def chat() -> ChatProvider:
    return _get("chat")


def speech_to_text() -> SpeechToText:
    return _get("stt")


def text_to_speech() -> TextToSpeech:
    return _get("tts")


def image() -> ImageGenerator:
    return _get("image")


def moderation() -> Moderator | None:
    """The moderation provider, or None when nothing moderates (see the module docstring)."""
    if "moderation" not in _overrides and configured_name("moderation") == "offline":
        return None
    return _get("moderation")


def moderation_available() -> bool:
    """Whether ``moderation()`` has a provider, without building it."""
    if "moderation" in _overrides:
        return _overrides["moderation"] is not None
    return configured_name("moderation") != "offline"


def tts_available() -> bool:
    """Whether the configured text-to-speech can speak (offline: espeak-ng is installed)."""
    provider = text_to_speech()
    return getattr(getattr(provider, "inner", provider), "available", True)


def reset() -> None:
    _built.clear()


@contextlib.contextmanager
def use_providers(**providers: Any) -> Iterator[None]:
    """Serve the given interfaces (``chat``, ``stt``, ``tts``, ``image``, ``moderation``) with these objects.

    They are wrapped for recording like the real ones, so tests see ProviderCall rows.
    """
    previous = dict(_overrides)
    for interface, provider in providers.items():
        _overrides[interface] = WRAPPERS[interface](provider) if provider is not None else None
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(previous)


def provider_status() -> dict[str, Any]:
    names = {
        "chat": configured_name("chat"),
        "speech_to_text": configured_name("stt"),
        "text_to_speech": configured_name("tts"),
        "image": configured_name("image"),
    }
    # Moderation follows chat and is not an interface of its own: "offline" means the phrase check alone.
    return {**names, "moderation": configured_name("moderation"), "offline_mode": "offline" in names.values()}


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in SETTING_FOR_INTERFACE.values() or setting.startswith(
        ("MISTRAL_", "ELEVENLABS_", "GEMINI_", "PROVIDER_", "SAFETY_MODERATION_")
    ):
        reset()


setting_changed.connect(_on_setting_changed)
