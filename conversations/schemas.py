"""JSON shapes of conversations and debriefs (API, LLM structured output, stored JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PathComparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="The path one of the selves took.")
    gains: list[str] = Field(default_factory=list, description="Gains of this path, in the person's own words.")
    costs: list[str] = Field(default_factory=list, description="Costs of this path, in the person's own words.")


class DebriefData(BaseModel):
    """The debrief, as generated and as stored in ``Debrief.data``."""

    model_config = ConfigDict(extra="forbid")

    summary: str
    insights: list[str] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    questions_to_reflect: list[str] = Field(default_factory=list)
    comparison: list[PathComparison] = Field(
        default_factory=list,
        description="One entry per path when the person talked with several selves of the same dilemma.",
    )


class SummarizeIn(BaseModel):
    conversation_id: uuid.UUID


class DebriefOut(DebriefData):
    model_config = ConfigDict(extra="ignore")

    conversation_id: uuid.UUID
    created_at: datetime


class MessageOut(BaseModel):
    id: uuid.UUID
    position: int
    role: str
    text: str
    input_mode: str
    interrupted: bool
    timings: dict[str, Any]
    created_at: datetime


class ConversationOut(BaseModel):
    id: uuid.UUID
    future_self_id: uuid.UUID
    status: str
    created_at: datetime
    ended_at: datetime | None
    stream_path: str
    messages: list[MessageOut]
    debrief: DebriefOut | None = None
