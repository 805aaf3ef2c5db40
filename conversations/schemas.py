"""JSON shapes of conversations and debriefs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DebriefData(BaseModel):
    """The debrief, as generated and as stored in ``Debrief.data``."""

    model_config = ConfigDict(extra="forbid")

    summary: str
    insights: list[str] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    questions_to_reflect: list[str] = Field(default_factory=list)
