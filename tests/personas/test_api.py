"""The JSON API of future selves and avatars."""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from futureself.models import ProviderCall
from futureself.providers.base import ProviderRateLimited, ProviderUnavailable
from personas.models import FutureSelf
from tests.builders import make_future_self, make_profile, sample_card
from tests.fakes.providers import FakeChat

pytestmark = pytest.mark.django_db

GENERATE = "/api/future-self/generate"
SELECT = "/api/future-self/select"
AVATAR = "/api/avatar/generate"


@pytest.fixture
def offline_chat():
    """The chat fake answering through the offline engine, so the whole pipeline runs."""
    from futureself.providers import registry

    chat = FakeChat(fallback_offline=True)
    with registry.use_providers(chat=chat):
        yield chat


@pytest.fixture
def profile(alice):
    return make_profile(owner=alice)


def test_it_generates_one_self_per_option_of_the_profiles_dilemma(alice_api, profile, offline_chat, fake_tts):
    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["profile_id"] == str(profile.pk)
    assert body["dilemma"] == "Take the job in Montreal or stay in Lyon"
    assert [s["path"] for s in body["selves"]] == ["Move to Montreal", "Stay in Lyon"]
    first = body["selves"][0]
    assert set(first) >= {
        "id", "profile_id", "path", "years_ahead", "age", "title", "tagline", "backstory", "memories",
        "gains", "costs", "personality", "voice", "avatar_url", "selected", "created_at",
    }  # fmt: skip
    assert first["years_ahead"] == 10
    assert first["age"] == 44
    assert first["voice"]["voice_id"] in {"voice-older-woman", "voice-young-man", "voice-middle-neutral"}
    assert first["voice"]["name"]
    assert first["avatar_url"] is None
    assert first["selected"] is False
    assert FutureSelf.objects.filter(profile=profile).count() == 2
    assert ProviderCall.objects.filter(task="personas", interview=profile.interview).exists()


def test_given_dilemma_options_and_unexpected_path_are_used(alice_api, profile, offline_chat, fake_tts):
    response = alice_api.post(
        GENERATE,
        {
            "profile_id": str(profile.pk),
            "dilemma": "Go back to school or keep nursing",
            "options": ["Go back to school", "Keep nursing", "Keep nursing"],
            "years_ahead": 5,
            "include_unexpected": True,
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dilemma"] == "Go back to school or keep nursing"
    assert [s["path"] for s in body["selves"]][:2] == ["Go back to school", "Keep nursing"]
    assert body["selves"][2]["unexpected"] is True
    assert {s["years_ahead"] for s in body["selves"]} == {5}


def test_it_says_so_when_there_is_no_dilemma_anywhere(alice_api, alice, offline_chat, fake_tts):
    profile = make_profile(owner=alice, dilemma={"summary": "", "options": []})

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 422
    assert response.json()["code"] == "no_dilemma"
    assert "no dilemma" in response.json()["detail"].lower()
    assert offline_chat.calls == []


def test_it_asks_for_two_options(alice_api, profile, offline_chat, fake_tts):
    response = alice_api.post(
        GENERATE, {"profile_id": str(profile.pk), "dilemma": "Whether to move", "options": ["Move"]}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "options_required"


@pytest.mark.parametrize("years", [0, 41])
def test_it_rejects_years_ahead_out_of_range(alice_api, profile, offline_chat, fake_tts, years):
    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk), "years_ahead": years})

    assert response.status_code == 422


@pytest.mark.parametrize("error", [ProviderUnavailable("down"), ProviderRateLimited("slow down", retry_after=3)])
def test_a_provider_failure_is_a_retryable_503_that_stores_nothing(alice_api, profile, fake_chat, fake_tts, error):
    fake_chat.enqueue(error)

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 503
    assert response.json()["retryable"] is True
    assert response.json()["code"] == error.code
    assert not FutureSelf.objects.exists()


