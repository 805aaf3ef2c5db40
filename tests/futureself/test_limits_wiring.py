"""Every provider-backed endpoint and view is rate limited and draws on the LLM budget."""

import pytest

from futureself.limits import budget_charge, budget_used, rate_limit_owner
from futureself.ownership import Owner
from interviews.models import Interview
from tests.builders import SAMPLE_ANSWERS, make_conversation, make_future_self, make_interview, make_profile
from tests.fakes.providers import FakeChat, FakeImageGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tight_limits(settings):
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {
        "provider_user": (1, 60),
        "provider_ip": (100, 60),
        "generation_user": (1, 3600),
        "generation_ip": (100, 3600),
    }
    settings.DAILY_BUDGETS = {"llm_tokens": 10_000, "tts_characters": 0}


@pytest.fixture
def chat():
    from futureself.providers import registry

    fake = FakeChat(fallback_offline=True)
    image = FakeImageGenerator()
    with registry.use_providers(chat=fake, image=image):
        yield fake


@pytest.fixture
def world(alice):
    interview = make_interview(owner=alice, answers=SAMPLE_ANSWERS[:2])
    profile = make_profile(owner=alice)
    future_self = make_future_self(profile=profile)
    conversation = make_conversation(future_self=future_self, messages=[("user", "Hello"), ("future_self", "Hi")])
    return {"interview": interview, "profile": profile, "self": future_self, "conversation": conversation}


def _exhaust(alice, scope: str) -> None:
    rate_limit_owner(owner=Owner(user_id=alice.pk), ip=None, scope=scope)


API_ENDPOINTS = [
    ("provider", "/api/interview/respond", lambda w: {"interview_id": str(w["interview"].pk), "message": "Hi"}),
    ("generation", "/api/interview/complete", lambda w: {"interview_id": str(w["interview"].pk)}),
    ("generation", "/api/profile/build", lambda w: {"interview_id": str(w["interview"].pk)}),
    ("generation", "/api/future-self/generate", lambda w: {"profile_id": str(w["profile"].pk)}),
    ("provider", "/api/future-self/select", lambda w: {"future_self_id": str(w["self"].pk)}),
    ("generation", "/api/avatar/generate", lambda w: {"future_self_id": str(w["self"].pk)}),
    ("generation", "/api/conversation/summarize", lambda w: {"conversation_id": str(w["conversation"].pk)}),
]


@pytest.mark.parametrize(("scope", "path", "body"), API_ENDPOINTS, ids=[p for _, p, _ in API_ENDPOINTS])
def test_every_provider_backed_api_endpoint_answers_429_past_the_limit_without_a_provider_call(
    alice, alice_api, world, chat, scope, path, body
):
    _exhaust(alice, scope)
    response = alice_api.post(path, body(world))
    assert response.status_code == 429
    assert response.json() == {
        "detail": "Too many requests: please wait a moment and try again.",
        "code": "rate_limited",
        "retryable": True,
    }
    assert int(response["Retry-After"]) >= 1
    assert chat.calls == []


def test_the_correction_endpoint_is_limited_too(alice, alice_api, world, chat):
    _exhaust(alice, "generation")
    response = alice_api.post(f"/api/future-self/{world['self'].pk}/correct", {"correction": "I hate cities"})
    assert response.status_code == 429
    assert chat.calls == []


VIEWS = [
    ("provider", "post", lambda w: f"/interview/{w['interview'].pk}/answer/", {"message": "Hello"}),
    ("provider", "post", lambda w: f"/interview/{w['interview'].pk}/ask/", {}),
    ("generation", "post", lambda w: f"/futures/generate/{w['profile'].pk}/", {}),
    ("generation", "get", lambda w: f"/selves/{w['self'].pk}/avatar", {}),
    ("provider", "post", lambda w: f"/selves/{w['self'].pk}/talk", {}),
    ("generation", "post", lambda w: f"/selves/{w['self'].pk}/correct", {"correction": "Not me"}),
    ("generation", "post", lambda w: f"/conversations/{w['conversation'].pk}/end/", {}),
]


