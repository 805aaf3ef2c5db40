import pytest

from futureself.models import ProviderCall
from futureself.providers.base import ProviderRateLimited, ProviderUnavailable
from interviews.models import Interview, Profile, Turn
from tests.builders import SAMPLE_ANSWERS, make_interview, make_profile, sample_profile_data
from tests.interviews.conftest import step

pytestmark = pytest.mark.django_db


def respond(client, interview_id, message, **headers):
    return client.post("/api/interview/respond", {"interview_id": interview_id, "message": message}, **headers)


def test_it_starts_an_interview_with_a_first_question(alice_api, offline_chat):
    response = respond(alice_api, None, "")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in_progress"
    assert "an AI" in body["question"]
    assert body["turn"] == 1
    assert body["topics_covered"] == []
    assert body["progress"] == 0
    assert body["ready_to_complete"] is False
    interview = Interview.objects.get(pk=body["interview_id"])
    assert interview.owner.username == "alice"
    assert interview.source == "api"


def test_it_starts_with_the_persons_first_words(alice_api, offline_chat):
    body = respond(alice_api, None, SAMPLE_ANSWERS[0]).json()
    interview = Interview.objects.get(pk=body["interview_id"])
    assert [t.role for t in interview.turns.all()] == ["user", "interviewer"]
    assert "present_life" in body["topics_covered"]
    assert body["progress"] == pytest.approx(1 / 9, abs=0.001)


def test_it_answers_and_moves_through_the_topics(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    body = respond(alice_api, interview_id, SAMPLE_ANSWERS[0]).json()
    assert body["turn"] == 2
    assert body["topics_covered"] == ["present_life"]
    assert "decision" in body["question"]


def test_it_rejects_an_empty_message_on_an_existing_interview(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    response = respond(alice_api, interview_id, "   ")
    assert response.status_code == 422
    assert response.json()["code"] == "empty_message"


def test_it_rejects_a_message_over_4000_characters(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    response = respond(alice_api, interview_id, "a" * 4001)
    assert response.status_code == 422
    assert set(response.json()) == {"detail", "code", "retryable"}
    assert Turn.objects.filter(role="user").count() == 0


def test_it_refuses_to_answer_a_completed_interview(alice, alice_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:2], status="completed")
    response = respond(alice_api, str(interview.pk), "One more thing")
    assert response.status_code == 409


def test_it_returns_404_for_another_users_interview(alice, bob_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:1])
    assert respond(bob_api, str(interview.pk), "hello").status_code == 404
    assert bob_api.get(f"/api/interview/{interview.pk}").status_code == 404
    assert bob_api.post("/api/interview/complete", {"interview_id": str(interview.pk)}).status_code == 404
    assert bob_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).status_code == 404


def test_it_returns_404_for_an_unknown_interview(alice_api, offline_chat):
    response = respond(alice_api, "7f7c1b7e-0000-4000-8000-000000000000", "hello")
    assert response.status_code == 404


def test_it_requires_authentication(anon_api):
    assert respond(anon_api, None, "hello").status_code == 401
    assert anon_api.get("/api/profile/7f7c1b7e-0000-4000-8000-000000000000").status_code == 401


def test_a_provider_failure_keeps_the_answer_and_says_retry(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    offline_chat.enqueue(ProviderUnavailable("The chat provider answered 500.", provider="fake"))
    response = respond(alice_api, interview_id, SAMPLE_ANSWERS[0])
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The chat provider answered 500.",
        "code": "provider_unavailable",
        "retryable": True,
    }
    turn = Turn.objects.get(interview_id=interview_id, role="user")
    assert (turn.content, turn.status) == (SAMPLE_ANSWERS[0], "pending")
    assert ProviderCall.objects.filter(interview_id=interview_id, outcome="error").count() == 1