def test_an_invalid_card_twice_is_a_503_that_stores_nothing(alice_api, profile, fake_chat, fake_tts):
    only_one = {"selves": [sample_card("Move to Montreal")]}
    fake_chat.enqueue(only_one, only_one)

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 503
    assert response.json()["code"] == "provider_bad_response"
    assert not FutureSelf.objects.exists()


def test_a_retry_after_a_failure_generates_the_selves(alice_api, profile, fake_chat, fake_tts):
    fake_chat.enqueue(ProviderUnavailable("down"))
    assert alice_api.post(GENERATE, {"profile_id": str(profile.pk)}).status_code == 503
    fake_chat.fallback_offline = True

    response = alice_api.post(GENERATE, {"profile_id": str(profile.pk)})

    assert response.status_code == 200
    assert FutureSelf.objects.filter(profile=profile).count() == 2


def test_it_returns_404_for_another_users_profile(bob_api, profile, offline_chat, fake_tts):
    assert bob_api.post(GENERATE, {"profile_id": str(profile.pk)}).status_code == 404


def test_it_returns_401_for_an_anonymous_visitor(anon_api, profile):
    assert anon_api.post(GENERATE, {"profile_id": str(profile.pk)}).status_code == 401


# --- select ------------------------------------------------------------------------


def test_select_starts_a_new_conversation_each_time(alice_api, alice):
    future_self = make_future_self(owner=alice)

    first = alice_api.post(SELECT, {"future_self_id": str(future_self.pk)})
    second = alice_api.post(SELECT, {"future_self_id": str(future_self.pk)})

    assert first.status_code == 200, first.content
    body = first.json()
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.future_self == future_self
    assert body["stream_url"] == f"/conversation/stream?conversation_id={conversation.pk}"
    assert body["future_self"]["id"] == str(future_self.pk)
    assert body["future_self"]["selected"] is True
    assert second.json()["conversation_id"] != body["conversation_id"]
    assert Conversation.objects.filter(future_self=future_self).count() == 2


def test_select_returns_404_for_another_users_self(bob_api, alice):
    future_self = make_future_self(owner=alice)

    assert bob_api.post(SELECT, {"future_self_id": str(future_self.pk)}).status_code == 404
    assert not Conversation.objects.exists()


def test_select_returns_401_for_an_anonymous_visitor(anon_api, alice):
    future_self = make_future_self(owner=alice)

    assert anon_api.post(SELECT, {"future_self_id": str(future_self.pk)}).status_code == 401


# --- reads -------------------------------------------------------------------------


def test_it_shows_a_future_self_to_its_owner_only(alice_api, bob_api, anon_api, alice):
    future_self = make_future_self(owner=alice)
    url = f"/api/future-self/{future_self.pk}"

    response = alice_api.get(url)

    assert response.status_code == 200
    assert response.json()["title"] == "Maya who chose: Move to Montreal"
    assert response.json()["memories"][1] == {
        "text": "Telling Tom I wanted to try.",
        "kind": "grounded",
        "source": "relationships: Tom",
    }
    assert bob_api.get(url).status_code == 404
    assert anon_api.get(url).status_code == 401


def test_it_lists_the_future_selves_of_a_profile(alice_api, bob_api, alice):
    profile = make_profile(owner=alice)
    selves = [make_future_self(profile=profile, path=p) for p in ("Move to Montreal", "Stay in Lyon")]
    make_future_self(owner=alice)  # another profile's
    url = f"/api/profile/{profile.pk}/future-selves"

    response = alice_api.get(url)

    assert response.status_code == 200
    assert {s["id"] for s in response.json()} == {str(s.pk) for s in selves}
    assert bob_api.get(url).status_code == 404


