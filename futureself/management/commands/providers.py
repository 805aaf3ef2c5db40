"""``python manage.py providers [--ping]``: which provider serves each interface.

With ``--ping`` it makes one small, free call per configured vendor (the model
or voice list, which checks the key, the base URL and the model ids) and exits
non-zero when one fails.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from futureself.providers import registry
from futureself.providers.base import ProviderError

INTERFACES = (
    ("chat", "chat"),
    ("stt", "speech-to-text"),
    ("tts", "text-to-speech"),
    ("image", "image"),
)
BASE_URL_SETTINGS = {
    "mistral": "MISTRAL_SERVER_URL",
    "elevenlabs": "ELEVENLABS_BASE_URL",
    "gemini": "GEMINI_BASE_URL",
}


class Command(BaseCommand):
    help = "Show which provider serves each interface (and the model per chat task); --ping checks each vendor."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ping", action="store_true", help="Make one tiny real call per configured vendor.")

    def handle(self, *args: Any, ping: bool = False, **options: Any) -> None:
        for interface, label in INTERFACES:
            name = registry.configured_name(interface)
            self.stdout.write(f"{label:<16}{name:<12}{self._details(interface, name)}")
            if interface == "chat" and name == "mistral":
                for task, model in settings.MISTRAL_MODELS.items():
                    self.stdout.write(f"  {task:<14}{model}")
        moderation = registry.configured_name("moderation")
        self.stdout.write(f"{'moderation':<16}{moderation:<12}{self._moderation_details(moderation)}")
        offline = [label for interface, label in INTERFACES if registry.configured_name(interface) == "offline"]
        self.stdout.write(f"offline mode: {'on for ' + ', '.join(offline) if offline else 'off'}")
        if ping:
            self._ping()

    def _details(self, interface: str, name: str) -> str:
        if name == "offline":
            return {
                "chat": "deterministic local engine, no network",
                "stt": "unavailable: set ELEVENLABS_API_KEY to enable speech-to-text",
                "tts": f"espeak-ng when installed ({settings.OFFLINE_ESPEAK_BINARY}), else text only",
                "image": "portraits drawn locally",
            }[interface]
        where = getattr(settings, BASE_URL_SETTINGS[name]) or "vendor default URL"
        if interface == "stt":
            return f"{settings.ELEVENLABS_STT_MODEL} / realtime {settings.ELEVENLABS_STT_REALTIME_MODEL} at {where}"
        if interface == "tts":
            return (
                f"{settings.ELEVENLABS_TTS_MODEL}, {settings.ELEVENLABS_OUTPUT_FORMAT}, "
                f"voice {settings.ELEVENLABS_DEFAULT_VOICE_ID} at {where}"
            )
        if interface == "image":
            model = settings.GEMINI_IMAGE_MODEL if name == "gemini" else settings.MISTRAL_IMAGE_MODEL
            return f"{model} at {where}"
        return f"at {where}"

    def _moderation_details(self, name: str) -> str:
        if name == "offline":
            if not settings.SAFETY_MODERATION_ENABLED:
                return "off (SAFETY_MODERATION_ENABLED=0): the phrase check alone screens messages"
            return "the phrase check alone screens messages (moderation follows chat: it needs Mistral)"
        where = settings.MISTRAL_SERVER_URL or "vendor default URL"
        return f"{settings.MISTRAL_MODELS['moderation']} after the phrase check, at {where}"

    def _ping(self) -> None:
        # One call per vendor, through the first interface it serves.
        targets: dict[str, str] = {}
        for interface, _ in INTERFACES:
            name = registry.configured_name(interface)
            if name != "offline":
                targets.setdefault(name, interface)
        if not targets:
            self.stdout.write("nothing to ping: every interface is offline")
            return
        failures = []
        for name, interface in targets.items():
            started = time.perf_counter()
            try:
                provider = registry.build(interface, name)
                said = asyncio.run(provider.ping())
            except ProviderError as error:
                failures.append(name)
                self.stdout.write(f"ping {name:<12}FAILED ({error.code}): {error.message}")
                continue
            elapsed = round((time.perf_counter() - started) * 1000)
            self.stdout.write(f"ping {name:<12}ok in {elapsed} ms: {said}")
        if failures:
            raise CommandError(f"Could not reach {', '.join(failures)}.")
