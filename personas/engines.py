"""The engines of the personas app: plain classes over provider interfaces.

``FutureSelfGenerator`` writes one balanced card per option of a dilemma (and an
optional unexpected path); ``AvatarGenerator`` draws their portraits, several at
once. Neither knows about Django models or a vendor SDK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from futureself.prompts import as_data, render_prompt
from futureself.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ImageGenerator,
    ImageResult,
    ProviderBadResponse,
    ProviderError,
    TextToSpeech,
    Voice,
)
from personas.rules import card_problems, pick_voice, presented_gender, same_path
from personas.schemas import CardData, GeneratedSelves

logger = logging.getLogger(__name__)

# Enough choice for the model without flooding the prompt with a large voice library.
MAX_VOICES_IN_PROMPT = 40


@dataclass(frozen=True, slots=True)
class GeneratedCard:
    card: CardData
    voice: Voice


class FutureSelfGenerator:
    """Profile + dilemma -> validated future-self cards.

    Beyond the schema it enforces one card per option, gains and costs on every
    card, 3-6 memories, no memory touching a boundary, no invented death or
    diagnosis of someone named, and the same care for every path (backstory
    length, gains and costs within a factor of two across the cards). A first answer breaking these rules gets one
    corrective follow-up; a second one is reported as ``ProviderBadResponse``.
    """

    def __init__(self, *, chat: ChatProvider, tts: TextToSpeech | None, fallback_voice: Voice) -> None:
        self.chat = chat
        self.tts = tts
        self.fallback_voice = fallback_voice

    async def voices(self) -> list[Voice]:
        voices: list[Voice] = []
        if self.tts is not None:
            try:
                voices = list(await self.tts.voices())
            except Exception as exc:  # any failure to list voices falls back; a card still needs a voice
                logger.warning("listing voices failed (%s); using the fallback voice", type(exc).__name__)
        return voices or [self.fallback_voice]

    async def generate(
        self,
        *,
        profile: Mapping[str, Any],
        dilemma: str,
        options: Sequence[str],
        years_ahead: int = 10,
        include_unexpected: bool = False,
    ) -> list[GeneratedCard]:
        """One card per option, in the options' order, then the unexpected path when asked."""
        return await self._run(
            profile=profile,
            dilemma=dilemma,
            options=list(options),
            years_ahead=years_ahead,
            include_unexpected=include_unexpected,
        )

    async def regenerate(
        self,
        *,
        profile: Mapping[str, Any],
        dilemma: str,
        card: CardData,
        corrections: Sequence[str],
        other_paths: Sequence[str] = (),
    ) -> GeneratedCard:
        """The same path written again, taking the person's corrections (given as data) into account.

        ``other_paths`` are the paths of the selves generated alongside, so the
        rewritten card still weighs what this path gave up.
        """
        cards = await self._run(
            profile=profile,
            dilemma=dilemma,
            options=[] if card.unexpected else [card.path],
            years_ahead=card.years_ahead,
            include_unexpected=card.unexpected,
            unexpected_path=card.path if card.unexpected else None,
            corrections=list(corrections),
            previous_card=card,
            other_paths=list(other_paths),
        )
        return cards[0]

    async def _run(
        self,
        *,
        profile: Mapping[str, Any],
        dilemma: str,
        options: list[str],
        years_ahead: int,
        include_unexpected: bool,
        unexpected_path: str | None = None,
        corrections: list[str] | None = None,
        previous_card: CardData | None = None,
        other_paths: list[str] | None = None,
    ) -> list[GeneratedCard]:
        voices = await self.voices()
        age = profile.get("age")
        future_age = age + years_ahead if isinstance(age, int) else None
        context: dict[str, Any] = {
            "profile": dict(profile),
            "dilemma": dilemma,
            "options": options,
            "years_ahead": years_ahead,
            "age": future_age,
            "include_unexpected": include_unexpected,
            "unexpected_path": unexpected_path,
            "voices": [
                {"voice_id": v.voice_id, "name": v.name, "labels": dict(v.labels)}
                for v in voices[:MAX_VOICES_IN_PROMPT]
            ],
            "other_paths": other_paths or [],
            "corrections": corrections or [],
            "previous_card": previous_card.model_dump() if previous_card else None,
        }
        messages = self._messages(context)
        request = ChatRequest(task="personas", messages=messages, context=context)
        result = await self.chat.parse(request, GeneratedSelves)
        selves = result.value.selves
        problems = self._problems(selves, context)
        if problems:
            logger.info("generated cards broke %d rules; asking once for a corrected answer", len(problems))
            follow_up = [
                *messages,
                ChatMessage("assistant", result.value.model_dump_json()),
                ChatMessage("user", render_prompt("personas_fix.md", problems=problems)),
            ]
            result = await self.chat.parse(
                ChatRequest(task="personas", messages=follow_up, context=context), GeneratedSelves
            )
            selves = result.value.selves
            problems = self._problems(selves, context)
            if problems:
                raise ProviderBadResponse(
                    "The future selves came back incomplete twice: " + " ".join(problems[:3]),
                    provider=getattr(self.chat, "name", ""),
                )
        return self._finish(selves, context, voices)

    def _messages(self, context: Mapping[str, Any]) -> list[ChatMessage]:
        system = render_prompt(
            "personas_system.md",
            years_ahead=context["years_ahead"],
            count=len(context["options"]),
            include_unexpected=context["include_unexpected"],
            regenerating=context["previous_card"] is not None,
        )
        profile = context["profile"]
        # Everything the person said or wrote reaches the model as delimited data in the user turn.
        user = render_prompt(
            "personas_request.md",
            profile=as_data("profile", profile),
            dilemma=as_data("dilemma", context["dilemma"]),
            options=as_data("options", context["options"]),
            boundaries=as_data("boundaries", [b.get("text") for b in profile.get("boundaries") or []]),
            voices=as_data("voices", context["voices"]),
            years_ahead=context["years_ahead"],
            age=context["age"],
            include_unexpected=context["include_unexpected"],
            unexpected_path=as_data("unexpected_path", context["unexpected_path"])
            if context["unexpected_path"]
            else "",
            previous_card=as_data("previous_card", context["previous_card"]) if context["previous_card"] else "",
            other_paths=as_data("other_paths", context["other_paths"]) if context["other_paths"] else "",
            corrections=as_data("correction", context["corrections"]) if context["corrections"] else "",
        )
        return [ChatMessage("system", system), ChatMessage("user", user)]

    def _problems(self, selves: Sequence[CardData], context: Mapping[str, Any]) -> list[str]:
        problems = card_problems(
            [card.model_dump() for card in selves],
            options=context["options"],
            include_unexpected=context["include_unexpected"],
            profile=context["profile"],
        )
        path = context["unexpected_path"]
        if path and not any(card.unexpected and card.path.strip() == path.strip() for card in selves):
            problems.append(f"The unexpected card must keep its path {path!r}.")
        return problems

    def _finish(
        self, selves: Sequence[CardData], context: Mapping[str, Any], voices: Sequence[Voice]
    ) -> list[GeneratedCard]:
        by_id = {voice.voice_id: voice for voice in voices}
        gender = presented_gender(context["profile"].get("pronouns"))
        ordered = sorted(selves, key=lambda card: self._order(card, context["options"]))
        finished: list[GeneratedCard] = []
        for index, card in enumerate(ordered):
            # The model's arithmetic and choices are not trusted where we know better.
            voice = by_id.get(card.voice_id or "") or pick_voice(
                voices, gender=gender, age=context["age"], offset=index
            )
            assert voice is not None  # voices() never returns an empty list
            path = card.path
            for option in context["options"]:
                if same_path(option, path):
                    path = option
            fixed = card.model_copy(
                update={
                    "path": path,
                    "years_ahead": context["years_ahead"],
                    "age": context["age"] if context["age"] is not None else card.age,
                    "voice_id": voice.voice_id,
                }
            )
            finished.append(GeneratedCard(card=CardData.model_validate(fixed.model_dump()), voice=voice))
        return finished

    @staticmethod
    def _order(card: CardData, options: Sequence[str]) -> int:
        if card.unexpected:
            return len(options)
        for index, option in enumerate(options):
            if same_path(option, card.path):
                return index
        return len(options)


