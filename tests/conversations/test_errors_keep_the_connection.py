"""Every error code the socket sends for a refused or failed turn leaves the connection usable: the
next turn on the same socket is answered (docs/protocol.md, "Error codes")."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from conversations import services
from futureself.providers.base import ProviderBadResponse, ProviderNotConfigured
from tests.conversations.conftest import drain_reply
from tests.conversations.voice_helpers import FRAME, collect, events, speak, start_voice

pytestmark = pytest.mark.django_db(transaction=True)


async def next_text_turn_is_answered(communicator, fake_chat, reply: str = "Still here.") -> None:
    fake_chat.enqueue(reply)
    await communicator.send_json_to({"type": "text", "text": "Are you still there?"})
    _, _, end = await drain_reply(communicator)
    assert (end["text"], end["interrupted"]) == (reply, False)


async def next_spoken_turn_is_answered(communicator, fake_chat, fake_stt) -> None:
    fake_stt.enqueue("Can you hear me now?")
    fake_chat.enqueue("I can.")
    await speak(communicator)
    frames = events(await collect(communicator))
    assert frames[0] == {"type": "transcript", "text": "Can you hear me now?", "final": True}
    assert frames[-1]["text"] == "I can."


async def test_missing_conversation_id_then_a_good_start(alice, conversation, connect_as, fake_chat):
    communicator = await connect_as(alice)
    await communicator.send_json_to({"type": "start"})
    error = await communicator.receive_json_from(3)
    assert (error["type"], error["code"], error["retryable"]) == ("error", "missing_conversation_id", False)
    assert error["message"]
    assert (await start_voice(communicator, conversation, output_audio="none"))["type"] == "ready"
    await next_text_turn_is_answered(communicator, fake_chat)
    await communicator.disconnect()


async def test_nothing_heard_then_the_next_turn(alice, conversation, connect_as, fake_chat, fake_stt):
    fake_stt.enqueue("   ")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await speak(communicator)
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == ("nothing_heard", False)
    assert await communicator.receive_nothing(0.1)
    await next_spoken_turn_is_answered(communicator, fake_chat, fake_stt)
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("failure", "code", "retryable"),
    [
        (ProviderBadResponse("unusable", provider="fake"), "provider_bad_response", True),
        (ProviderNotConfigured("no key", provider="fake"), "provider_not_configured", False),
    ],
)
async def test_a_chat_provider_error_then_the_next_turn(
    alice, conversation, connect_as, fake_chat, failure, code, retryable
):
    fake_chat.enqueue(failure)
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    reply_start = await communicator.receive_json_from(3)
    error = await communicator.receive_json_from(3)
    assert reply_start["type"] == "reply.start"
    assert (error["type"], error["code"], error["retryable"]) == ("error", code, retryable)
    assert error["message_id"] == reply_start["message_id"]
    await next_text_turn_is_answered(communicator, fake_chat)
    await communicator.disconnect()


async def test_internal_error_outside_the_reply_then_the_next_turn(
    alice, conversation, connect_as, fake_chat, monkeypatch
):
    real = services.amessage_add_user
    calls = []

    async def fails_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("the database hiccuped")
        return await real(**kwargs)

    monkeypatch.setattr(services, "amessage_add_user", fails_once)
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    error = await communicator.receive_json_from(3)
    assert (error["type"], error["code"], error["retryable"]) == ("error", "internal_error", True)
    assert await communicator.receive_nothing(0.1)
    await next_text_turn_is_answered(communicator, fake_chat)
    await communicator.disconnect()


async def test_internal_error_in_the_reply_then_the_next_turn(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue(RuntimeError("a bug in the stream"))
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    assert (await communicator.receive_json_from(3))["type"] == "reply.start"
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == ("internal_error", True)
    await next_text_turn_is_answered(communicator, fake_chat)
    await communicator.disconnect()


async def test_audio_too_large_then_the_next_turn(alice, conversation, connect_as, fake_chat, fake_stt, settings):
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_to(bytes_data=bytes(settings.VOICE_MAX_FRAME_BYTES + 2))
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == ("audio_too_large", False)
    await communicator.send_json_to({"type": "audio.end"})  # ends the dropped utterance, unanswered
    assert await communicator.receive_nothing(0.1)
    await next_spoken_turn_is_answered(communicator, fake_chat, fake_stt)
    await communicator.disconnect()


async def test_audio_too_short_then_the_next_turn(alice, conversation, connect_as, fake_chat, fake_stt):
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await speak(communicator, bytes(FRAME))
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == ("audio_too_short", False)
    await next_spoken_turn_is_answered(communicator, fake_chat, fake_stt)
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("limit", "code", "retryable"),
    [
        ({"RATE_LIMITS": {"ws_turn_user": (1, 60)}}, "rate_limited", True),
        ({"DAILY_BUDGETS": {"llm_tokens": 5}}, "budget_exceeded", False),
    ],
)
async def test_a_limit_then_the_next_turn_once_the_window_has_passed(
    alice, conversation, connect_as, fake_chat, settings, limit, code, retryable
):
    settings.RATE_LIMITS_ENABLED = True
    for name, values in limit.items():
        setattr(settings, name, {**getattr(settings, name), **values})
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await next_text_turn_is_answered(communicator, fake_chat, "First answer.")
    await communicator.send_json_to({"type": "text", "text": "Two"})
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == (code, retryable)
    assert error["retry_after"] >= 1

    await database_sync_to_async(cache.clear)()  # a new window (or a new day): the counters start again
    await next_text_turn_is_answered(communicator, fake_chat)
    await communicator.disconnect()
