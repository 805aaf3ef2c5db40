"""Drives one whole session through the web pages with the offline providers: interview,
profile, future selves, a conversation and its debrief, the data pages. Tests walk the
pages it visits (CSP, escaping) or watch what it logs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.http import HttpResponse
from django.test import Client

from conversations.models import Conversation
from conversations.services import message_add_reply, message_add_user
from interviews.models import Interview, Profile
from personas.models import FutureSelf
from tests.builders import SAMPLE_ANSWERS

CONVERSATION_LINES = [
    "What did you miss most in the first winter?",
    "Was it worth it, for Tom and for you?",
]


@dataclass
class Visit:
    label: str
    url: str
    response: HttpResponse


@dataclass
class Session:
    visits: list[Visit] = field(default_factory=list)
    interview: Interview | None = None
    profile: Profile | None = None
    future_self: FutureSelf | None = None
    conversation: Conversation | None = None

    def html_visits(self) -> list[Visit]:
        return [v for v in self.visits if v.response.get("Content-Type", "").startswith("text/html")]


def run_offline_session(client: Client, *, answers: list[str] = SAMPLE_ANSWERS) -> Session:
    session = Session()

    def visit(label: str, method: str, url: str, data=None, **extra) -> HttpResponse:
        response = getattr(client, method)(url, data or {}, **extra)
        assert response.status_code < 400, (label, url, response.status_code, response.content[:500])
        session.visits.append(Visit(label, url, response))
        return response

    htmx = {"HTTP_HX_REQUEST": "true"}
    visit("home", "get", "/")
    started = visit("interview start", "post", "/interview/start/", {"adult": "on"})
    interview_url = started["Location"]
    session.interview = Interview.objects.get(pk=interview_url.strip("/").split("/")[-1])
    pk = session.interview.pk
    visit("interview", "get", interview_url)
    visit("interview first question", "post", f"/interview/{pk}/ask/", **htmx)
    for answer in answers:
        visit("interview answer", "post", f"/interview/{pk}/answer/", {"message": answer}, **htmx)
    visit("interview finish", "post", f"/interview/{pk}/finish/")
    visit("interview completed", "get", interview_url)
    visit("profile build", "post", f"/interview/{pk}/build/", **htmx)
    session.profile = Profile.objects.filter(interview=session.interview).order_by("-version").first()
    profile_pk = session.profile.pk
    visit("profile", "get", f"/profile/{profile_pk}/")
    visit("profile field form", "get", f"/profile/{profile_pk}/field/name/", **htmx)
    visit("generate form", "get", f"/futures/generate/{profile_pk}/")
    dilemma = session.profile.data.get("dilemma") or {}
    generated = visit(
        "generate",
        "post",
        f"/futures/generate/{profile_pk}/",
        {
            "dilemma": dilemma.get("summary") or "Move to Montreal or stay in Lyon",
            "options": dilemma.get("options") or ["Move to Montreal", "Stay in Lyon"],
            "years_ahead": "10",
        },
    )
    futures_url = generated["Location"]
    visit("futures", "get", futures_url)
    generation_id = futures_url.strip("/").split("/")[-1]
    visit("avatars", "get", f"/futures/{generation_id}/avatars/", **htmx)
    session.future_self = FutureSelf.objects.filter(generation_id=generation_id).order_by("position").first()
    talk = visit("talk", "post", f"/selves/{session.future_self.pk}/talk")
    conversation_url = talk["Location"]
    session.conversation = Conversation.objects.get(pk=conversation_url.strip("/").split("/")[-1])
    for line in CONVERSATION_LINES:
        message_add_user(conversation_id=session.conversation.pk, text=line)
        message_add_reply(
            conversation_id=session.conversation.pk,
            message_id=uuid.uuid4(),
            text="It was hard at first, and then it was mine.",
            interrupted=False,
            timings={},
        )
    visit("conversation", "get", conversation_url)
    visit("end and debrief", "post", f"/conversations/{session.conversation.pk}/end/")
    visit("debrief", "get", f"/conversations/{session.conversation.pk}/debrief/")
    visit("data page", "get", "/me/")
    visit("export, readable", "get", "/me/export/")
    visit("export, json", "get", "/me/export.json")
    visit("delete everything form", "get", "/me/delete/")
    visit("delete interview form", "get", f"/interview/{pk}/delete/")
    visit("delete conversation form", "get", f"/conversations/{session.conversation.pk}/delete/")
    return session
