"""The interviewer's questions get the same output post-check as the persona's reply sentences."""

from __future__ import annotations

import pytest

from futureself.providers import registry
from futureself.safety.output import CERTAINTY, INTERVIEWER_REPLACEMENTS, INVITATION, REPLACEMENTS
from interviews.models import Turn
from tests.fakes.providers import FakeChat
from tests.interviews.conftest import step

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat():
    chat = FakeChat(fallback_offline=True)
    with registry.use_providers(chat=chat):
        yield chat


def ask(api, chat, question: str, *, language: str = "en") -> dict:
    first = api.post("/api/interview/respond", {"interview_id": None, "message": ""}).json()
    chat.enqueue(step(question, language=language))
    response = api.post("/api/interview/respond", {"interview_id": first["interview_id"], "message": "I'm Maya."})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_question_promising_the_future_is_replaced_before_it_is_stored_or_shown(alice_api, chat):
    body = ask(alice_api, chat, "You will definitely be happier in Montreal. What do you do for a living?")

    expected = f"{REPLACEMENTS[CERTAINTY]['en']} What do you do for a living?"
    assert body["question"] == expected
    stored = Turn.objects.filter(role="interviewer").order_by("-position").first()
    assert stored.content == expected
    assert stored.provider_meta["output_check"] == [CERTAINTY]


def test_an_invitation_to_join_is_replaced_with_what_the_interviewer_is(alice_api, chat):
    body = ask(alice_api, chat, "Come and join me here, it is peaceful. Where do you live now?")

    assert body["question"] == f"{INTERVIEWER_REPLACEMENTS[INVITATION]['en']} Where do you live now?"
    assert "join me" not in body["question"]
    # Not the persona's replacement: the interviewer is not "one possible version of you".
    assert REPLACEMENTS[INVITATION]["en"] not in body["question"]


def test_a_french_question_gets_a_french_replacement(alice_api, chat):
    body = ask(alice_api, chat, "Je te garantis que tout ira bien. Où vivez-vous ?", language="fr")
    assert body["question"] == f"{REPLACEMENTS[CERTAINTY]['fr']} Où vivez-vous ?"


def test_an_ordinary_question_is_stored_as_written(alice_api, chat):
    body = ask(alice_api, chat, "Thank you, Maya. What is holding you back from choosing?")
    assert body["question"] == "Thank you, Maya. What is holding you back from choosing?"
    stored = Turn.objects.filter(role="interviewer").order_by("-position").first()
    assert stored.provider_meta["output_check"] == []
