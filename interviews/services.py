"""Writes of the interviews app. Keyword-only, typed, called by the API, the
HTMX views and management commands alike.

What the person says is saved (as a ``pending`` turn) before any provider call,
so a provider failure loses nothing: the retry answers that same pending turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from pydantic import ValidationError

from futureself.errors import Conflict, InvalidInput
from futureself.models import SafetyEvent
from futureself.ownership import Owner
from futureself.providers import registry
from futureself.providers.base import ChatProvider
from futureself.providers.recording import provider_call_scope
from futureself.safety.leak import ensure_no_instructions
from futureself.safety.output import INTERVIEWER, check_output_text
from futureself.safety.schemas import SafetyOut
from futureself.safety.services import safety_screen
from interviews.engines import InterviewAgent, InterviewStep, ProfileBuilder, topic_progress
from interviews.models import Interview, Profile, Turn
from interviews.schemas import ProfileData, TranscriptEntry

# A retry without an Idempotency-Key of the very first message (or of an imported
# transcript) resumes the interview it started if that happened this recently.
START_RETRY_WINDOW = timedelta(minutes=15)


NOT_FLAGGED = SafetyOut(flagged=False, message=None, resources=[])

# After a flagged answer the interviewer is not called: the person gets the crisis
# message and, below it, the question they were answering, asked again gently.
GENTLE_REASK: dict[str, str] = {
    "en": "Take all the time you need. Only if and when you feel like it, we can carry on: {question}",
    "fr": "Prenez tout le temps qu'il vous faut. Seulement si vous en avez envie, nous pouvons continuer : {question}",
}
GENTLE_OPENER: dict[str, str] = {
    "en": "Take all the time you need. Only if and when you feel like it, tell me a little about your life right now.",
    "fr": "Prenez tout le temps qu'il vous faut. Seulement si vous en avez envie, parlez-moi un peu de votre vie en "
    "ce moment.",
}


@dataclass(frozen=True, slots=True)
class InterviewReply:
    """The interviewer's turn, or (``safety.flagged``) the crisis answer with the pending question asked again."""

    interview: Interview
    question: Turn | None
    safety: SafetyOut = field(default_factory=lambda: NOT_FLAGGED)
    gentle_question: str = ""

    @property
    def question_text(self) -> str:
        if self.safety.flagged or self.question is None:
            return self.gentle_question
        return self.question.content

    @property
    def turn(self) -> int:
        return self.interview.turns.filter(role=Turn.Role.INTERVIEWER).count()

    @property
    def progress(self) -> float:
        return topic_progress(self.interview.topics_covered)


@transaction.atomic
def interviews_claim_for_user(*, guest_key: str, user) -> int:
    """Give everything a guest made to the account they just signed in to."""
    if not guest_key:
        return 0
    return Interview.objects.filter(owner__isnull=True, guest_key=guest_key).update(owner=user, guest_key="")


def _clean_message(message: str) -> str:
    text = (message or "").strip()
    if len(text) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(f"Your message is too long: at most {settings.MESSAGE_MAX_CHARS} characters, please.")
    return text


def _answered_count(interview: Interview) -> int:
    return interview.turns.filter(role=Turn.Role.USER).count()


def interview_transcript(*, interview: Interview) -> list[TranscriptEntry]:
    """What the interviewer and the profile builder see: every turn but the answers the crisis check flagged."""
    turns = interview.turns.filter(safety_flagged=False).order_by("position")
    return [TranscriptEntry(role=t.role, content=t.content) for t in turns]


def _language(interview: Interview) -> str:
    code = (interview.language or "").split("-")[0].lower()
    return code if code in GENTLE_REASK else "en"


def interview_gentle_question(*, interview: Interview) -> str:
    """The question the person was answering, asked again without a provider call."""
    asked = interview.turns.filter(role=Turn.Role.INTERVIEWER).order_by("-position")
    last = asked.first()
    language = _language(interview)
    if last is None or asked.count() == 1:
        # Nothing asked yet, or only the greeting (which should not be repeated word for word).
        return GENTLE_OPENER[language]
    return GENTLE_REASK[language].format(question=last.content)


