"""The interview and profile flow through the real Mistral adapter, against the local vendor fake."""

from __future__ import annotations

import pytest

from futureself.models import ProviderCall
from interviews.models import Interview, Profile, Turn
from tests.vendor_fakes.server import Fault

pytestmark = pytest.mark.django_db

RESPOND = "/api/interview/respond"


@pytest.fixture
def mistral(settings, request):
    fake = request.getfixturevalue("vendor_fake")
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.MISTRAL_API_KEY = "test-key"
    settings.MISTRAL_SERVER_URL = fake.base_url
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_ATTEMPTS = 2
    return fake


def step(question: str, *topics: str, ready: bool = False, language: str = "en") -> dict:
    return {"question": question, "topics_covered": list(topics), "ready_to_complete": ready, "language": language}


def test_an_interview_turn_is_asked_through_mistral_structured_output(alice_api, mistral):
    mistral.script("mistral.chat", step("Hello! What is your life like these days?"))

    started = alice_api.post(RESPOND, {"interview_id": None, "message": ""})
    assert started.status_code == 200, started.content
    assert started.json()["question"] == "Hello! What is your life like these days?"

    mistral.script("mistral.chat", step("What matters most to you?", "present_life"))
    answered = alice_api.post(
        RESPOND,
        {"interview_id": started.json()["interview_id"], "message": "I'm Maya, a nurse in Lyon, 34."},
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["question"] == "What matters most to you?"
    assert "present_life" in answered.json()["topics_covered"]

    sent = mistral.last("mistral.chat").json
    assert sent["model"] == "mistral-small-latest"
    assert sent["response_format"]["type"] == "json_schema"
    system = [m["content"] for m in sent["messages"] if m["role"] == "system"]
    assert not any("I'm Maya" in text for text in system), "the person's words must never be in a system message"
    assert any("I'm Maya" in m["content"] for m in sent["messages"] if m["role"] == "user")
    assert ProviderCall.objects.filter(provider="mistral", task="interview", outcome="ok").count() == 2


def test_a_french_answer_is_followed_in_french(alice_api, mistral):
    mistral.script("mistral.chat", step("Bonjour ! Comment va votre vie en ce moment ?", language="fr"))
    started = alice_api.post(RESPOND, {"interview_id": None, "message": "Bonjour, je m'appelle Maya."})
    assert started.status_code == 200, started.content
    assert Interview.objects.get(pk=started.json()["interview_id"]).language == "fr"


def test_a_mistral_500_keeps_the_answer_and_the_retry_continues_where_it_stopped(alice_api, mistral):
    mistral.script("mistral.chat", step("What is your life like?"))
    interview_id = alice_api.post(RESPOND, {"interview_id": None, "message": ""}).json()["interview_id"]

    mistral.script("mistral.chat", Fault(500), Fault(500))
    failed = alice_api.post(RESPOND, {"interview_id": interview_id, "message": "I work nights at the hospital."})
    assert failed.status_code == 503
    assert failed.json() == {"detail": failed.json()["detail"], "code": "provider_unavailable", "retryable": True}
    kept = Turn.objects.get(interview_id=interview_id, role="user")
    assert (kept.content, kept.status) == ("I work nights at the hospital.", "pending")

    mistral.script("mistral.chat", step("How do the nights feel?", "present_life"))
    retried = alice_api.post(RESPOND, {"interview_id": interview_id, "message": "I work nights at the hospital."})
    assert retried.status_code == 200, retried.content
    assert retried.json()["question"] == "How do the nights feel?"
    user_turns = Turn.objects.filter(interview_id=interview_id, role="user")
    assert [(t.content, t.status) for t in user_turns] == [("I work nights at the hospital.", "answered")]


def test_a_mistral_429_is_a_retryable_rate_limit(alice_api, mistral):
    mistral.script("mistral.chat", Fault(429, retry_after=0), Fault(429, retry_after=0))
    response = alice_api.post(RESPOND, {"interview_id": None, "message": "Hello"})
    assert response.status_code == 503
    assert response.json()["code"] == "provider_rate_limited"
    assert response.json()["retryable"] is True


def test_the_profile_is_built_by_mistral_and_an_invented_quote_is_dropped(alice_api, mistral):
    mistral.script("mistral.chat", step("What is your life like?"))
    interview_id = alice_api.post(RESPOND, {"interview_id": None, "message": ""}).json()["interview_id"]
    mistral.script("mistral.chat", step("Anything else?", "present_life", "dilemma", ready=True))
    alice_api.post(
        RESPOND,
        {
            "interview_id": interview_id,
            "message": "Family matters most to me. I must choose between Montreal and staying in Lyon.",
        },
    )
    mistral.script(
        "mistral.chat",
        {
            "name": None,
            "age": None,
            "pronouns": None,
            "location": "Lyon",
            "occupation": None,
            "life_situation": None,
            "values": [
                {"text": "family", "evidence": "Family matters most to me."},
                {"text": "wealth", "evidence": "Money is all I care about."},
            ],
            "goals": [],
            "fears": [],
            "strengths": [],
            "challenges": [],
            "relationships": [],
            "turning_points": [],
            "communication_style": None,
            "dilemma": {"summary": "Montreal or Lyon", "options": ["Move to Montreal", "Stay in Lyon"]},
            "boundaries": [],
        },
    )

    completed = alice_api.post("/api/interview/complete", {"interview_id": interview_id})

    assert completed.status_code == 200, completed.content
    data = completed.json()["profile"]["data"]
    assert [v["text"] for v in data["values"]] == ["family"]
    assert data["dilemma"]["options"] == ["Move to Montreal", "Stay in Lyon"]
    profile = Profile.objects.get(interview_id=interview_id)
    assert [(d["field"], d["item"]["evidence"]) for d in profile.dropped_items] == [
        ("values", "Money is all I care about.")
    ]
    assert mistral.last("mistral.chat").json["model"] == "mistral-medium-latest"
