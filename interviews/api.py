"""Interview and profile endpoints under ``/api``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ninja import Router, Schema

from futureself.ownership import Owner
from interviews.selectors import interview_get_for_owner

router = Router(tags=["interview"])


class TurnOut(Schema):
    id: uuid.UUID
    position: int
    role: Literal["interviewer", "user"]
    content: str
    status: Literal["pending", "answered"]
    created_at: datetime


class InterviewOut(Schema):
    interview_id: uuid.UUID
    status: Literal["in_progress", "completed"]
    source: str
    created_at: datetime
    completed_at: datetime | None
    topics_covered: list[str]
    turns: list[TurnOut]


@router.get("/interview/{interview_id}", response=InterviewOut, summary="An interview with its transcript")
def interview_detail(request, interview_id: uuid.UUID):
    owner: Owner = request.auth
    interview = interview_get_for_owner(owner=owner, pk=interview_id)
    return {
        "interview_id": interview.id,
        "status": interview.status,
        "source": interview.source,
        "created_at": interview.created_at,
        "completed_at": interview.completed_at,
        "topics_covered": interview.topics_covered,
        "turns": list(interview.turns.all()),
    }