def interview_safety_notice(*, interview: Interview) -> SafetyOut | None:
    """The crisis answer to show again when the interview's last turn is a flagged answer (e.g. after a reload)."""
    from futureself.safety.checker import SafetyVerdict
    from futureself.safety.response import safety_payload

    last = interview.turns.order_by("-position").first()
    if last is None or not last.safety_flagged:
        return None
    event = interview.safety_events.order_by("-created_at").first()
    verdict = SafetyVerdict(
        flagged=True,
        category=event.category if event else None,
        language=(event.language if event else None) or None,
    )
    return safety_payload(verdict, language=interview.language or None)


def _screen(*, interview: Interview, text: str) -> SafetyOut:
    outcome = safety_screen(
        text=text,
        source=SafetyEvent.Source.INTERVIEW,
        interview=interview,
        language=interview.language or None,
        input_mode="text",
    )
    return outcome.payload


def _flagged_reply(*, interview: Interview, safety: SafetyOut) -> InterviewReply:
    return InterviewReply(
        interview=interview,
        question=None,
        safety=safety,
        gentle_question=interview_gentle_question(interview=interview),
    )


def _save_flagged(*, interview: Interview, text: str, idempotency_key: str, safety: SafetyOut) -> InterviewReply:
    Turn.objects.create(
        interview=interview,
        position=_next_position(interview),
        role=Turn.Role.USER,
        content=text,
        status=Turn.Status.ANSWERED,
        safety_flagged=True,
        idempotency_key=idempotency_key[:100],
    )
    return _flagged_reply(interview=interview, safety=safety)


def interview_needs_question(*, interview: Interview) -> bool:
    """Whether the interviewer owes a turn: nothing asked yet, or a message waits for a reply."""
    last = interview.turns.order_by("-position").first()
    return interview.status == Interview.Status.IN_PROGRESS and (last is None or last.status == Turn.Status.PENDING)


def interview_pending_turn(*, interview: Interview) -> Turn | None:
    last = interview.turns.order_by("-position").first()
    return last if last is not None and last.status == Turn.Status.PENDING else None


def interview_can_finish(*, interview: Interview) -> bool:
    """The finish button shows when the interviewer is ready, and always after a few answers."""
    return interview.ready_to_complete or _answered_count(interview) >= 3


def interview_create(*, owner: Owner, source: str = Interview.Source.WEB, start_key: str = "") -> Interview:
    if owner.is_anonymous:
        raise InvalidInput("An interview needs an owner.")
    return Interview.objects.create(source=source, start_key=start_key[:100], **owner.create_kwargs())


def _next_position(interview: Interview) -> int:
    top = interview.turns.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def _find_started(*, owner: Owner, text: str, idempotency_key: str) -> Interview | None:
    """The interview an earlier, failed attempt of this same start request created."""
    mine = Interview.objects.filter(status=Interview.Status.IN_PROGRESS, **owner.filter_kwargs())
    if idempotency_key:
        return mine.filter(start_key=idempotency_key[:100]).first()
    if not text:
        return None
    recent = mine.filter(created_at__gte=timezone.now() - START_RETRY_WINDOW).first()
    if recent is None:
        return None
    turns = list(recent.turns.order_by("position")[:2])
    if len(turns) == 1 and turns[0].status == Turn.Status.PENDING and turns[0].content == text:
        return recent
    return None


