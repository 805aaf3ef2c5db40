"""Writes of the personas app: generating future selves, correcting one, drawing
avatars and selecting a self to talk to. Called alike by the API and the HTMX views.

Provider calls happen before any write, so a failure leaves nothing half-saved.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from futureself.errors import InvalidInput, SafetyFlagged
from futureself.models import SafetyEvent
from futureself.providers import registry
from futureself.providers.base import ProviderError, TextToSpeech, Voice
from futureself.providers.recording import provider_call_scope
from futureself.safety.leak import ensure_no_instructions
from futureself.safety.services import safety_screen
from interviews.models import Profile
from interviews.schemas import ProfileData
from personas.engines import Avatar, AvatarGenerator, FutureSelfGenerator, GeneratedCard
from personas.models import FutureSelf
from personas.schemas import CardData

logger = logging.getLogger(__name__)

YEARS_AHEAD_DEFAULT = 10
YEARS_AHEAD_MIN = 1
YEARS_AHEAD_MAX = 40
MAX_OPTIONS = 4
DILEMMA_MAX_CHARS = 1000
OPTION_MAX_CHARS = 300
CORRECTION_MAX_CHARS = 1000

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def fallback_voice() -> Voice:
    """The voice used when the TTS provider cannot list its voices."""
    if registry.configured_name("tts") == "elevenlabs":
        return Voice(settings.ELEVENLABS_DEFAULT_VOICE_ID, "Default voice")
    try:
        voices = async_to_sync(registry.build("tts", "offline").voices)()
    except Exception:  # the fallback must not fail in turn
        logger.exception("the offline voices could not be listed")
        voices = []
    return voices[0] if voices else Voice(settings.ELEVENLABS_DEFAULT_VOICE_ID, "Default voice")


def _text_to_speech() -> TextToSpeech | None:
    try:
        return registry.text_to_speech()
    except Exception:  # without a voice provider the selves still get the fallback voice
        logger.exception("the text-to-speech provider could not be built")
        return None


def _self_generator() -> FutureSelfGenerator:
    return FutureSelfGenerator(chat=registry.chat(), tts=_text_to_speech(), fallback_voice=fallback_voice())


def _profile_data(profile: Profile) -> dict:
    return ProfileData.model_validate(profile.data).model_dump()


def dilemma_resolve(
    *, profile: Profile, dilemma: str | None = None, options: Sequence[str] | None = None
) -> tuple[str, list[str]]:
    """The dilemma and options to use: the ones given, else the profile's. Raises InvalidInput."""
    data = _profile_data(profile)
    summary = (dilemma or "").strip() or (data["dilemma"].get("summary") or "").strip()
    if not summary:
        raise InvalidInput(
            "There is no dilemma to imagine futures for: the profile has none, so give the decision you face "
            "and its options.",
            code="no_dilemma",
        )
    if len(summary) > DILEMMA_MAX_CHARS:
        raise InvalidInput(f"The dilemma is too long (at most {DILEMMA_MAX_CHARS} characters).")
    given = [o.strip() for o in options or [] if o and o.strip()]
    chosen = given or [o.strip() for o in data["dilemma"].get("options") or [] if o.strip()]
    unique: list[str] = []
    for option in chosen:
        if option.casefold() not in {u.casefold() for u in unique}:
            unique.append(option)
    if len(unique) < 2:
        raise InvalidInput("Give at least two different options for the dilemma.", code="options_required")
    if len(unique) > MAX_OPTIONS:
        raise InvalidInput(f"Give at most {MAX_OPTIONS} options.", code="too_many_options")
    if any(len(option) > OPTION_MAX_CHARS for option in unique):
        raise InvalidInput(f"Each option must be at most {OPTION_MAX_CHARS} characters.")
    return summary, unique


def free_text_screen(*, profile: Profile, texts: Sequence[str]) -> None:
    """Run the crisis check on what the person typed for this flow; raise ``SafetyFlagged`` if it fires."""
    text = "\n".join(t for t in texts if t and t.strip())
    if not text:
        return
    outcome = safety_screen(
        text=text,
        source=SafetyEvent.Source.INTERVIEW,
        interview=profile.interview,
        language=profile.interview.language or None,
        input_mode="text",
    )
    if outcome.flagged:
        raise SafetyFlagged(outcome.payload)


def future_selves_generate(
    *,
    profile: Profile,
    dilemma: str | None = None,
    options: Sequence[str] | None = None,
    years_ahead: int = YEARS_AHEAD_DEFAULT,
    include_unexpected: bool = False,
) -> list[FutureSelf]:
    """Generate and store one future self per option (plus the unexpected path when asked).

    All selves are stored in one transaction after the provider answered, or none
    at all. Raises InvalidInput or ProviderError.
    """
    if not YEARS_AHEAD_MIN <= years_ahead <= YEARS_AHEAD_MAX:
        raise InvalidInput(f"Years ahead must be between {YEARS_AHEAD_MIN} and {YEARS_AHEAD_MAX}.")
    summary, chosen = dilemma_resolve(profile=profile, dilemma=dilemma, options=options)
    free_text_screen(profile=profile, texts=[dilemma or "", *(options or [])])
    generator = _self_generator()
    with provider_call_scope(interview=profile.interview):
        generated = async_to_sync(generator.generate)(
            profile=_profile_data(profile),
            dilemma=summary,
            options=chosen,
            years_ahead=years_ahead,
            include_unexpected=include_unexpected,
        )
    ensure_no_instructions([item.card for item in generated], what="future selves")
    return _store_generation(profile=profile, dilemma=summary, generated=generated)


