"""Mistral's moderation endpoint as a second opinion after the phrase check.

Optional and fail-open: with no Mistral key, or when the call fails or runs
past its short deadline, ``moderate`` answers "not flagged" and the
deterministic check alone decides. A moderation outage never blocks a message
and never raises. The SDK's async HTTP client is bound to one event loop, so
one client is kept per event loop (and server): making one per call cost about
55 ms of CPU (TLS context, SDK set-up) on every spoken or typed turn.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping

import httpx2
from django.conf import settings
from mistralai.client import Mistral

from futureself.safety.checker import HARM_TO_OTHERS, NOT_FLAGGED, SELF_HARM, SafetyVerdict, check_text

logger = logging.getLogger(__name__)

# Vendor category -> our category. Mistral spells it "selfharm"; accept the
# underscored form too in case the API renames it.
VENDOR_CATEGORIES: Mapping[str, str] = {
    "selfharm": SELF_HARM,
    "self_harm": SELF_HARM,
    "violence_and_threats": HARM_TO_OTHERS,
}


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, int], Mistral]] = (
    weakref.WeakKeyDictionary()
)


def moderation_configured() -> bool:
    return bool(settings.MISTRAL_API_KEY) and settings.SAFETY_MODERATION_ENABLED


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


async def moderate(text: str, *, http_client: httpx2.AsyncClient | None = None) -> SafetyVerdict:
    """Ask Mistral's moderation model about ``text``; never raises.

    ``http_client`` lets tests route the SDK to a fake transport; otherwise the
    event loop's shared client is used.
    """
    if not text.strip() or not moderation_configured():
        return NOT_FLAGGED
    deadline = settings.SAFETY_MODERATION_TIMEOUT
    try:
        async with asyncio.timeout(deadline):
            response = await _classify(text, http_client)
        result = response.results[0] if response.results else None
    except Exception as exc:  # fail open: an outage must not block the person
        # Never the text: only what went wrong.
        logger.warning("moderation unavailable (%s); using the phrase check alone", type(exc).__name__)
        return NOT_FLAGGED
    if result is None:
        return NOT_FLAGGED
    return verdict_from_scores(result.categories or {}, result.category_scores or {})


def _client(http_client: httpx2.AsyncClient | None) -> Mistral:
    options = {
        "api_key": settings.MISTRAL_API_KEY,
        "server_url": settings.MISTRAL_SERVER_URL,
        "timeout_ms": int(settings.SAFETY_MODERATION_TIMEOUT * 1000),
    }
    if http_client is not None:
        return Mistral(async_client=http_client, **options)
    shared = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (options["api_key"], options["server_url"], options["timeout_ms"])
    if key not in shared:
        shared[key] = Mistral(async_client=httpx2.AsyncClient(follow_redirects=True), **options)
    return shared[key]


async def _classify(text: str, http_client: httpx2.AsyncClient | None):
    mistral = _client(http_client)
    return await mistral.classifiers.moderate_async(model=settings.MISTRAL_MODELS["moderation"], inputs=[text])


async def assess(text: str, *, http_client: httpx2.AsyncClient | None = None) -> SafetyVerdict:
    """The full check: phrases first (flagged -> done, no network), then moderation if configured."""
    verdict = check_text(text)
    if verdict.flagged:
        return verdict
    return await moderate(text, http_client=http_client)
