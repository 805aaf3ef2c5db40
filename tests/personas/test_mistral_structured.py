"""Future-self generation through the real Mistral adapter, against the local vendor fake."""

from __future__ import annotations

import pytest

from futureself.models import ProviderCall
from personas.models import FutureSelf
from tests.builders import make_profile, sample_card

pytestmark = pytest.mark.django_db

GENERATE = "/api/future-self/generate"


@pytest.fixture
def mistral(settings, request, fake_tts):
    fake = request.getfixturevalue("vendor_fake")
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.MISTRAL_API_KEY = "test-key"
    settings.MISTRAL_SERVER_URL = fake.base_url
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    return fake


def _cards(*paths: str, **overrides) -> dict:
    return {"selves": [sample_card(path, **overrides) for path in paths]}


def test_selves_are_parsed_from_mistrals_structured_output(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    mistral.script("mistral.chat", _cards("Move to Montreal", "Stay in Lyon"))

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 200, response.content
    assert [s["path"] for s in response.json()["selves"]] == ["Move to Montreal", "Stay in Lyon"]
    sent = mistral.last("mistral.chat").json
    assert sent["model"] == "mistral-medium-latest"
    assert sent["response_format"]["type"] == "json_schema"
    assert ProviderCall.objects.filter(task="personas", provider="mistral", outcome="ok").count() == 1


def test_a_card_breaking_the_rules_is_retried_then_reported(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    # Schema-valid, but one option has no card: the engine asks again once, then gives up.
    mistral.script("mistral.chat", _cards("Move to Montreal"), _cards("Move to Montreal"))

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 503
    assert response.json()["code"] == "provider_bad_response"
    assert response.json()["retryable"] is True
    assert len(mistral.received("mistral.chat")) == 2
    assert "'Stay in Lyon'" in mistral.last("mistral.chat").json["messages"][-1]["content"]
    assert not FutureSelf.objects.exists()


def test_a_schema_invalid_card_is_retried_then_reported(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    two_memories = sample_card()["memories"][:2]
    invalid = _cards("Move to Montreal", "Stay in Lyon", memories=two_memories)
    mistral.script("mistral.chat", invalid, invalid)

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 503
    assert response.json()["code"] == "provider_bad_response"
    assert len(mistral.received("mistral.chat")) == 2
    assert not FutureSelf.objects.exists()


def test_an_invalid_card_then_a_valid_one_succeeds(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    mistral.script(
        "mistral.chat",
        _cards("Move to Montreal", "Stay in Lyon", costs=[]),
        _cards("Move to Montreal", "Stay in Lyon"),
    )

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 200, response.content
    assert FutureSelf.objects.filter(profile=profile).count() == 2


def test_an_unbalanced_generation_is_retried_then_reported(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    long_story = " ".join(["Ten years on, I lead a ward in Montreal and call Lea every Sunday."] * 3)
    unbalanced = {
        "selves": [
            sample_card("Move to Montreal", backstory=long_story, gains=["A ward", "A new city", "Snow", "French"]),
            sample_card("Stay in Lyon"),
        ]
    }
    mistral.script("mistral.chat", unbalanced, unbalanced)

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 503
    assert response.json()["code"] == "provider_bad_response"
    assert len(mistral.received("mistral.chat")) == 2
    follow_up = mistral.last("mistral.chat").json["messages"][-1]["content"]
    assert "same care" in follow_up
    assert "backstory words" in follow_up
    assert "4 gains" in follow_up
    assert not FutureSelf.objects.exists()


def test_an_unbalanced_generation_then_a_balanced_one_succeeds(alice_api, alice, mistral):
    profile = make_profile(owner=alice)
    unbalanced = {
        "selves": [
            sample_card("Move to Montreal", costs=["Lea far away", "Winters", "Tom's career", "French forms"]),
            sample_card("Stay in Lyon"),
        ]
    }
    mistral.script("mistral.chat", unbalanced, _cards("Move to Montreal", "Stay in Lyon"))

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 200, response.content
    assert "4 costs" in mistral.last("mistral.chat").json["messages"][-1]["content"]
    assert FutureSelf.objects.filter(profile=profile).count() == 2