@transaction.atomic
def _store_generation(*, profile: Profile, dilemma: str, generated: Sequence[GeneratedCard]) -> list[FutureSelf]:
    generation_id = uuid.uuid4()
    return [
        FutureSelf.objects.create(
            profile=profile,
            generation_id=generation_id,
            position=position,
            dilemma=dilemma,
            path=item.card.path[:300],
            years_ahead=item.card.years_ahead,
            card=item.card.model_dump(),
            voice_id=item.voice.voice_id,
            voice_name=item.voice.name[:100],
        )
        for position, item in enumerate(generated)
    ]


def future_self_correct(*, future_self: FutureSelf, correction: str) -> FutureSelf:
    """Rewrite a card for the same path after the person said "that's not me".

    The correction is stored before the provider is called, so a failed attempt
    loses nothing and a retry with the same text continues where it stopped.
    """
    text = (correction or "").strip()
    if not text:
        raise InvalidInput("Tell us what this future self got wrong.", code="correction_required")
    if len(text) > CORRECTION_MAX_CHARS:
        raise InvalidInput(f"The correction is too long (at most {CORRECTION_MAX_CHARS} characters).")
    free_text_screen(profile=future_self.profile, texts=[text])
    corrections = list(future_self.corrections or [])
    pending = corrections[-1] if corrections and not corrections[-1].get("applied") else None
    if pending is None or pending.get("text") != text:
        corrections.append({"text": text, "at": timezone.now().isoformat(), "applied": False})
        future_self.corrections = corrections
        future_self.save(update_fields=["corrections", "updated_at"])

    generator = _self_generator()
    with provider_call_scope(interview=future_self.profile.interview):
        item = async_to_sync(generator.regenerate)(
            profile=_profile_data(future_self.profile),
            dilemma=future_self.dilemma,
            card=CardData.model_validate(future_self.card),
            corrections=[c["text"] for c in corrections],
            other_paths=list(
                FutureSelf.objects.filter(generation_id=future_self.generation_id)
                .exclude(pk=future_self.pk)
                .order_by("position")
                .values_list("path", flat=True)
            ),
        )
    ensure_no_instructions(item.card, what="future self")

    old_avatar = future_self.avatar.name
    with transaction.atomic():
        for entry in corrections:
            entry["applied"] = True
        future_self.corrections = corrections
        future_self.card = item.card.model_dump()
        future_self.voice_id = item.voice.voice_id
        future_self.voice_name = item.voice.name[:100]
        # The portrait belonged to the rejected card: the next view draws a new one.
        future_self.avatar = ""
        future_self.avatar_content_type = ""
        future_self.avatar_provider = ""
        future_self.save()
        if old_avatar:
            _delete_file_on_commit(future_self, old_avatar)
    return future_self


def _delete_file_on_commit(future_self: FutureSelf, name: str) -> None:
    storage = future_self.avatar.storage
    transaction.on_commit(lambda: storage.delete(name))


def _avatar_generator() -> AvatarGenerator:
    return AvatarGenerator(image=registry.image())


def _store_avatar(future_self: FutureSelf, avatar: Avatar) -> None:
    old = future_self.avatar.name
    extension = _EXTENSIONS.get(avatar.image.content_type.split(";")[0].strip(), "png")
    with transaction.atomic():
        future_self.avatar.save(f"avatar.{extension}", ContentFile(avatar.image.data), save=False)
        future_self.avatar_content_type = avatar.image.content_type
        future_self.avatar_provider = avatar.provider[:20]
        future_self.save(update_fields=["avatar", "avatar_content_type", "avatar_provider", "updated_at"])
        if old and old != future_self.avatar.name:
            _delete_file_on_commit(future_self, old)


def avatar_ensure(*, future_self: FutureSelf, regenerate: bool = False) -> FutureSelf:
    """The self with its avatar: the stored one, or a new one (replacing the old file) when missing or asked."""
    if future_self.avatar and not regenerate:
        return future_self
    card = CardData.model_validate(future_self.card)
    with provider_call_scope(interview=future_self.profile.interview):
        avatar = async_to_sync(_avatar_generator().generate)(card)
    _store_avatar(future_self, avatar)
    return future_self


def avatars_ensure(*, selves: Sequence[FutureSelf]) -> dict[uuid.UUID, ProviderError]:
    """Draw every missing avatar at once; returns the provider error of each self that failed."""
    missing = [future_self for future_self in selves if not future_self.avatar]
    if not missing:
        return {}
    cards = [CardData.model_validate(future_self.card) for future_self in missing]
    with provider_call_scope(interview=missing[0].profile.interview):
        results = async_to_sync(_avatar_generator().generate_many)(cards)
    errors: dict[uuid.UUID, ProviderError] = {}
    for future_self, result in zip(missing, results, strict=True):
        if isinstance(result, ProviderError):
            errors[future_self.pk] = result
        else:
            _store_avatar(future_self, result)
    return errors


def future_self_select(*, future_self: FutureSelf):
    """Choose this self to talk to: marks it selected and opens a new conversation."""
    from conversations.services import conversation_start

    return conversation_start(future_self=future_self)
