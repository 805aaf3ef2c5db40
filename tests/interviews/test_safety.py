"""Every interview answer passes the crisis check before the interviewer is asked."""

import pytest

from futureself.models import SafetyEvent
from interviews.models import Interview, Turn
from tests.builders import SAMPLE_ANSWERS

pytestmark = pytest.mark.django_db

RISKY = "honestly I want to kill myself, I have no reason to keep living"
RISKY_FR = "je veux en finir avec la vie, je suis un fardeau pour tout le monde"


def respond(client, interview_id, message, **headers):
    return client.post("/api/interview/respond", {"interview_id": interview_id, "message": message}, **headers)


def _sent_to_provider(chat) -> str:
    return "\n".join(m.content for call in chat.calls for m in call.messages)


def test_every_reply_says_the_check_did_not_fire_on_an_ordinary_answer(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    body = respond(alice_api, interview_id, SAMPLE_ANSWERS[0]).json()
    assert body["safety"] == {"flagged": False, "message": None, "resources": []}


def test_a_risky_answer_is_saved_and_answered_with_the_crisis_message_without_calling_the_interviewer(
    alice_api, offline_chat
):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, SAMPLE_ANSWERS[0])
    calls_before = len(offline_chat.calls)
    last_question = Turn.objects.filter(role="interviewer").order_by("-position").first().content

    response = respond(alice_api, interview_id, RISKY)

    assert response.status_code == 200
    body = response.json()
    assert body["safety"]["flagged"] is True
    assert "AI" in body["safety"]["message"]
    assert {"name", "contact"} <= set(body["safety"]["resources"][0])
    assert last_question in body["question"]
    assert len(offline_chat.calls) == calls_before
    saved = Turn.objects.get(role="user", content=RISKY)
    assert saved.safety_flagged is True
    event = SafetyEvent.objects.get()
    assert event.source == "interview"
    assert str(event.interview_id) == interview_id
    assert RISKY not in event.matched


def test_the_interview_continues_normally_after_a_flagged_answer_without_showing_it_to_the_interviewer(
    alice_api, offline_chat
):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, RISKY)

    body = respond(alice_api, interview_id, SAMPLE_ANSWERS[0]).json()

    assert body["safety"]["flagged"] is False
    assert body["turn"] == 2
    assert "present_life" in body["topics_covered"]
    assert RISKY not in _sent_to_provider(offline_chat)
    assert SafetyEvent.objects.count() == 1


def test_a_flag_right_after_the_greeting_does_not_repeat_the_greeting(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    greeting = Turn.objects.get(role="interviewer").content
    body = respond(alice_api, interview_id, RISKY).json()
    assert greeting not in body["question"]
    assert "tell me a little about your life" in body["question"]


def test_a_flagged_first_message_starts_the_interview_with_a_gentle_opener(alice_api, offline_chat):
    body = respond(alice_api, None, RISKY).json()
    assert body["safety"]["flagged"] is True
    assert body["question"].startswith("Take all the time you need")
    assert offline_chat.calls == []
    interview = Interview.objects.get(pk=body["interview_id"])
    assert interview.turns.get().safety_flagged is True


def test_a_french_answer_gets_the_french_message(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    body = respond(alice_api, interview_id, RISKY_FR).json()
    assert body["safety"]["flagged"] is True
    assert "Je suis une IA" in body["safety"]["message"]


def test_a_retried_flagged_answer_is_not_recorded_twice(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    first = respond(alice_api, interview_id, RISKY, HTTP_IDEMPOTENCY_KEY="k-1").json()
    again = respond(alice_api, interview_id, RISKY, HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert again["safety"] == first["safety"]
    assert Turn.objects.filter(role="user").count() == 1
    assert SafetyEvent.objects.count() == 1


def test_the_profile_builder_never_sees_a_flagged_answer(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, SAMPLE_ANSWERS[0])
    respond(alice_api, interview_id, RISKY)
    response = alice_api.post("/api/interview/complete", {"interview_id": interview_id})
    assert response.status_code == 200
    assert RISKY not in _sent_to_provider(offline_chat)


def test_the_answer_view_shows_the_message_and_resources_in_place_of_a_question(alice_client, alice, offline_chat):
    interview = Interview.objects.create(owner=alice)
    alice_client.post(f"/interview/{interview.pk}/ask/", HTTP_HX_REQUEST="true")
    calls_before = len(offline_chat.calls)

    response = alice_client.post(f"/interview/{interview.pk}/answer/", {"message": RISKY}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="safety-notice" role="alert"' in html
    assert "I&#x27;m an AI" in html or "I'm an AI" in html
    assert "findahelpline.com" in html
    assert "Take all the time you need" in html
    assert 'name="message"' in html  # the person can carry on
    assert len(offline_chat.calls) == calls_before

    page = alice_client.get(f"/interview/{interview.pk}/").content.decode()
    assert "safety-notice" in page  # still there after a reload

    alice_client.post(f"/interview/{interview.pk}/answer/", {"message": SAMPLE_ANSWERS[0]}, HTTP_HX_REQUEST="true")
    assert "safety-notice" not in alice_client.get(f"/interview/{interview.pk}/").content.decode()


def test_the_transcript_marks_the_flagged_answer(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, RISKY)
    turns = alice_api.get(f"/api/interview/{interview_id}").json()["turns"]
    assert [t["safety_flagged"] for t in turns] == [False, True]
