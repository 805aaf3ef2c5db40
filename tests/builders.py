"""Small builders for the objects tests need, with sensible defaults."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from conversations.models import Conversation, Message
from interviews.models import Interview, Profile, Turn
from personas.models import FutureSelf

SAMPLE_ANSWERS = [
    "I'm Maya, 34, I live in Lyon and work as a nurse in a children's hospital.",
    "Family matters most to me, and honesty. I want my work to help people.",
    "My partner Tom and my sister Lea are the people closest to me.",
    "I've been offered a job in Montreal, leading a pediatric ward, but Tom's career is here.",
    "I'm afraid of regretting not trying, and afraid of being lonely far from Lea.",
    "I don't want to talk about my father.",
]


def make_interview(*, owner=None, guest_key: str = "", answers: list[str] | None = None, **fields: Any) -> Interview:
    interview = Interview.objects.create(owner=owner, guest_key="" if owner else guest_key, **fields)
    position = 0
    for answer in answers or []:
        Turn.objects.create(interview=interview, position=position, role="interviewer", content="Tell me more?")
        Turn.objects.create(interview=interview, position=position + 1, role="user", content=answer)
        position += 2
    return interview


def sample_profile_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Maya",
        "age": 34,
        "pronouns": "she/her",
        "location": "Lyon",
        "occupation": "nurse",
        "life_situation": "Lives with her partner Tom in Lyon.",
        "values": [{"text": "family", "evidence": "Family matters most to me"}],
        "goals": [{"text": "help people through work", "evidence": "I want my work to help people."}],
        "fears": [{"text": "regret", "evidence": "I'm afraid of regretting not trying"}],
        "strengths": [],
        "challenges": [],
        "relationships": [
            {"name": "Tom", "relation": "partner", "text": "partner", "evidence": "My partner Tom"},
            {"name": "Lea", "relation": "sister", "text": "sister", "evidence": "my sister Lea"},
        ],
        "turning_points": [],
        "communication_style": "direct and warm",
        "dilemma": {
            "summary": "Take the job in Montreal or stay in Lyon",
            "options": ["Move to Montreal", "Stay in Lyon"],
        },
        "boundaries": [{"text": "her father", "evidence": "I don't want to talk about my father."}],
    }
    data.update(overrides)
    return data


def make_profile(*, interview: Interview | None = None, owner=None, version: int = 1, **overrides: Any) -> Profile:
    interview = interview or make_interview(owner=owner, answers=SAMPLE_ANSWERS, status="completed")
    return Profile.objects.create(interview=interview, version=version, data=sample_profile_data(**overrides))


def sample_card(path: str = "Move to Montreal", **overrides: Any) -> dict[str, Any]:
    card = {
        "path": path,
        "years_ahead": 10,
        "age": 44,
        "title": f"Maya who chose: {path}",
        "tagline": "I found my footing, and it cost me something.",
        "backstory": "Ten years on, I lead a ward and call Lea every Sunday.",
        "memories": [
            {"text": "The first night shift I led alone.", "kind": "imagined", "source": None},
            {"text": "Telling Tom I wanted to try.", "kind": "grounded", "source": "relationships: Tom"},
            {"text": "Holding a child's hand during a storm.", "kind": "grounded", "source": "goals: help people"},
        ],
        "gains": ["A ward of my own"],
        "costs": ["Seeing Lea twice a year"],
        "personality": "steady, warm, a little tired",
        "speaking_style": "short sentences, gentle humour",
        "voice_id": "voice-middle-neutral",
        "avatar_prompt": "A 44-year-old nurse, calm, winter light",
        "unexpected": False,
    }
    card.update(overrides)
    return card


def make_future_self(
    *, profile: Profile | None = None, owner=None, path: str = "Move to Montreal", **card: Any
) -> FutureSelf:
    profile = profile or make_profile(owner=owner)
    data = sample_card(path, **card)
    return FutureSelf.objects.create(
        profile=profile,
        dilemma=profile.data["dilemma"]["summary"],
        path=path,
        years_ahead=data["years_ahead"],
        card=data,
        voice_id=data["voice_id"] or "",
        voice_name="Alex",
    )


def make_conversation(
    *, future_self: FutureSelf | None = None, owner=None, messages: list[tuple[str, str]] = ()
) -> Conversation:
    future_self = future_self or make_future_self(owner=owner)
    future_self.selected_at = timezone.now()
    future_self.save(update_fields=["selected_at"])
    conversation = Conversation.objects.create(future_self=future_self)
    for position, (role, text) in enumerate(messages):
        Message.objects.create(conversation=conversation, position=position, role=role, text=text)
    return conversation