def test_a_retry_of_the_same_text_after_a_500_answers_the_pending_turn(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    assert respond(alice_api, interview_id, SAMPLE_ANSWERS[0]).status_code == 503
    response = respond(alice_api, interview_id, SAMPLE_ANSWERS[0])
    assert response.status_code == 200
    turns = list(Turn.objects.filter(interview_id=interview_id).order_by("position"))
    assert [(t.role, t.status) for t in turns] == [
        ("interviewer", "answered"),
        ("user", "answered"),
        ("interviewer", "answered"),
    ]
    assert response.json()["question"] == turns[-1].content


def test_a_retry_with_the_same_idempotency_key_answers_the_pending_turn(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    offline_chat.enqueue(ProviderRateLimited("429", provider="fake"))
    first = respond(alice_api, interview_id, SAMPLE_ANSWERS[0], HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 503
    assert first.json()["code"] == "provider_rate_limited"
    second = respond(alice_api, interview_id, SAMPLE_ANSWERS[0], HTTP_IDEMPOTENCY_KEY="k-1")
    third = respond(alice_api, interview_id, SAMPLE_ANSWERS[0], HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.status_code == third.status_code == 200
    assert second.json() == third.json()
    assert Turn.objects.filter(interview_id=interview_id, role="user").count() == 1


def test_a_failed_start_with_words_is_resumed_by_its_retry(alice_api, offline_chat):
    offline_chat.enqueue(ProviderUnavailable("timeout", provider="fake"))
    assert respond(alice_api, None, SAMPLE_ANSWERS[0], HTTP_IDEMPOTENCY_KEY="start-1").status_code == 503
    response = respond(alice_api, None, SAMPLE_ANSWERS[0], HTTP_IDEMPOTENCY_KEY="start-1")
    assert response.status_code == 200
    assert Interview.objects.count() == 1
    assert Turn.objects.filter(role="user").count() == 1


def test_complete_returns_the_profile(alice, alice_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS)
    response = alice_api.post("/api/interview/complete", {"interview_id": str(interview.pk)})
    assert response.status_code == 200
    body = response.json()
    assert body["interview_id"] == str(interview.pk)
    assert body["status"] == "completed"
    profile = body["profile"]
    assert set(profile) >= {"profile_id", "interview_id", "version", "edited_by_user", "created_at", "data"}
    assert profile["version"] == 1
    assert profile["edited_by_user"] is False
    assert profile["data"]["name"] == "Maya"
    assert profile["data"]["location"] == "Lyon"
    interview.refresh_from_db()
    assert interview.status == "completed"
    assert interview.completed_at is not None


def test_complete_is_409_before_any_answer(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    response = alice_api.post("/api/interview/complete", {"interview_id": interview_id})
    assert response.status_code == 409
    assert Interview.objects.get(pk=interview_id).status == "in_progress"


def test_complete_after_a_failed_build_builds_on_retry(alice, alice_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS)
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    assert alice_api.post("/api/interview/complete", {"interview_id": str(interview.pk)}).status_code == 503
    response = alice_api.post("/api/interview/complete", {"interview_id": str(interview.pk)})
    assert response.status_code == 200
    assert Profile.objects.filter(interview=interview).count() == 1


def test_build_makes_a_new_version_each_time(alice, alice_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS, status="completed")
    first = alice_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).json()
    second = alice_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert first["profile_id"] != second["profile_id"]


def test_build_from_an_external_transcript_stores_an_imported_interview(alice_api, offline_chat):
    transcript = [
        {"role": "interviewer", "content": "What are you deciding?"},
        {"role": "user", "content": "I'm deciding whether to move to Berlin or stay in Porto."},
    ]
    response = alice_api.post("/api/profile/build", {"transcript": transcript})
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["dilemma"]["options"] == ["Move to Berlin", "Stay in Porto"]
    interview = Interview.objects.get(pk=body["interview_id"])
    assert (interview.source, interview.status) == ("imported", "completed")
    assert [t.content for t in interview.turns.order_by("position")] == [e["content"] for e in transcript]


def test_build_needs_exactly_one_of_interview_or_transcript(alice_api, offline_chat):
    assert alice_api.post("/api/profile/build", {}).status_code == 422
    bad_role = alice_api.post("/api/profile/build", {"transcript": [{"role": "system", "content": "x"}]})
    assert bad_role.status_code == 422


def test_a_failed_import_is_recorded_and_the_resend_continues_it(alice_api, offline_chat):
    transcript = [
        {"role": "interviewer", "content": "What are you deciding?"},
        {"role": "user", "content": "I'm deciding whether to move to Berlin or stay in Porto."},
    ]
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))

    failed = alice_api.post("/api/profile/build", {"transcript": transcript})

    assert failed.status_code == 503
    assert failed.json()["retryable"] is True
    interview = Interview.objects.get()
    assert [t.content for t in interview.turns.order_by("position")] == [e["content"] for e in transcript]
    error = ProviderCall.objects.get(task="profile")
    assert (error.outcome, error.interview_id) == ("error", interview.pk)

    resent = alice_api.post("/api/profile/build", {"transcript": transcript})

    assert resent.status_code == 200, resent.content
    assert resent.json()["interview_id"] == str(interview.pk)
    assert Interview.objects.count() == 1
    assert interview.turns.count() == 2
    assert list(
        ProviderCall.objects.filter(task="profile").order_by("created_at").values_list("outcome", flat=True)
    ) == [
        "error",
        "ok",
    ]


def test_a_different_transcript_after_a_failed_import_is_imported_on_its_own(alice_api, offline_chat):
    first = [{"role": "user", "content": "I'm deciding whether to move to Berlin or stay in Porto."}]
    second = [{"role": "user", "content": "I'm deciding whether to move to Lisbon or stay in Porto."}]
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    assert alice_api.post("/api/profile/build", {"transcript": first}).status_code == 503

    response = alice_api.post("/api/profile/build", {"transcript": second})

    assert response.status_code == 200
    assert Interview.objects.count() == 2
    assert response.json()["data"]["dilemma"]["options"] == ["Move to Lisbon", "Stay in Porto"]


def test_another_persons_failed_import_is_never_continued(alice_api, bob_api, offline_chat):
    transcript = [{"role": "user", "content": "I'm deciding whether to move to Berlin or stay in Porto."}]
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    assert alice_api.post("/api/profile/build", {"transcript": transcript}).status_code == 503

    response = bob_api.post("/api/profile/build", {"transcript": transcript})

    assert response.status_code == 200
    assert Interview.objects.get(pk=response.json()["interview_id"]).owner.username == "bob"
    assert Interview.objects.count() == 2


def test_get_interview_returns_the_transcript(alice, alice_api):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:2])
    body = alice_api.get(f"/api/interview/{interview.pk}").json()
    assert [t["content"] for t in body["turns"] if t["role"] == "user"] == SAMPLE_ANSWERS[:2]
    assert body["profile_id"] is None


