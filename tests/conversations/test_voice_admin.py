"""Staff see each reply's voice latency breakdown in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.models import Message
from tests.builders import make_conversation

pytestmark = pytest.mark.django_db

TIMINGS = {
    "stt_ms": 310,
    "saved_ms": 318,
    "llm_first_token_ms": 420,
    "first_sentence_ms": 480,
    "tts_first_audio_ms": 95,
    "first_audio_ms": 640,
    "total_ms": 2100,
}


@pytest.fixture
def spoken_reply(alice_self):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Hi"), ("future_self", "Hello.")])
    Message.objects.filter(conversation=conversation, role="future_self").update(timings=TIMINGS)
    return conversation


def test_staff_see_the_latency_breakdown_on_the_conversation(client, staff, spoken_reply):
    client.force_login(staff)
    page = client.get(reverse("admin:conversations_conversation_change", args=[spoken_reply.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        "speech-to-text 310 · saved 318 · first token 420 · first sentence 480 · TTS first audio 95"
        " · first audio sent 640 · total 2100"
    ) in text


def test_staff_can_list_messages_with_their_voice_timings(client, staff, spoken_reply):
    client.force_login(staff)
    page = client.get(reverse("admin:conversations_message_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "first audio sent (ms)" in text.lower()
    assert "640" in text


def test_people_who_are_not_staff_cannot_open_the_admin(client, alice, spoken_reply):
    client.force_login(alice)
    page = client.get(reverse("admin:conversations_conversation_change", args=[spoken_reply.pk]))
    assert page.status_code == 302