def interview_start(
    *,
    owner: Owner,
    message: str = "",
    idempotency_key: str = "",
    source: str = Interview.Source.API,
    chat: ChatProvider | None = None,
) -> InterviewReply:
    """Start an interview (or resume the one a failed attempt of this request started) and ask."""
    text = _clean_message(message)
    interview = _find_started(owner=owner, text=text, idempotency_key=idempotency_key)
    if interview is not None:
        pending = interview_pending_turn(interview=interview)
        if pending is None and not interview_needs_question(interview=interview):
            return _replay(interview=interview, user_turn=interview.turns.filter(role=Turn.Role.USER).first())
        return interview_ask(interview=interview, chat=chat)
    with transaction.atomic():
        interview = interview_create(owner=owner, source=source, start_key=idempotency_key)
        if text:
            # Saved first so nothing is lost, then checked before anyone is asked to answer it.
            Turn.objects.create(
                interview=interview,
                position=0,
                role=Turn.Role.USER,
                content=text,
                status=Turn.Status.PENDING,
                idempotency_key=idempotency_key[:100],
            )
    if text:
        safety = _screen(interview=interview, text=text)
        if safety.flagged:
            interview.turns.filter(position=0).update(status=Turn.Status.ANSWERED, safety_flagged=True)
            return _flagged_reply(interview=interview, safety=safety)
    return interview_ask(interview=interview, chat=chat)


def interview_respond(
    *,
    interview: Interview,
    message: str,
    idempotency_key: str = "",
    chat: ChatProvider | None = None,
) -> InterviewReply:
    """Save the person's answer, then get the interviewer's next turn.

    A retry (same ``idempotency_key``, or the same text as the pending turn)
    answers the pending turn instead of adding another; a retry of a message
    already answered returns that answer again.

    Every new answer passes the crisis check first. When it fires, the answer is
    saved (flagged, never sent to a provider), a ``SafetyEvent`` is recorded and the
    reply carries the crisis message with the pending question asked again; the
    next answer continues the interview as usual.
    """
    text = _clean_message(message)
    if interview.status == Interview.Status.COMPLETED:
        raise Conflict("This interview is finished.", code="interview_completed")
    if not text:
        raise InvalidInput("Please write an answer first.", code="empty_message")

    if idempotency_key:
        earlier = interview.turns.filter(role=Turn.Role.USER, idempotency_key=idempotency_key[:100]).first()
        if earlier is not None:
            if earlier.safety_flagged:
                return _flagged_reply(interview=interview, safety=interview_safety_notice(interview=interview))
            if earlier.status == Turn.Status.PENDING:
                return interview_ask(interview=interview, chat=chat)
            return _replay(interview=interview, user_turn=earlier)

    pending = interview_pending_turn(interview=interview)
    is_retry = pending is not None and pending.role == Turn.Role.USER and pending.content == text
    if not is_retry and _answered_count(interview) < settings.INTERVIEW_MAX_TURNS:
        safety = _screen(interview=interview, text=text)
        if safety.flagged:
            return _save_flagged(interview=interview, text=text, idempotency_key=idempotency_key, safety=safety)

    if pending is not None and pending.role == Turn.Role.USER:
        if pending.content != text:
            # A new message while the last one still waits: keep both, answer them together.
            pending.content = f"{pending.content}\n\n{text}"
            pending.save(update_fields=["content", "updated_at"])
        return interview_ask(interview=interview, chat=chat)

    if _answered_count(interview) >= settings.INTERVIEW_MAX_TURNS:
        raise Conflict(
            "That was the last question: finish the interview to build your profile.", code="interview_max_turns"
        )
    Turn.objects.create(
        interview=interview,
        position=_next_position(interview),
        role=Turn.Role.USER,
        content=text,
        status=Turn.Status.PENDING,
        idempotency_key=idempotency_key[:100],
    )
    return interview_ask(interview=interview, chat=chat)


def _replay(*, interview: Interview, user_turn: Turn | None) -> InterviewReply:
    position = user_turn.position if user_turn is not None else -1
    question = interview.turns.filter(role=Turn.Role.INTERVIEWER, position__gt=position).order_by("position").first()
    if question is None:
        question = interview.turns.filter(role=Turn.Role.INTERVIEWER).order_by("-position").first()
    return InterviewReply(interview=interview, question=question)