def test_get_profile_and_its_ownership(alice, alice_api, bob_api):
    profile = make_profile(owner=alice)
    assert alice_api.get(f"/api/profile/{profile.pk}").json()["data"]["name"] == "Maya"
    assert bob_api.get(f"/api/profile/{profile.pk}").status_code == 404
    assert bob_api.patch(f"/api/profile/{profile.pk}", {"data": {"name": "Bob"}}).status_code == 404


def test_patch_saves_a_corrected_new_version(alice, alice_api):
    profile = make_profile(owner=alice)
    response = alice_api.patch(
        f"/api/profile/{profile.pk}", {"data": {"location": "Villeurbanne", "dilemma": {"options": ["Go", "Stay"]}}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert body["edited_by_user"] is True
    assert body["data"]["location"] == "Villeurbanne"
    assert body["data"]["dilemma"] == {"summary": "Take the job in Montreal or stay in Lyon", "options": ["Go", "Stay"]}
    assert body["data"]["name"] == "Maya"
    profile.refresh_from_db()
    assert profile.data["location"] == "Lyon"


@pytest.mark.parametrize("data", [{"age": "old"}, {"age": 400}, {"favourite_colour": "blue"}, {}])
def test_patch_rejects_an_invalid_field(alice, alice_api, data):
    profile = make_profile(owner=alice)
    response = alice_api.patch(f"/api/profile/{profile.pk}", {"data": data})
    assert response.status_code == 422
    assert Profile.objects.filter(interview=profile.interview).count() == 1


def test_a_rebuild_keeps_the_persons_corrections(alice, alice_api, offline_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS, status="completed")
    built = alice_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).json()
    alice_api.patch(f"/api/profile/{built['profile_id']}", {"data": {"name": "Maya L.", "occupation": "head nurse"}})
    rebuilt = alice_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).json()
    assert rebuilt["version"] == 3
    assert rebuilt["data"]["name"] == "Maya L."
    assert rebuilt["data"]["occupation"] == "head nurse"
    assert set(rebuilt["edited_fields"]) == {"name", "occupation"}
    assert rebuilt["data"]["location"] == "Lyon"


