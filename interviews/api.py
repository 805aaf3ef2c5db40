"""Interview and profile endpoints under ``/api``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from futureself.api_errors import PROVIDER, WRITE, errors
from futureself.errors import InvalidInput
from futureself.limits import payload_text, provider_backed
from futureself.ownership import Owner
from futureself.privacy import interview_delete
from interviews import services
from interviews.engines import topic_progress
from interviews.models import Interview, Profile
from interviews.schemas import (
    BuildIn,
    CompleteOut,
    InterviewRef,
    ProfileOut,
    ProfilePatchIn,
    RespondIn,
    RespondOut,
)
from interviews.selectors import interview_get_for_owner, profile_get_for_owner, profile_latest

router = Router(tags=["interview"])


class TurnOut(Schema):
    id: uuid.UUID
    position: int
    role: Literal["interviewer", "user"]
    content: str
    status: Literal["pending", "answered"]
    safety_flagged: bool = Field(
        default=False, description="The crisis check fired on this answer: it was never sent to the interviewer."
    )
    created_at: datetime


class InterviewOut(Schema):
    interview_id: uuid.UUID
    status: Literal["in_progress", "completed"]
    source: str
    language: str
    created_at: datetime
    completed_at: datetime | None
    topics_covered: list[str]
    progress: float
    ready_to_complete: bool
    profile_id: uuid.UUID | None
    turns: list[TurnOut]


def profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        profile_id=profile.id,
        interview_id=profile.interview_id,
        version=profile.version,
        edited_by_user=profile.edited_by_user,
        edited_fields=profile.edited_fields,
        created_at=profile.created_at,
        data=profile.data,
    )


def _idempotency_key(request: HttpRequest) -> str:
    return request.headers.get("Idempotency-Key", "").strip()


def _reply_out(reply: services.InterviewReply) -> RespondOut:
    interview = reply.interview
    return RespondOut(
        interview_id=interview.id,
        status=interview.status,
        question=reply.question_text,
        turn=reply.turn,
        topics_covered=interview.topics_covered,
        progress=reply.progress,
        ready_to_complete=interview.ready_to_complete,
        safety=reply.safety,
    )


@router.post(
    "/interview/respond",
    response={200: RespondOut, **errors(*WRITE, 404, 409, 422, *PROVIDER, 429)},
    summary="Answer the interviewer (or start an interview) and get the next question",
    description=(
        "`interview_id: null` starts an interview; `message` may then be empty. The answer is saved before the "
        "interviewer is asked: after a 503, send the same request again (same text or same `Idempotency-Key` "
        "header) and the pending answer is answered, not duplicated."
    ),
)
@provider_backed("provider", crisis_text=payload_text("message"))
def interview_respond(request, payload: RespondIn):
    owner: Owner = request.auth
    key = _idempotency_key(request)
    if payload.interview_id is None:
        reply = services.interview_start(
            owner=owner, message=payload.message, idempotency_key=key, source=Interview.Source.API
        )
    else:
        interview = interview_get_for_owner(owner=owner, pk=payload.interview_id)
        reply = services.interview_respond(interview=interview, message=payload.message, idempotency_key=key)
    return _reply_out(reply)


@router.post(
    "/interview/complete",
    response={200: CompleteOut, **errors(*WRITE, 404, 409, 422, *PROVIDER, 429)},
    summary="Finish the interview and build its profile",
)
@provider_backed("generation")
def interview_complete(request, payload: InterviewRef):
    owner: Owner = request.auth
    interview = interview_get_for_owner(owner=owner, pk=payload.interview_id)
    profile = services.interview_complete(interview=interview)
    return CompleteOut(interview_id=interview.id, status="completed", profile=profile_out(profile))


@router.post(
    "/profile/build",
    response={200: ProfileOut, **errors(*WRITE, 404, 409, 422, *PROVIDER, 429)},
    summary="Build a new profile version",
    description=(
        "Either `interview_id` (a new version from that interview's transcript) or `transcript` (an external "
        "frontend's transcript, stored as an imported, completed interview)."
    ),
)
@provider_backed("generation")
def profile_build(request, payload: BuildIn):
    owner: Owner = request.auth
    if (payload.interview_id is None) == (payload.transcript is None):
        raise InvalidInput("Send either `interview_id` or `transcript`.", code="invalid_build_request")
    if payload.interview_id is not None:
        interview = interview_get_for_owner(owner=owner, pk=payload.interview_id)
        profile = services.profile_build(interview=interview)
    else:
        profile = services.profile_build_from_transcript(owner=owner, transcript=payload.transcript)
    return profile_out(profile)


@router.get(
    "/interview/{interview_id}",
    response={200: InterviewOut, **errors(404, 422)},
    summary="An interview with its transcript",
)
def interview_detail(request, interview_id: uuid.UUID):
    owner: Owner = request.auth
    interview = interview_get_for_owner(owner=owner, pk=interview_id)
    latest = profile_latest(interview=interview)
    return {
        "interview_id": interview.id,
        "status": interview.status,
        "source": interview.source,
        "language": interview.language,
        "created_at": interview.created_at,
        "completed_at": interview.completed_at,
        "topics_covered": interview.topics_covered,
        "progress": topic_progress(interview.topics_covered),
        "ready_to_complete": interview.ready_to_complete,
        "profile_id": latest.id if latest else None,
        "turns": list(interview.turns.order_by("position")),
    }


@router.get("/profile/{profile_id}", response={200: ProfileOut, **errors(404, 422)}, summary="A profile version")
def profile_detail(request, profile_id: uuid.UUID):
    owner: Owner = request.auth
    return profile_out(profile_get_for_owner(owner=owner, pk=profile_id))


@router.patch(
    "/profile/{profile_id}",
    response={200: ProfileOut, **errors(*WRITE, 404, 422)},
    summary="Correct profile fields",
    description=(
        "`data` holds only the fields to change. The result is a new version, `edited_by_user: true`, and later "
        "builds keep these corrections."
    ),
)
def profile_patch(request, profile_id: uuid.UUID, payload: ProfilePatchIn):
    owner: Owner = request.auth
    profile = profile_get_for_owner(owner=owner, pk=profile_id)
    return profile_out(services.profile_update(profile=profile, changes=payload.data))


@router.delete(
    "/interview/{interview_id}",
    response={204: None, **errors(403, 404, 422)},
    summary="Delete an interview with everything made from it",
    description="Its transcript, profiles, future selves (and their portraits), conversations and debriefs.",
)
def interview_remove(request, interview_id: uuid.UUID):
    interview_delete(interview=interview_get_for_owner(owner=request.auth, pk=interview_id))
    return Status(204, None)
