"""JSON shapes of the interview app: the profile, and the API's requests and replies.

``ProfileData`` is the single definition of a profile: the LLM's structured
output, the stored ``Profile.data`` and the API's ``data`` field all use it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Evidenced(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The item, in a short phrase.")
    evidence: str = Field(description="A verbatim quote from the person's own answers that shows this item.")


class Relationship(Evidenced):
    name: str = Field(description="Who: a name or a role such as 'my sister'.")
    relation: str = Field(description="How they relate to the person.")


class Dilemma(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(default="", description="The decision the person faces, in one sentence.")
    options: list[str] = Field(default_factory=list, description="The paths the person is choosing between.")


class ProfileData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    pronouns: str | None = None
    location: str | None = None
    occupation: str | None = None
    life_situation: str | None = None
    values: list[Evidenced] = Field(default_factory=list)
    goals: list[Evidenced] = Field(default_factory=list)
    fears: list[Evidenced] = Field(default_factory=list)
    strengths: list[Evidenced] = Field(default_factory=list)
    challenges: list[Evidenced] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)
    turning_points: list[Evidenced] = Field(default_factory=list)
    communication_style: str | None = None
    dilemma: Dilemma = Field(default_factory=Dilemma)
    boundaries: list[Evidenced] = Field(
        default_factory=list, description="Topics the person does not want touched, with their words."
    )


EVIDENCED_LIST_FIELDS: tuple[str, ...] = (
    "values",
    "goals",
    "fears",
    "strengths",
    "challenges",
    "relationships",
    "turning_points",
    "boundaries",
)


class TranscriptEntry(BaseModel):
    role: Literal["interviewer", "user"]
    content: str = Field(max_length=4000)


class ProfileOut(BaseModel):
    profile_id: uuid.UUID
    interview_id: uuid.UUID
    version: int
    edited_by_user: bool
    created_at: datetime
    data: ProfileData
