"""The JSON shapes of a safety answer, in the API and on the WebSocket."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class CrisisResource(BaseModel):
    name: str
    contact: str


class SafetyOut(BaseModel):
    """Carried by every interview and conversation reply: did the check fire, and what to show."""

    flagged: bool
    message: str | None = None
    resources: list[CrisisResource] = []


class SafetyEventOut(BaseModel):
    """Sent on the conversation socket in place of the persona's reply."""

    type: Literal["safety"] = "safety"
    message: str
    resources: list[CrisisResource]
