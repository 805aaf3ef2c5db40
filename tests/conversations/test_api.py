"""/api/conversation/summarize and /api/conversation/{id}."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Debrief
from futureself.providers.base import ProviderUnavailable
from tests.builders import make_conversation, make_future_self

pytestmark = pytest.mark.django_db

SUMMARIZE = "/api/conversation/summarize"


@pytest.fixture
def talked(alice_self):
    return make_conversation(
        future_self=alice_self,
        messages=[
            ("user", "I would love leading a ward. But I am afraid of being lonely without Lea."),
            ("future_self", "I understand. The first winter was the hardest."),
        ],
    )


def test_it_writes_the_debrief_and_ends_the_conversation(alice_api, talked):
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)})
    assert response.status_code == 200
    body = response.json()
    assert body["conversation_id"] == str(talked.pk)
    assert set(body) >= {"summary", "insights", "advice", "next_steps", "questions_to_reflect", "created_at"}
    assert 'You said: "But I am afraid of being lonely without Lea."' in body["insights"]
    assert body["comparison"] == []
    talked.refresh_from_db()
    assert talked.status == Conversation.Status.ENDED
    assert talked.ended_at is not None
    assert Debrief.objects.get(conversation=talked).data["summary"] == body["summary"]


def test_summarizing_again_returns_the_same_debrief(alice_api, talked):
    first = alice_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)}).json()
    second = alice_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)}).json()
    assert first == second
    assert Debrief.objects.filter(conversation=talked).count() == 1


def test_it_answers_409_when_nothing_was_said(alice_api, conversation):
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(conversation.pk)})
    assert response.status_code == 409
    assert response.json()["code"] == "empty"
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE


def test_it_compares_the_paths_when_the_person_talked_with_two_selves(alice_api, alice_self):
    make_conversation(
        future_self=alice_self,
        messages=[("user", "I would love leading a ward. But I am afraid of being lonely without Lea.")],
    )
    stay = make_future_self(path="Stay in Lyon", owner=alice_self.profile.interview.owner)
    stay.generation_id = alice_self.generation_id
    stay.save()
    conversation = make_conversation(
        future_self=stay,
        messages=[("user", "Staying feels safe and close to home. I would miss the challenge though.")],
    )
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(conversation.pk)})
    assert response.status_code == 200
    body = response.json()
    by_path = {item["path"]: item for item in body["comparison"]}
    assert by_path["Stay in Lyon"] == {
        "path": "Stay in Lyon",
        "gains": ["Staying feels safe and close to home."],
        "costs": ["I would miss the challenge though."],
    }
    assert by_path["Move to Montreal"]["costs"] == ["But I am afraid of being lonely without Lea."]
    assert "2 paths" in body["summary"]
    assert len(body["next_steps"]) == 1


def test_the_debrief_prompt_carries_both_conversations_as_data(alice_api, alice_self, fake_chat):
    make_conversation(future_self=alice_self, messages=[("user", "Montreal scares me.")])
    stay = make_future_self(profile=alice_self.profile, path="Stay in Lyon")
    conversation = make_conversation(future_self=stay, messages=[("user", "Lyon is home.")])
    fake_chat.enqueue({"summary": "Two paths.", "next_steps": ["Call the Montreal ward."]})
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(conversation.pk)})
    assert response.status_code == 200
    request = fake_chat.calls[-1]
    assert request.task == "debrief"
    system, user = request.messages
    assert "compare them" in system.content
    assert "Lyon is home." not in system.content
    assert "<what_the_person_said>" in user.content
    assert "Lyon is home." in user.content
    assert "<other_paths_explored>" in user.content
    assert "Montreal scares me." in user.content
    assert [o["path"] for o in request.context["other_paths"]] == ["Move to Montreal"]


RISKY = "Honestly I want to kill myself tonight."
RISKY_SIBLING = "I have been thinking about ending my life."


def _flag(conversation, text: str) -> None:
    conversation.messages.filter(text=text).update(safety_flagged=True)


def test_the_debrief_never_sends_a_safety_flagged_message_to_the_model(alice_api, alice_self, fake_chat):
    sibling = make_conversation(
        future_self=alice_self, messages=[("user", "Montreal scares me."), ("user", RISKY_SIBLING)]
    )
    _flag(sibling, RISKY_SIBLING)
    stay = make_future_self(profile=alice_self.profile, path="Stay in Lyon")
    conversation = make_conversation(future_self=stay, messages=[("user", "Lyon is home."), ("user", RISKY)])
    _flag(conversation, RISKY)
    fake_chat.enqueue({"summary": "Two paths.", "next_steps": ["Call the Montreal ward."]})
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(conversation.pk)})
    assert response.status_code == 200
    request = fake_chat.calls[-1]
    sent = "\n".join(m.content for m in request.messages)
    assert "Lyon is home." in sent
    assert "Montreal scares me." in sent
    assert RISKY not in sent
    assert RISKY_SIBLING not in sent
    assert request.context["person_messages"] == ["Lyon is home."]
    assert request.context["other_paths"][0]["person_messages"] == ["Montreal scares me."]


def test_it_answers_409_when_every_message_of_the_person_was_safety_flagged(alice_api, alice_self, fake_chat):
    conversation = make_conversation(future_self=alice_self, messages=[("user", RISKY)])
    _flag(conversation, RISKY)
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(conversation.pk)})
    assert response.status_code == 409
    assert response.json()["code"] == "empty"
    assert fake_chat.calls == []
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE


def test_a_provider_failure_is_a_retryable_503_and_the_conversation_stays_open(alice_api, talked, fake_chat):
    fake_chat.enqueue(ProviderUnavailable("down", provider="fake"))
    response = alice_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)})
    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert response.json()["retryable"] is True
    talked.refresh_from_db()
    assert talked.status == Conversation.Status.ACTIVE
    assert not Debrief.objects.filter(conversation=talked).exists()


def test_it_returns_404_for_another_users_conversation(bob_api, talked):
    assert bob_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)}).status_code == 404
    assert bob_api.get(f"/api/conversation/{talked.pk}").status_code == 404


def test_it_returns_401_without_credentials(anon_api, talked):
    assert anon_api.post(SUMMARIZE, {"conversation_id": str(talked.pk)}).status_code == 401
    assert anon_api.get(f"/api/conversation/{talked.pk}").status_code == 401


def test_a_malformed_conversation_id_is_422(alice_api):
    assert alice_api.post(SUMMARIZE, {"conversation_id": "nope"}).status_code == 422


def test_get_returns_the_messages_with_their_timings(alice_api, alice_self):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Hi")])
    conversation.messages.create(
        position=1,
        role="future_self",
        text="Hello",
        interrupted=True,
        timings={"llm_first_token_ms": 120, "total_ms": 800},
    )
    response = alice_api.get(f"/api/conversation/{conversation.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"
    assert body["stream_path"] == f"/conversation/stream?conversation_id={conversation.pk}"
    assert [(m["role"], m["text"], m["interrupted"]) for m in body["messages"]] == [
        ("user", "Hi", False),
        ("future_self", "Hello", True),
    ]
    assert body["messages"][1]["timings"] == {"llm_first_token_ms": 120, "total_ms": 800}
    assert body["debrief"] is None
