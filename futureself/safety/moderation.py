"""A moderation model as a second opinion after the phrase check.

The vendor call goes through the provider layer (``registry.moderation()``:
Mistral's moderation model when Mistral serves chat and
``SAFETY_MODERATION_ENABLED`` is on), so it is recorded as a ``ProviderCall``
like every other call (chat, task ``moderation``; batched in the background on
the voice path) and never runs while chat is offline.

Optional and fail-open: with no moderation provider, or when the call fails or
runs past its short deadline, ``moderate`` answers "not flagged" and the
deterministic check alone decides. A moderation outage never blocks a message
and never raises. The registry keeps one provider per process and the provider
one SDK client per event loop: making one per call cost about 55 ms of CPU (TLS
context, SDK set-up) on every spoken or typed turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from django.conf import settings

from futureself.providers import registry
from futureself.safety.checker import HARM_TO_OTHERS, NOT_FLAGGED, SELF_HARM, SafetyVerdict, check_text

logger = logging.getLogger(__name__)

# Vendor category -> our category. Mistral spells it "selfharm"; accept the
# underscored form too in case the API renames it.
VENDOR_CATEGORIES: Mapping[str, str] = {
    "selfharm": SELF_HARM,
    "self_harm": SELF_HARM,
    "violence_and_threats": HARM_TO_OTHERS,
}

# The provider keeps SAFETY_MODERATION_TIMEOUT itself (a recorded provider_unavailable); this
# bound only covers a provider that does not, so it must not fire first.
_GUARD_SECONDS = 0.25


def moderation_configured() -> bool:
    return registry.moderation_available()


def verdict_from_scores(categories: Mapping[str, bool], scores: Mapping[str, float]) -> SafetyVerdict:
    """Flag when a watched category is set by the vendor or scores over our threshold."""
    threshold = settings.SAFETY_MODERATION_THRESHOLD
    for vendor_name in settings.SAFETY_MODERATION_CATEGORIES:
        ours = VENDOR_CATEGORIES.get(vendor_name, vendor_name)
        score = float(scores.get(vendor_name) or 0.0)
        if categories.get(vendor_name) or (threshold is not None and score >= threshold):
            return SafetyVerdict(
                flagged=True, category=ours, matched=f"{vendor_name} {score:.2f}", detector="moderation"
            )
    return NOT_FLAGGED


async def moderate(text: str) -> SafetyVerdict:
    """Ask the moderation provider about ``text``; never raises."""
    if not text.strip():
        return NOT_FLAGGED
    try:
        moderator = registry.moderation()
        if moderator is None:
            return NOT_FLAGGED
        async with asyncio.timeout(settings.SAFETY_MODERATION_TIMEOUT + _GUARD_SECONDS):
            response = await moderator.moderate([text])
        result = response.results[0] if response.results else None
    except Exception as exc:  # fail open: an outage must not block the person
        # Never the text: only what went wrong.
        code = getattr(exc, "code", type(exc).__name__)
        logger.warning("moderation unavailable (%s); using the phrase check alone", code)
        return NOT_FLAGGED
    if result is None:
        return NOT_FLAGGED
    return verdict_from_scores(result.categories, result.scores)


async def assess(text: str, *, phrases: SafetyVerdict | None = None) -> SafetyVerdict:
    """The full check: phrases first (flagged -> done, no network), then moderation if configured.

    ``phrases`` is the phrase check's verdict on ``text`` when the caller already has it.
    """
    verdict = check_text(text) if phrases is None else phrases
    if verdict.flagged:
        return verdict
    return await moderate(text)
