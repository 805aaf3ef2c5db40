"""The free text of the personas flow (a dilemma, options, a correction) passes the crisis check."""

import pytest

from futureself.models import SafetyEvent
from futureself.providers import registry
from personas.models import FutureSelf
from tests.builders import make_future_self, make_profile
from tests.fakes.providers import FakeChat

pytestmark = pytest.mark.django_db

RISKY = "whether to end my life or keep going, I have the pills ready"


@pytest.fixture
def chat():
    fake = FakeChat(fallback_offline=True)
    with registry.use_providers(chat=fake):
        yield fake


def test_a_risky_dilemma_gets_the_crisis_answer_and_no_future_selves(alice, alice_api, chat):
    profile = make_profile(owner=alice)
    response = alice_api.post(
        "/api/future-self/generate",
        {"profile_id": str(profile.pk), "dilemma": RISKY, "options": ["Stay", "Go"]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "safety_flagged"
    assert body["safety"]["flagged"] is True
    assert body["safety"]["resources"]
    assert body["detail"] == body["safety"]["message"]
    assert chat.calls == []
    assert FutureSelf.objects.count() == 0
    assert SafetyEvent.objects.get().interview_id == profile.interview_id


def test_an_ordinary_dilemma_is_not_flagged(alice, alice_api, chat):
    profile = make_profile(owner=alice)
    response = alice_api.post(
        "/api/future-self/generate",
        {"profile_id": str(profile.pk), "dilemma": "I'm dying to know which job to take", "options": ["A", "B"]},
    )
    assert response.status_code == 200
    assert SafetyEvent.objects.count() == 0


def test_a_risky_correction_is_answered_with_resources_and_never_sent_to_the_writer(alice, alice_api, chat):
    future_self = make_future_self(owner=alice)
    response = alice_api.post(
        f"/api/future-self/{future_self.pk}/correct", {"correction": "honestly I just want to die"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "safety_flagged"
    assert chat.calls == []
    future_self.refresh_from_db()
    assert future_self.corrections == []


def test_the_generate_panel_shows_the_crisis_notice(alice, alice_client, chat):
    profile = make_profile(owner=alice)
    response = alice_client.post(
        f"/futures/generate/{profile.pk}/",
        {"dilemma": RISKY, "options": ["Stay", "Go"], "years_ahead": "10"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="safety-notice"' in html
    assert "findahelpline.com" in html
    assert chat.calls == []


def test_the_card_shows_the_crisis_notice_after_a_risky_correction(alice, alice_client, chat):
    future_self = make_future_self(owner=alice)
    response = alice_client.post(
        f"/selves/{future_self.pk}/correct", {"correction": "I want to kill myself"}, HTTP_HX_REQUEST="true"
    )
    assert 'class="safety-notice"' in response.content.decode()
    assert chat.calls == []