@dataclass(frozen=True, slots=True)
class Avatar:
    image: ImageResult
    provider: str


class AvatarGenerator:
    """Portraits for future-self cards through whatever ``ImageGenerator`` it is given."""

    def __init__(self, *, image: ImageGenerator) -> None:
        self.image = image

    def prompt_for(self, card: CardData) -> str:
        return render_prompt(
            "avatar.md",
            avatar_prompt=card.avatar_prompt,
            age=card.age,
            years_ahead=card.years_ahead,
            path=card.path,
        )

    async def generate(self, card: CardData) -> Avatar:
        image = await self.image.generate(self.prompt_for(card), context=card.model_dump())
        if not image.data or not image.content_type.startswith("image/"):
            raise ProviderBadResponse("The image provider returned no usable image.", provider=self.image.name)
        return Avatar(image=image, provider=self.image.name)

    async def generate_many(self, cards: Sequence[CardData]) -> list[Avatar | ProviderError]:
        """All portraits at once; each slot holds the avatar or the provider error for that card."""
        results = await asyncio.gather(*(self.generate(card) for card in cards), return_exceptions=True)
        out: list[Avatar | ProviderError] = []
        for result in results:
            if isinstance(result, ProviderError | Avatar):
                out.append(result)
            elif isinstance(result, BaseException):
                raise result
        return out
