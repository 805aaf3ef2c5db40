"""JSON shapes of the interview app: the profile, and the API's requests and replies.

``ProfileData`` is the single definition of a profile: the LLM's structured
output, the stored ``Profile.data`` and the API's ``data`` field all use it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from futureself.safety.schemas import SafetyOut


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


PROFILE_SCALAR_FIELDS: tuple[str, ...] = (
    "name",
    "age",
    "pronouns",
    "location",
    "occupation",
    "life_situation",
    "communication_style",
)


class ProfileOut(BaseModel):
    profile_id: uuid.UUID
    interview_id: uuid.UUID
    version: int
    edited_by_user: bool
    edited_fields: list[str] = Field(
        default_factory=list, description="Fields holding the person's own corrections (kept by later builds)."
    )
    created_at: datetime
    data: ProfileData


# --- the interview -----------------------------------------------------------

TopicSlug = Literal[
    "present_life",
    "dilemma",
    "values",
    "relationships",
    "work_money",
    "hopes",
    "fears",
    "health_habits",
    "turning_points",
]


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True)

    slug: TopicSlug
    label: str
    hint: str


# The interviewer's plan, in the order it usually follows. The dilemma comes
# early: everything after it is asked in its light.
TOPIC_PLAN: tuple[Topic, ...] = (
    Topic(slug="present_life", label="Present life and identity", hint="name, age, where they live, what they do"),
    Topic(slug="dilemma", label="The dilemma", hint="the decision they face and the options they weigh"),
    Topic(slug="values", label="Values", hint="what matters most to them"),
    Topic(slug="relationships", label="Relationships", hint="the people closest to them"),
    Topic(slug="work_money", label="Work and money", hint="their work, career and financial situation"),
    Topic(slug="hopes", label="Hopes", hint="what they hope their life becomes"),
    Topic(slug="fears", label="Fears", hint="what worries them about the future"),
    Topic(slug="health_habits", label="Health and habits", hint="energy, sleep, body, routines"),
    Topic(slug="turning_points", label="Turning points", hint="moments that changed their direction"),
)
TOPIC_SLUGS: tuple[str, ...] = tuple(t.slug for t in TOPIC_PLAN)
TOPIC_LABELS: dict[str, str] = {t.slug: t.label for t in TOPIC_PLAN}


class InterviewStepOutput(BaseModel):
    """One interviewer turn, as the chat provider returns it (structured output)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="What the interviewer says next: one warm, concise question.")
    topics_covered: list[TopicSlug] = Field(
        description="Every topic of the plan the person has now answered well enough, including earlier ones."
    )
    ready_to_complete: bool = Field(description="True when there is enough to build a useful profile.")
    language: str = Field(description="ISO 639-1 code of the language the person writes in, e.g. 'en' or 'fr'.")


class RespondIn(BaseModel):
    interview_id: uuid.UUID | None = None
    message: str = Field(default="", max_length=4000)


class RespondOut(BaseModel):
    interview_id: uuid.UUID
    status: Literal["in_progress", "completed"]
    question: str
    turn: int = Field(description="How many questions the interviewer has asked, this one included.")
    topics_covered: list[str]
    progress: float = Field(ge=0, le=1)
    ready_to_complete: bool
    safety: SafetyOut = Field(
        description=(
            "Whether the crisis check fired on this answer. When `flagged`, the interviewer was not asked: show "
            "`message` and `resources`; `question` is then the pending question asked again, gently."
        )
    )


class InterviewRef(BaseModel):
    interview_id: uuid.UUID


class CompleteOut(BaseModel):
    interview_id: uuid.UUID
    status: Literal["completed"]
    profile: ProfileOut


class BuildIn(BaseModel):
    interview_id: uuid.UUID | None = None
    transcript: list[TranscriptEntry] | None = Field(default=None, max_length=400)


class ProfilePatchIn(BaseModel):
    data: dict = Field(description="Only the fields to change; each is validated as in ProfileData.")