def interview_ask(*, interview: Interview, chat: ChatProvider | None = None) -> InterviewReply:
    """Get the interviewer's turn for the current transcript and save it.

    Raises ProviderError, leaving the transcript (and any pending answer) as it was.
    """
    if not interview_needs_question(interview=interview):
        last_question = interview.turns.filter(role=Turn.Role.INTERVIEWER).order_by("-position").first()
        if last_question is not None:
            return InterviewReply(interview=interview, question=last_question)
    agent = InterviewAgent(chat or registry.chat(), max_turns=settings.INTERVIEW_MAX_TURNS)
    with provider_call_scope(interview=interview):
        step: InterviewStep = async_to_sync(agent.next_step)(
            transcript=interview_transcript(interview=interview),
            covered=interview.topics_covered,
            language=interview.language,
        )
    ensure_no_instructions(step.question, what="interviewer's question")
    # The persona replies' post-check, sentence by sentence: a rule-breaking sentence is replaced before it is stored.
    question_text, broken = check_output_text(
        step.question, language=step.language or interview.language or None, speaker=INTERVIEWER
    )
    with transaction.atomic():
        Interview.objects.select_for_update().filter(pk=interview.pk).first()
        if not interview_needs_question(interview=interview):
            # A concurrent retry answered first: keep its question rather than asking twice in a row.
            return InterviewReply(
                interview=Interview.objects.get(pk=interview.pk),
                question=interview.turns.filter(role=Turn.Role.INTERVIEWER).order_by("-position").first(),
            )
        interview.turns.filter(status=Turn.Status.PENDING).update(status=Turn.Status.ANSWERED)
        question = Turn.objects.create(
            interview=interview,
            position=_next_position(interview),
            role=Turn.Role.INTERVIEWER,
            content=question_text,
            provider_meta={
                "model": step.model,
                "output_check": [verdict.rule for verdict in broken],
                "topics_covered": step.topics_covered,
                "ready_to_complete": step.ready_to_complete,
                "limit_reached": step.limit_reached,
            },
        )
        interview.topics_covered = step.topics_covered
        interview.ready_to_complete = step.ready_to_complete
        if step.language:
            interview.language = step.language
        interview.save(update_fields=["topics_covered", "ready_to_complete", "language", "updated_at"])
    return InterviewReply(interview=interview, question=question)


def interview_mark_completed(*, interview: Interview) -> Interview:
    """Close the interview (idempotent). 409 when the person has not answered anything."""
    if interview.status == Interview.Status.COMPLETED:
        return interview
    if not interview.turns.filter(role=Turn.Role.USER).exclude(content="").exists():
        raise Conflict("Answer at least one question before finishing the interview.", code="nothing_answered")
    interview.status = Interview.Status.COMPLETED
    interview.completed_at = timezone.now()
    interview.save(update_fields=["status", "completed_at", "updated_at"])
    return interview


def interview_complete(*, interview: Interview, chat: ChatProvider | None = None) -> Profile:
    """Finish the interview and return its profile, building it if it has none yet.

    A retry after a provider failure finds the interview completed and builds the profile.
    """
    interview_mark_completed(interview=interview)
    latest = interview.profiles.order_by("-version").first()
    return latest or profile_build(interview=interview, chat=chat)


# --- profiles ------------------------------------------------------------------


def _corrections(latest: Profile | None) -> dict[str, Any]:
    if latest is None or not latest.edited_fields:
        return {}
    return {name: latest.data.get(name) for name in latest.edited_fields if name in latest.data}


def profile_build(*, interview: Interview, chat: ChatProvider | None = None) -> Profile:
    """A new profile version from the interview's current transcript.

    Fields the person corrected in an earlier version keep their correction.
    """
    if not interview.turns.filter(role=Turn.Role.USER).exclude(content="").exists():
        raise Conflict("There is nothing to build a profile from yet.", code="nothing_answered")
    latest = interview.profiles.order_by("-version").first()
    builder = ProfileBuilder(chat or registry.chat())
    with provider_call_scope(interview=interview):
        result = async_to_sync(builder.build)(
            transcript=interview_transcript(interview=interview), corrections=_corrections(latest)
        )
    ensure_no_instructions(result.data, what="profile")
    return _profile_save(
        interview=interview,
        data=result.data,
        dropped=result.dropped,
        edited_fields=list(latest.edited_fields) if latest else [],
        edited_by_user=False,
    )


