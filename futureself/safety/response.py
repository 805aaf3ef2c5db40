"""What the person sees when the check fires: a calm, static message, out of
persona, in their language, with crisis resources for their country."""

from __future__ import annotations

from django.conf import settings

from futureself.safety.checker import HARM_TO_OTHERS, SafetyVerdict
from futureself.safety.schemas import CrisisResource, SafetyEventOut, SafetyOut

LANGUAGES = ("en", "fr")

CRISIS_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "self": (
            "I'm stepping out of the conversation for a moment, because what you just said matters more. "
            "I'm an AI, not a person, and I can't help with this the way someone trained can. "
            "It sounds like you might be going through something really painful. You don't have to face it alone: "
            "please reach out to one of the people below, now if you can. If you are in immediate danger, "
            "call your local emergency number. When you're ready, we can carry on talking."
        ),
        "others": (
            "I'm stepping out of the conversation for a moment. I'm an AI, not a person, and what you just said "
            "sounds serious. If someone could be in danger right now, please call your local emergency number. "
            "If you're struggling with these feelings, talking to someone trained can really help: the people "
            "below are there for that. When you're ready, we can carry on talking."
        ),
    },
    "fr": {
        "self": (
            "Je sors un instant de la conversation, parce que ce que vous venez de dire compte davantage. "
            "Je suis une IA, pas une personne, et je ne peux pas vous aider comme le ferait quelqu'un de formé. "
            "Vous traversez peut-être quelque chose de très douloureux. Vous n'êtes pas obligé·e d'y faire face "
            "seul·e : contactez l'une des ressources ci-dessous, maintenant si vous le pouvez. En cas de danger "
            "immédiat, appelez le numéro d'urgence local. Quand vous le souhaitez, nous pourrons reprendre."
        ),
        "others": (
            "Je sors un instant de la conversation. Je suis une IA, pas une personne, et ce que vous venez de dire "
            "semble grave. Si quelqu'un est en danger maintenant, appelez le numéro d'urgence local. Si ces "
            "pensées vous pèsent, en parler à quelqu'un de formé peut vraiment aider : les ressources ci-dessous "
            "sont là pour ça. Quand vous le souhaitez, nous pourrons reprendre."
        ),
    },
}


def message_language(verdict: SafetyVerdict, preferred: str | None = None) -> str:
    """The language of the person's own words when the check knows it, else theirs, else the site's."""
    for candidate in (verdict.language, preferred, settings.LANGUAGE_CODE):
        code = (candidate or "").split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return "en"


def crisis_message(verdict: SafetyVerdict, *, language: str | None = None) -> str:
    kind = "others" if verdict.category == HARM_TO_OTHERS else "self"
    return CRISIS_MESSAGES[message_language(verdict, language)][kind]


def crisis_resources(country: str | None = None) -> list[CrisisResource]:
    """Resources for ``country`` (ISO code), else the default country's, always ending with the international ones."""
    table = settings.CRISIS_RESOURCES
    code = (country or settings.SAFETY_DEFAULT_COUNTRY or "").upper()
    local = table.get(code, [])
    international = [] if code == "INTL" else table.get("INTL", [])
    return [CrisisResource(**item) for item in [*local, *international]]


def safety_payload(verdict: SafetyVerdict, *, language: str | None = None, country: str | None = None) -> SafetyOut:
    """The ``"safety"`` member of an interview or conversation reply."""
    if not verdict.flagged:
        return SafetyOut(flagged=False, message=None, resources=[])
    return SafetyOut(
        flagged=True, message=crisis_message(verdict, language=language), resources=crisis_resources(country)
    )


def safety_ws_event(verdict: SafetyVerdict, *, language: str | None = None, country: str | None = None) -> dict:
    """The ``{"type": "safety", "message", "resources"}`` event sent instead of the persona's reply."""
    return SafetyEventOut(
        message=crisis_message(verdict, language=language), resources=crisis_resources(country)
    ).model_dump()