def test_an_interviewer_turn_with_scripted_topics_is_reported(alice_api, fake_chat):
    fake_chat.enqueue(step("Hello! Who are you?"), step("What are you deciding?", ["present_life"]))
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    body = respond(alice_api, interview_id, SAMPLE_ANSWERS[0]).json()
    assert body["question"] == "What are you deciding?"
    assert body["topics_covered"] == ["present_life"]
    assert fake_chat.calls[-1].task == "interview"


def test_a_failed_start_is_resumed_by_resending_the_same_words(alice_api, offline_chat):
    offline_chat.enqueue(ProviderUnavailable("timeout", provider="fake"))
    assert respond(alice_api, None, SAMPLE_ANSWERS[0]).status_code == 503
    assert respond(alice_api, None, SAMPLE_ANSWERS[0]).status_code == 200
    assert Interview.objects.count() == 1


def test_a_new_message_while_one_is_pending_is_kept_with_it(alice_api, offline_chat):
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    offline_chat.enqueue(ProviderUnavailable("500", provider="fake"))
    respond(alice_api, interview_id, "I live in Lyon.")
    assert respond(alice_api, interview_id, "And I work nights.").status_code == 200
    user_turns = list(Turn.objects.filter(interview_id=interview_id, role="user"))
    assert [t.content for t in user_turns] == ["I live in Lyon.\n\nAnd I work nights."]


def test_the_interview_stops_asking_after_the_maximum_of_turns(alice_api, offline_chat, settings):
    settings.INTERVIEW_MAX_TURNS = 2
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, SAMPLE_ANSWERS[0])
    last = respond(alice_api, interview_id, SAMPLE_ANSWERS[1]).json()
    assert last["ready_to_complete"] is True
    assert "last question" in last["question"]
    refused = respond(alice_api, interview_id, "One more thing")
    assert refused.status_code == 409
    assert refused.json()["code"] == "interview_max_turns"


def test_the_detected_language_is_stored(alice_api, fake_chat):
    fake_chat.enqueue(
        step("Bonjour ! Qui êtes-vous ?"), step("Merci. Que décidez-vous ?", ["present_life"], language="fr")
    )
    interview_id = respond(alice_api, None, "").json()["interview_id"]
    respond(alice_api, interview_id, "Je m'appelle Léa, j'ai 29 ans et j'habite à Nantes.")
    assert alice_api.get(f"/api/interview/{interview_id}").json()["language"] == "fr"


def test_a_build_drops_and_records_an_item_with_invented_evidence(alice, alice_api, fake_chat):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS, status="completed")
    invented = {"text": "ambition", "evidence": "I want to be the best at everything."}
    fake_chat.enqueue(
        sample_profile_data(values=[{"text": "family", "evidence": "Family matters most to me"}, invented])
    )
    body = alice_api.post("/api/profile/build", {"interview_id": str(interview.pk)}).json()
    assert [v["text"] for v in body["data"]["values"]] == ["family"]
    stored = Profile.objects.get(pk=body["profile_id"])
    assert [d["item"] for d in stored.dropped_items] == [invented]
    assert ProviderCall.objects.filter(interview=interview, task="profile", outcome="ok").count() == 1


def test_a_retry_that_loses_the_race_returns_the_question_already_saved(alice, offline_chat, monkeypatch):
    from asgiref.sync import sync_to_async

    from interviews import services
    from interviews.engines import InterviewStep

    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:1])
    Turn.objects.create(interview=interview, position=2, role="user", content="hi there", status="pending")

    def other_request_answers():
        Turn.objects.filter(interview=interview, status="pending").update(status="answered")
        Turn.objects.create(interview=interview, position=3, role="interviewer", content="Saved by the other request")

    class SlowAgent:
        def __init__(self, chat, *, max_turns):
            pass

        async def next_step(self, **kwargs):
            await sync_to_async(other_request_answers)()
            return InterviewStep(question="A second question", topics_covered=[], ready_to_complete=False, language="")

    monkeypatch.setattr(services, "InterviewAgent", SlowAgent)
    reply = services.interview_ask(interview=interview)
    assert reply.question.content == "Saved by the other request"
    assert list(interview.turns.values_list("role", flat=True)) == ["interviewer", "user", "user", "interviewer"]