def profile_build_from_transcript(
    *, owner: Owner, transcript: list[TranscriptEntry], chat: ChatProvider | None = None
) -> Profile:
    """Store an external frontend's transcript as an imported, completed interview and build its profile.

    The transcript is saved (in one transaction) before the provider is called, so a provider failure
    loses nothing and its ``ProviderCall`` is recorded against the interview. Sending the same transcript
    again continues with that interview, which has no profile yet, instead of importing it twice.
    """
    if not any(entry.role == "user" and entry.content.strip() for entry in transcript):
        raise InvalidInput("The transcript has no answer from the person.", code="empty_transcript")
    interview = _find_unbuilt_import(owner=owner, transcript=transcript)
    if interview is None:
        with transaction.atomic():
            interview = interview_create(owner=owner, source=Interview.Source.IMPORTED)
            Turn.objects.bulk_create(
                Turn(interview=interview, position=position, role=entry.role, content=entry.content)
                for position, entry in enumerate(transcript)
            )
            interview.status = Interview.Status.COMPLETED
            interview.completed_at = timezone.now()
            interview.save(update_fields=["status", "completed_at", "updated_at"])
    return profile_build(interview=interview, chat=chat)


def _find_unbuilt_import(*, owner: Owner, transcript: list[TranscriptEntry]) -> Interview | None:
    """The import of this same transcript an earlier, failed attempt left without a profile."""
    wanted = [(entry.role, entry.content) for entry in transcript]
    candidates = Interview.objects.filter(
        source=Interview.Source.IMPORTED,
        profiles__isnull=True,
        created_at__gte=timezone.now() - START_RETRY_WINDOW,
        **owner.filter_kwargs(),
    ).order_by("-created_at")[:5]
    for candidate in candidates:
        if list(candidate.turns.order_by("position").values_list("role", "content")) == wanted:
            return candidate
    return None


def profile_update(*, profile: Profile, changes: dict[str, Any]) -> Profile:
    """Save the person's corrections as a new version, ``edited_by_user``.

    Corrections apply on top of the interview's latest version (so no earlier
    correction is lost); ``dilemma`` may be given in part. Invalid fields: 422.
    """
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("Nothing to change: send the fields to correct in `data`.", code="empty_changes")
    interview = profile.interview
    base = interview.profiles.order_by("-version").first() or profile
    merged = dict(base.data)
    for name, value in changes.items():
        if name == "dilemma" and isinstance(value, dict) and isinstance(merged.get("dilemma"), dict):
            value = {**merged["dilemma"], **value}
        merged[name] = value
    try:
        data = ProfileData.model_validate(merged)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise InvalidInput(f"Invalid profile field: {detail}", code="invalid_profile")
    edited = list(dict.fromkeys([*base.edited_fields, *changes.keys()]))
    return _profile_save(interview=interview, data=data, dropped=[], edited_fields=edited, edited_by_user=True)


@transaction.atomic
def _profile_save(
    *,
    interview: Interview,
    data: ProfileData,
    dropped: list[dict[str, Any]],
    edited_fields: list[str],
    edited_by_user: bool,
) -> Profile:
    # Lock the interview row so two builds cannot take the same version number.
    Interview.objects.select_for_update().filter(pk=interview.pk).first()
    top = interview.profiles.aggregate(top=Max("version"))["top"] or 0
    return Profile.objects.create(
        interview=interview,
        version=top + 1,
        data=data.model_dump(mode="json"),
        dropped_items=dropped,
        edited_fields=edited_fields,
        edited_by_user=edited_by_user,
    )