def test_the_profile_list_shows_the_newest_generation_first_each_in_its_order(alice_api, alice, offline_chat, fake_tts):
    profile = make_profile(owner=alice)
    alice_api.post(GENERATE, {"profile_id": str(profile.pk), "years_ahead": 5})
    alice_api.post(GENERATE, {"profile_id": str(profile.pk), "years_ahead": 20, "include_unexpected": True})

    selves = alice_api.get(f"/api/profile/{profile.pk}/future-selves").json()

    assert [(s["years_ahead"], s["path"]) for s in selves][:2] == [(20, "Move to Montreal"), (20, "Stay in Lyon")]
    assert selves[2]["unexpected"] is True
    assert [(s["years_ahead"], s["path"]) for s in selves][3:] == [(5, "Move to Montreal"), (5, "Stay in Lyon")]


# --- avatars ---------------------------------------------------------------------------


def test_it_draws_an_avatar_and_then_returns_the_existing_one(alice_api, alice, fake_image):
    future_self = make_future_self(owner=alice)

    first = alice_api.post(AVATAR, {"future_self_id": str(future_self.pk)})
    second = alice_api.post(AVATAR, {"future_self_id": str(future_self.pk)})

    assert first.status_code == 200, first.content
    body = first.json()
    assert body["future_self_id"] == str(future_self.pk)
    assert body["provider"] == "fake"
    assert body["content_type"] == "image/png"
    assert body["avatar_url"].startswith(f"/selves/{future_self.pk}/avatar?v=")
    assert second.json() == body
    assert len(fake_image.calls) == 1
    assert alice_api.get(body["avatar_url"]).status_code == 200
    assert alice_api.get(f"/api/future-self/{future_self.pk}").json()["avatar_url"] == body["avatar_url"]


def test_regenerate_replaces_the_avatar_and_deletes_the_old_file(
    alice_api, alice, fake_image, django_capture_on_commit_callbacks
):
    future_self = make_future_self(owner=alice)
    first = alice_api.post(AVATAR, {"future_self_id": str(future_self.pk)}).json()
    old_name = FutureSelf.objects.get(pk=future_self.pk).avatar.name

    with django_capture_on_commit_callbacks(execute=True):
        second = alice_api.post(AVATAR, {"future_self_id": str(future_self.pk), "regenerate": True})

    assert second.status_code == 200
    assert second.json()["avatar_url"] != first["avatar_url"]
    stored = FutureSelf.objects.get(pk=future_self.pk).avatar
    assert stored.name != old_name
    assert stored.storage.exists(stored.name)
    assert not stored.storage.exists(old_name)
    assert len(fake_image.calls) == 2


def test_an_image_failure_is_a_retryable_503_and_keeps_the_old_avatar(alice_api, alice, fake_image):
    future_self = make_future_self(owner=alice)
    alice_api.post(AVATAR, {"future_self_id": str(future_self.pk)})
    old_name = FutureSelf.objects.get(pk=future_self.pk).avatar.name
    fake_image.failures.append(ProviderUnavailable("image service down"))

    response = alice_api.post(AVATAR, {"future_self_id": str(future_self.pk), "regenerate": True})

    assert response.status_code == 503
    assert response.json()["retryable"] is True
    assert FutureSelf.objects.get(pk=future_self.pk).avatar.name == old_name


def test_avatar_returns_404_for_another_users_self(bob_api, alice, fake_image):
    future_self = make_future_self(owner=alice)

    assert bob_api.post(AVATAR, {"future_self_id": str(future_self.pk)}).status_code == 404
    assert fake_image.calls == []


# --- correction ----------------------------------------------------------------------------


def test_thats_not_me_rewrites_the_card_for_the_same_path(alice_api, bob_api, alice, fake_chat, fake_tts):
    future_self = make_future_self(owner=alice, path="Stay in Lyon")
    fake_chat.enqueue({"selves": [sample_card("Stay in Lyon", tagline="Still here, still nursing.")]})
    url = f"/api/future-self/{future_self.pk}/correct"

    response = alice_api.post(url, {"correction": "I would never stop nursing."})

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(future_self.pk)
    assert response.json()["path"] == "Stay in Lyon"
    assert response.json()["tagline"] == "Still here, still nursing."
    assert "I would never stop nursing." in fake_chat.calls[0].messages[-1].content
    assert bob_api.post(url, {"correction": "x"}).status_code == 404
