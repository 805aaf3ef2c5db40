"""The entry points the interview and conversation flows call on every user message.

``safety_screen`` (sync, for services) and ``asafety_screen`` (async, for the
consumer) run the check, record a ``SafetyEvent`` when it fires and return
what to send back. When ``outcome.flagged`` is true the caller must not route
the message to the interviewer or persona, and answers with
``outcome.payload`` (API) or ``outcome.ws_event`` (WebSocket) instead.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync, sync_to_async

from futureself.models import SafetyEvent
from futureself.providers.recording import provider_call_scope
from futureself.safety.checker import SafetyVerdict, check_text
from futureself.safety.moderation import assess, moderate, moderation_configured
from futureself.safety.response import safety_payload, safety_ws_event
from futureself.safety.schemas import SafetyOut

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SafetyOutcome:
    verdict: SafetyVerdict
    payload: SafetyOut
    ws_event: dict | None
    event: SafetyEvent | None

    @property
    def flagged(self) -> bool:
        return self.verdict.flagged


def safety_record(
    *,
    verdict: SafetyVerdict,
    source: str,
    interview=None,
    conversation=None,
    input_mode: str = "",
) -> SafetyEvent:
    """Record that the check fired. A conversation's event also links its interview, so
    the person's export and deletion find it either way."""
    if interview is None and conversation is not None:
        from interviews.models import Interview

        interview = Interview.objects.filter(profiles__future_selves__conversations=conversation).first()
    event = SafetyEvent.objects.create(
        source=source,
        category=verdict.category or "",
        language=verdict.language or "",
        detector=verdict.detector or SafetyEvent.Detector.PHRASES,
        matched=(verdict.matched or "")[:200],
        input_mode=input_mode,
        interview=interview,
        conversation=conversation,
    )
    # Category and ids only: never the person's words.
    logger.warning("safety check fired: event=%s source=%s category=%s", event.pk, source, event.category)
    return event


def _call_scope(*, interview, conversation):
    """Attribute the moderation call to what the message belongs to (else keep the caller's scope)."""
    if interview is None and conversation is None:
        return contextlib.nullcontext()
    return provider_call_scope(interview=interview, conversation=conversation)


def _outcome(verdict: SafetyVerdict, event: SafetyEvent | None, language: str | None, country: str | None):
    ws_event = safety_ws_event(verdict, language=language, country=country) if verdict.flagged else None
    return SafetyOutcome(
        verdict=verdict,
        payload=safety_payload(verdict, language=language, country=country),
        ws_event=ws_event,
        event=event,
    )


async def asafety_screen(
    *,
    text: str,
    source: str,
    interview=None,
    conversation=None,
    language: str | None = None,
    country: str | None = None,
    input_mode: str = "",
    phrases: SafetyVerdict | None = None,
) -> SafetyOutcome:
    """Check one user message (async). Records a ``SafetyEvent`` when it fires.

    ``phrases``: the phrase check's verdict on ``text``, when the caller already ran it.
    """
    with _call_scope(interview=interview, conversation=conversation):
        verdict = await assess(text, phrases=phrases)
    event = None
    if verdict.flagged:
        event = await sync_to_async(safety_record)(
            verdict=verdict, source=source, interview=interview, conversation=conversation, input_mode=input_mode
        )
    return _outcome(verdict, event, language, country)


def safety_screen(
    *,
    text: str,
    source: str,
    interview=None,
    conversation=None,
    language: str | None = None,
    country: str | None = None,
    input_mode: str = "",
) -> SafetyOutcome:
    """Check one user message (sync, for services). Records a ``SafetyEvent`` when it fires."""
    verdict = check_text(text)
    if not verdict.flagged and moderation_configured():
        with _call_scope(interview=interview, conversation=conversation):
            verdict = async_to_sync(moderate)(text)
    event = None
    if verdict.flagged:
        event = safety_record(
            verdict=verdict, source=source, interview=interview, conversation=conversation, input_mode=input_mode
        )
    return _outcome(verdict, event, language, country)
