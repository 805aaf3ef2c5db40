"""Logs never contain what the person said (nor API keys)."""

from __future__ import annotations

import logging

import pytest

from futureself.providers import registry
from tests.builders import SAMPLE_ANSWERS
from tests.fakes.providers import FakeChat, FakeImageGenerator, FakeTextToSpeech
from tests.futureself.offline_session import CONVERSATION_LINES, run_offline_session

pytestmark = pytest.mark.django_db

MARKED_ANSWERS = [f"{answer} (marker Quokka-{n})" for n, answer in enumerate(SAMPLE_ANSWERS)]
RISKY = "Quokka-risk I want to kill myself"


def test_a_whole_session_logs_none_of_the_persons_words(alice_client, caplog, settings):
    settings.RATE_LIMITS_ENABLED = False
    settings.MISTRAL_API_KEY = "sk-test-should-never-be-logged"
    caplog.set_level(logging.DEBUG)
    with registry.use_providers(
        chat=FakeChat(fallback_offline=True), tts=FakeTextToSpeech(), image=FakeImageGenerator()
    ):
        session = run_offline_session(alice_client, answers=[*MARKED_ANSWERS[:3], RISKY, *MARKED_ANSWERS[3:]])

    assert session.interview.safety_events.count() == 1  # the check fired and logged it
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "safety check fired" in text
    assert "Quokka" not in text
    for line in CONVERSATION_LINES:
        assert line not in text
    assert "kill myself" not in text
    assert "sk-test-should-never-be-logged" not in text


# --- the conversation socket ----------------------------------------------------------------------

TYPED = "Quokka-typed Was moving to Montreal worth it?"
SPOKEN = "Quokka-spoken Should I call my sister more often?"
REPLIES = [
    "Quokka-reply-one I moved in the spring. The first winter was long.",
    "Quokka-reply-two Call her on Sundays.",
]


class AdapterBug(Exception):
    """A bug inside a TTS adapter (not a ProviderError): the pipeline logs it with its traceback."""


@pytest.mark.django_db(transaction=True)
async def test_typed_and_spoken_turns_over_the_socket_log_none_of_the_words(alice, caplog, settings):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from conversations.consumers import ConversationConsumer
    from tests.builders import make_conversation
    from tests.conversations.voice_helpers import collect, events, speak
    from tests.fakes.providers import FakeSpeechToText

    settings.RATE_LIMITS_ENABLED = False
    caplog.set_level(logging.DEBUG)
    conversation = await database_sync_to_async(make_conversation)(owner=alice)
    chat = FakeChat().enqueue(*REPLIES)
    stt = FakeSpeechToText().enqueue(SPOKEN)
    tts = FakeTextToSpeech(fail_with=AdapterBug("the adapter could not decode the audio chunk"))
    with registry.use_providers(chat=chat, stt=stt, tts=tts):
        communicator = WebsocketCommunicator(ConversationConsumer.as_asgi(), "/conversation/stream")
        communicator.scope["user"] = alice
        assert (await communicator.connect())[0]
        await communicator.send_json_to(
            {"type": "start", "conversation_id": str(conversation.pk), "output_audio": "pcm_16000"}
        )
        assert (await communicator.receive_json_from(3))["voice_enabled"] is True

        # A typed turn whose speech fails inside the adapter: the reply goes on as text.
        await communicator.send_json_to({"type": "text", "text": TYPED})
        typed = events(await collect(communicator))
        assert any(e["type"] == "error" and e.get("stage") == "tts" for e in typed)
        assert typed[-1]["text"] == REPLIES[0]

        # A spoken turn, spoken back.
        tts.fail_with = None
        await speak(communicator)
        spoken = events(await collect(communicator))
        assert spoken[0] == {"type": "transcript", "text": SPOKEN, "final": True}
        assert spoken[-1]["text"] == REPLIES[1]
        await communicator.disconnect()

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "speech synthesis failed" in logged  # the logger.exception path ran
    everything = caplog.text  # messages and formatted tracebacks
    assert "AdapterBug" in everything
    assert "Quokka" not in everything
    for words in (TYPED, SPOKEN, *REPLIES, "Montreal worth it", "call my sister", "first winter", "Sundays"):
        assert words not in everything