@pytest.mark.parametrize(
    ("scope", "method", "url", "data"), VIEWS, ids=[f"{m}-{i}" for i, (_, m, _, _) in enumerate(VIEWS)]
)
def test_every_provider_backed_view_answers_429_with_a_message_htmx_can_show(
    alice, alice_client, world, chat, scope, method, url, data
):
    _exhaust(alice, scope)
    response = getattr(alice_client, method)(url(world), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/plain")
    assert "try again" in response.content.decode()
    assert int(response["Retry-After"]) >= 1
    assert chat.calls == []


def test_a_refused_profile_build_replaces_the_spinner_with_the_reason_and_a_retry(alice, alice_client, world, chat):
    _exhaust(alice, "generation")
    response = alice_client.post(f"/interview/{world['interview'].pk}/build/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps it in place of the spinner
    assert 'id="profile-building"' in html
    assert "Too many requests" in html
    assert ">Retry</button>" in html
    assert int(response["Retry-After"]) >= 1
    assert chat.calls == []


@pytest.mark.parametrize("kind", ["avatars", "figure"])
def test_refused_portraits_say_why_in_place_of_the_spinner(alice, alice_client, world, chat, kind):
    _exhaust(alice, "generation")
    future_self = world["self"]
    url = (
        f"/futures/{future_self.generation_id}/avatars/"
        if kind == "avatars"
        else f"/selves/{future_self.pk}/avatar/figure"
    )
    html = alice_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="avatar-{future_self.pk}"' in html
    assert "Too many requests" in html
    assert "Retry portrait" in html
    assert "Drawing a portrait" not in html


def test_a_browser_form_post_past_the_limit_gets_a_readable_page(alice, alice_client, world, chat):
    _exhaust(alice, "provider")
    response = alice_client.post(
        f"/interview/{world['interview'].pk}/answer/", {"message": "Hello"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 429
    html = response.content.decode()
    assert "Please wait a moment" in html
    assert "Nothing you wrote is lost" in html


def test_the_generate_form_itself_is_not_counted(alice, alice_client, world, chat):
    _exhaust(alice, "generation")
    assert alice_client.get(f"/futures/generate/{world['profile'].pk}/").status_code == 200


def test_an_interview_answer_charges_the_tokens_its_provider_calls_used(alice, alice_api, chat):
    owner = Owner(user_id=alice.pk)
    body = alice_api.post("/api/interview/respond", {"interview_id": None, "message": SAMPLE_ANSWERS[0]}).json()
    assert Interview.objects.filter(pk=body["interview_id"]).exists()
    assert budget_used(owner=owner, kind="llm_tokens") > 0


def test_a_person_over_their_daily_allowance_is_refused_before_any_provider_call(alice, alice_api, world, chat):
    budget_charge(owner=Owner(user_id=alice.pk), kind="llm_tokens", amount=10_000)
    response = alice_api.post("/api/profile/build", {"interview_id": str(world["interview"].pk)})
    assert response.status_code == 429
    assert response.json()["code"] == "budget_exceeded"
    assert response.json()["retryable"] is False
    assert chat.calls == []


def test_the_allowance_is_shown_inline_in_the_interview(alice, alice_client, world, chat):
    budget_charge(owner=Owner(user_id=alice.pk), kind="llm_tokens", amount=10_000)
    response = alice_client.post(
        f"/interview/{world['interview'].pk}/answer/", {"message": "Hello"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 429
    assert "today's conversation allowance" in response.content.decode()


def test_a_guest_is_limited_like_a_user(client, chat):
    client.post("/interview/start/", {"adult": "on"})
    interview = Interview.objects.get()
    statuses = [client.post(f"/interview/{interview.pk}/ask/", HTTP_HX_REQUEST="true").status_code for _ in range(2)]
    assert statuses == [200, 429]


# --- a person in crisis is never refused ---------------------------------------------------------

RISKY = "I want to kill myself tonight"


def test_a_risky_answer_past_the_rate_limit_still_gets_the_crisis_answer(alice, alice_api, world, chat):
    _exhaust(alice, "provider")
    response = alice_api.post("/api/interview/respond", {"interview_id": str(world["interview"].pk), "message": RISKY})
    assert response.status_code == 200
    assert response.json()["safety"]["flagged"] is True
    assert chat.calls == []


def test_an_ordinary_answer_past_the_limit_is_still_refused(alice, alice_api, world, chat):
    _exhaust(alice, "provider")
    response = alice_api.post(
        "/api/interview/respond", {"interview_id": str(world["interview"].pk), "message": "I kill time reading."}
    )
    assert response.status_code == 429


def test_a_risky_answer_over_the_daily_allowance_still_gets_the_crisis_notice_on_the_page(
    alice, alice_client, world, chat
):
    budget_charge(owner=Owner(user_id=alice.pk), kind="llm_tokens", amount=10_000)
    response = alice_client.post(
        f"/interview/{world['interview'].pk}/answer/", {"message": RISKY}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "safety-notice" in response.content.decode()
    assert chat.calls == []


def test_a_risky_correction_past_the_limit_gets_the_crisis_answer(alice, alice_api, world, chat):
    _exhaust(alice, "generation")
    response = alice_api.post(f"/api/future-self/{world['self'].pk}/correct", {"correction": RISKY})
    assert response.status_code == 422
    assert response.json()["code"] == "safety_flagged"
    assert chat.calls == []
