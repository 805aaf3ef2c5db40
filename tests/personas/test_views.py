"""The HTMX pages: generate panel, selves page, avatars, talk and "That's not me"."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation
from futureself.ownership import GUEST_SESSION_KEY
from futureself.providers import registry
from futureself.providers.base import ProviderUnavailable
from personas.models import FutureSelf
from tests.builders import make_future_self, make_interview, make_profile, sample_card
from tests.fakes.providers import FakeChat, FakeImageGenerator

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def offline_chat():
    chat = FakeChat(fallback_offline=True)
    with registry.use_providers(chat=chat):
        yield chat


@pytest.fixture
def profile(alice):
    return make_profile(owner=alice)


def _generation(profile, paths=("Move to Montreal", "Stay in Lyon", "Work part-time in both")):
    selves = [make_future_self(profile=profile, path=path) for path in paths]
    generation_id = selves[0].generation_id
    for position, future_self in enumerate(selves):
        FutureSelf.objects.filter(pk=future_self.pk).update(generation_id=generation_id, position=position)
    return generation_id, selves


# --- generate panel ---------------------------------------------------------------------


def test_the_generate_panel_shows_the_profiles_dilemma_and_options(alice_client, profile):
    response = alice_client.get(reverse("personas:generate", args=[profile.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Take the job in Montreal or stay in Lyon" in html
    assert 'value="Move to Montreal"' in html
    assert 'value="Stay in Lyon"' in html
    assert 'name="years_ahead"' in html
    assert "Add an unexpected path" in html
    assert 'id="generate-progress"' in html


def test_generating_redirects_to_the_selves_page(alice_client, profile, offline_chat, fake_tts):
    response = alice_client.post(
        reverse("personas:generate", args=[profile.pk]),
        {
            "dilemma": "Take the job in Montreal or stay in Lyon",
            "options": ["Move to Montreal", "Stay in Lyon", ""],
            "years_ahead": "12",
            "include_unexpected": "on",
        },
        **HTMX,
    )

    selves = list(FutureSelf.objects.filter(profile=profile).order_by("position"))
    assert [s.path for s in selves][:2] == ["Move to Montreal", "Stay in Lyon"]
    assert len(selves) == 3
    assert {s.years_ahead for s in selves} == {12}
    assert response["HX-Redirect"] == reverse("personas:futures", args=[selves[0].generation_id])


def test_a_provider_failure_shows_an_inline_error_with_retry_and_keeps_the_form(
    alice_client, profile, fake_chat, fake_tts
):
    fake_chat.enqueue(ProviderUnavailable("down"))

    response = alice_client.post(
        reverse("personas:generate", args=[profile.pk]),
        {"dilemma": "Lyon or Montreal, really", "options": ["Move to Montreal", "Stay in Lyon"], "years_ahead": "7"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html
    assert "try again" in html.lower()
    assert "Lyon or Montreal, really" in html
    assert 'value="7"' in html
    assert not FutureSelf.objects.exists()


def test_no_dilemma_is_explained_on_the_page(alice_client, alice, fake_chat):
    profile = make_profile(owner=alice, dilemma={"summary": "", "options": []})

    response = alice_client.post(reverse("personas:generate", args=[profile.pk]), {"dilemma": "", "options": []})

    assert response.status_code == 422
    assert "no dilemma" in response.content.decode().lower()
    assert fake_chat.calls == []


def test_the_generate_page_is_404_for_others(client, bob, profile):
    url = reverse("personas:generate", args=[profile.pk])
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404
    assert client.post(url, {"dilemma": "x"}).status_code == 404


# --- selves page ------------------------------------------------------------------------


def test_the_selves_page_shows_every_card_without_waiting_for_avatars(alice_client, profile, fake_image):
    generation_id, selves = _generation(profile)

    response = alice_client.get(reverse("personas:futures", args=[generation_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert fake_image.calls == []  # portraits come later, from their own request
    assert html.count('class="self-card panel"') == 3
    for future_self in selves:
        assert f'id="avatar-{future_self.pk}"' in html
    assert html.index("Move to Montreal") < html.index("Stay in Lyon") < html.index("Work part-time in both")
    assert "I found my footing, and it cost me something." in html
    assert "From what you said" in html
    assert "Imagined" in html
    assert "Builds on relationships: Tom" in html
    assert "A ward of my own" in html
    assert "Seeing Lea twice a year" in html
    assert html.count("Talk to this self") == 3
    assert html.count("That&#x27;s not me") == 3 or html.count("That's not me") == 3
    assert reverse("personas:avatars", args=[generation_id]) in html


def test_the_selves_page_is_404_for_another_user(client, bob, profile):
    generation_id, _ = _generation(profile)
    client.force_login(bob)

    assert client.get(reverse("personas:futures", args=[generation_id])).status_code == 404


def test_a_guest_sees_their_own_selves_only():
    interview = make_interview(guest_key="guest-one", status="completed")
    generation_id, _ = _generation(make_profile(interview=interview))
    owner, stranger = Client(), Client()
    for client, key in ((owner, "guest-one"), (stranger, "guest-two")):
        session = client.session
        session[GUEST_SESSION_KEY] = key
        session.save()

    assert owner.get(reverse("personas:futures", args=[generation_id])).status_code == 200
    assert stranger.get(reverse("personas:futures", args=[generation_id])).status_code == 404


def test_missing_avatars_are_drawn_together_and_swapped_in(alice_client, profile):
    generation_id, selves = _generation(profile)
    image = FakeImageGenerator(delay=0.4)

    with registry.use_providers(image=image):
        started = time.perf_counter()
        response = alice_client.get(reverse("personas:avatars", args=[generation_id]), **HTMX)
        elapsed = time.perf_counter() - started

    html = response.content.decode()
    assert response.status_code == 200
    assert len(image.calls) == 3
    assert elapsed < 1.0  # one after another would take 1.2 s
    for future_self in selves:
        future_self.refresh_from_db()
        assert future_self.avatar
        assert f'id="avatar-{future_self.pk}" hx-swap-oob="outerHTML"' in html
        assert f"/selves/{future_self.pk}/avatar?v=" in html


def test_a_failed_avatar_offers_a_retry_while_the_others_load(alice_client, profile, fake_image):
    generation_id, selves = _generation(profile, paths=("Move to Montreal", "Stay in Lyon"))
    fake_image.failures.append(ProviderUnavailable("image service down"))

    html = alice_client.get(reverse("personas:avatars", args=[generation_id]), **HTMX).content.decode()

    assert html.count("Retry portrait") == 1
    assert html.count("<img") == 1

    retried = alice_client.get(reverse("personas:avatar_figure", args=[selves[0].pk]), **HTMX).content.decode()
    assert "<img" in retried


def test_the_avatar_is_served_to_its_owner_with_its_type_and_cache_headers(
    alice_client, client, bob, alice, fake_image
):
    future_self = make_future_self(owner=alice)
    url = reverse("personas:avatar", args=[future_self.pk])

    response = alice_client.get(url)  # drawn on first request

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert len(fake_image.calls) == 1
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404


# --- talk -----------------------------------------------------------------------------------


def test_talk_starts_a_conversation_and_opens_it(alice_client, alice):
    future_self = make_future_self(owner=alice)

    response = alice_client.post(reverse("personas:talk", args=[future_self.pk]))

    conversation = Conversation.objects.get(future_self=future_self)
    assert response.status_code == 302
    assert response["Location"] == reverse("conversations:detail", kwargs={"pk": conversation.pk})
    future_self.refresh_from_db()
    assert future_self.selected_at is not None


def test_talk_is_404_for_another_user(client, bob, alice):
    future_self = make_future_self(owner=alice)
    client.force_login(bob)

    assert client.post(reverse("personas:talk", args=[future_self.pk])).status_code == 404
    assert not Conversation.objects.exists()


# --- "That's not me" ---------------------------------------------------------------------


def test_thats_not_me_replaces_the_card_for_the_same_path(alice_client, alice, fake_chat, fake_tts, fake_image):
    future_self = make_future_self(owner=alice, path="Stay in Lyon")
    fake_chat.enqueue({"selves": [sample_card("Stay in Lyon", tagline="Still nursing, still here.")]})

    response = alice_client.post(
        reverse("personas:correct", args=[future_self.pk]), {"correction": "I'd never leave nursing."}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Still nursing, still here." in html
    assert f'id="self-{future_self.pk}"' in html
    assert f'hx-get="{reverse("personas:avatar_figure", args=[future_self.pk])}"' in html  # new portrait, lazily
    future_self.refresh_from_db()
    assert future_self.path == "Stay in Lyon"
    assert future_self.card["tagline"] == "Still nursing, still here."
    assert future_self.corrections[0]["text"] == "I'd never leave nursing."
    assert future_self.corrections[0]["applied"] is True
    request = fake_chat.calls[0]
    assert "I'd never leave nursing." not in request.messages[0].content
    assert "<correction>" in request.messages[1].content


def test_a_failed_rewrite_keeps_the_correction_and_retry_continues(alice_client, alice, fake_chat, fake_tts):
    future_self = make_future_self(owner=alice, path="Stay in Lyon")
    fake_chat.enqueue(ProviderUnavailable("down"))
    url = reverse("personas:correct", args=[future_self.pk])

    failed = alice_client.post(url, {"correction": "I'd never leave nursing."}, **HTMX).content.decode()

    assert 'role="alert"' in failed
    assert "Retry" in failed
    assert "I&#x27;d never leave nursing." in failed or "I'd never leave nursing." in failed
    future_self.refresh_from_db()
    assert future_self.card["tagline"] == sample_card()["tagline"]
    assert [c["applied"] for c in future_self.corrections] == [False]

    fake_chat.enqueue({"selves": [sample_card("Stay in Lyon", tagline="Redrawn.")]})
    alice_client.post(url, {"correction": "I'd never leave nursing."}, **HTMX)

    future_self.refresh_from_db()
    assert future_self.card["tagline"] == "Redrawn."
    assert [c["applied"] for c in future_self.corrections] == [True]


def test_a_rewrite_is_404_for_another_user(client, bob, alice, fake_chat):
    future_self = make_future_self(owner=alice)
    client.force_login(bob)

    assert client.post(reverse("personas:correct", args=[future_self.pk]), {"correction": "x"}).status_code == 404
    assert fake_chat.calls == []
