"""The conversation page, End and debrief, and the debrief page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation, Debrief
from futureself.providers.base import ProviderUnavailable
from tests.builders import make_conversation

pytestmark = pytest.mark.django_db


def detail_url(conversation) -> str:
    return reverse("conversations:detail", kwargs={"pk": conversation.pk})


def test_the_page_shows_the_self_the_notice_the_history_and_the_socket(alice_client, alice_self):
    conversation = make_conversation(
        future_self=alice_self, messages=[("user", "Was it worth it?"), ("future_self", "Most days, yes.")]
    )
    response = alice_client.get(detail_url(conversation))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Maya who chose: Move to Montreal" in html
    assert "AI, not a real person." in html
    assert "Was it worth it?" in html
    assert "Most days, yes." in html
    assert 'aria-live="polite"' in html
    assert f'data-stream-path="/conversation/stream?conversation_id={conversation.pk}"' in html
    assert 'src="/static/js/conversation.js"' in html
    assert "End and debrief" in html
    assert 'class="chat__avatar chat__avatar--placeholder"' in html
    # CSP: the module script carries the nonce; no inline handlers or styles.
    assert 'type="module"' in html
    assert " onclick=" not in html
    assert ' style="' not in html


def test_the_page_returns_404_for_another_users_conversation(bob, conversation):
    client = Client()
    client.force_login(bob)
    assert client.get(detail_url(conversation)).status_code == 404


def test_the_page_returns_404_for_an_anonymous_visitor(conversation):
    assert Client().get(detail_url(conversation)).status_code == 404


def test_end_and_debrief_leads_to_the_debrief_page(alice_client, alice_self):
    conversation = make_conversation(
        future_self=alice_self, messages=[("user", "I am afraid of being lonely without Lea.")]
    )
    response = alice_client.post(reverse("conversations:end", kwargs={"pk": conversation.pk}))
    debrief_url = reverse("conversations:debrief", kwargs={"pk": conversation.pk})
    assert response.status_code == 302
    assert response["Location"] == debrief_url
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ENDED

    page = alice_client.get(debrief_url).content.decode()
    assert "Your debrief" in page
    assert "I am afraid of being lonely without Lea." in page
    assert "One small next step" in page


def test_end_and_debrief_over_htmx_redirects_the_client(alice_client, alice_self):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Hello")])
    response = alice_client.post(reverse("conversations:end", kwargs={"pk": conversation.pk}), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("conversations:debrief", kwargs={"pk": conversation.pk})


def test_ending_an_empty_conversation_goes_back_with_a_message(alice_client, conversation):
    response = alice_client.post(reverse("conversations:end", kwargs={"pk": conversation.pk}), follow=True)
    assert response.redirect_chain[-1][0] == detail_url(conversation)
    assert "Nothing was said in this conversation yet" in response.content.decode()
    assert not Debrief.objects.exists()


def test_a_provider_failure_shows_a_retry_on_the_debrief_page(alice_client, alice_self, fake_chat):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Hello")])
    fake_chat.enqueue(ProviderUnavailable("down", provider="fake"))
    response = alice_client.post(reverse("conversations:end", kwargs={"pk": conversation.pk}), follow=True)
    page = response.content.decode()
    assert "We could not write your debrief just now" in page
    assert "Write my debrief" in page
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ACTIVE


def test_an_ended_conversation_shows_its_history_without_the_text_box(alice_client, alice_self):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Goodbye")])
    Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.ENDED)
    html = alice_client.get(detail_url(conversation)).content.decode()
    assert "Goodbye" in html
    assert "This conversation has ended." in html
    assert "<textarea" not in html


def test_end_requires_post(alice_client, conversation):
    assert alice_client.get(reverse("conversations:end", kwargs={"pk": conversation.pk})).status_code == 405


def test_a_web_guest_sees_their_own_conversation_through_the_session():
    from futureself.ownership import GUEST_SESSION_KEY
    from tests.builders import make_future_self, make_interview, make_profile

    interview = make_interview(guest_key="guest-key-2", answers=["I'm Maya."], status="completed")
    conversation = make_conversation(future_self=make_future_self(profile=make_profile(interview=interview)))
    guest = Client()
    session = guest.session
    session[GUEST_SESSION_KEY] = "guest-key-2"
    session.save()
    assert guest.get(detail_url(conversation)).status_code == 200

    stranger = Client()
    session = stranger.session
    session[GUEST_SESSION_KEY] = "someone-else"
    session.save()
    assert stranger.get(detail_url(conversation)).status_code == 404
