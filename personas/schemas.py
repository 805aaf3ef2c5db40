"""JSON shapes of future selves: the generator's structured output and the API's card."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Memory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="A concrete memory, first person, as this future self remembers it.")
    kind: Literal["grounded", "imagined"]
    source: str | None = Field(
        default=None, description="For grounded memories: the profile item it builds on, e.g. 'values: family'."
    )


class CardData(BaseModel):
    """One future self, as generated and as stored in ``FutureSelf.card``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="The choice this self made.")
    years_ahead: int = Field(ge=1, le=40)
    age: int | None = Field(default=None, ge=0, le=170)
    title: str
    tagline: str
    backstory: str
    memories: list[Memory] = Field(min_length=3, max_length=6)
    gains: list[str] = Field(min_length=1)
    costs: list[str] = Field(min_length=1)
    personality: str
    speaking_style: str
    voice_id: str | None = Field(default=None, description="One voice_id from the voices given, fitting this self.")
    avatar_prompt: str
    unexpected: bool = Field(default=False, description="True for the optional unexpected third path.")


class GeneratedSelves(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selves: list[CardData]


class VoiceOut(BaseModel):
    voice_id: str
    name: str


class SelfCard(BaseModel):
    id: uuid.UUID
    profile_id: uuid.UUID
    path: str
    years_ahead: int
    age: int | None
    title: str
    tagline: str
    backstory: str
    memories: list[Memory]
    gains: list[str]
    costs: list[str]
    personality: str
    speaking_style: str
    voice: VoiceOut
    avatar_url: str | None
    selected: bool
    unexpected: bool = False
    created_at: datetime
