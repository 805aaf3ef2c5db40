"""The /conversation/stream consumer, tested alone (scope user set by the test)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from conversations.models import Conversation, Message
from futureself.models import ProviderCall
from futureself.providers.base import ProviderRateLimited, ProviderUnavailable
from tests.builders import make_conversation
from tests.conversations.conftest import drain_reply

pytestmark = pytest.mark.django_db(transaction=True)


async def start(communicator, conversation, **extra) -> dict:
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk), **extra})
    return await communicator.receive_json_from(3)


async def messages_of(conversation) -> list[Message]:
    return await database_sync_to_async(lambda: list(conversation.messages.order_by("position")))()


async def test_start_answers_ready_with_the_future_self_and_the_history(alice, alice_self, connect_as):
    conversation = await database_sync_to_async(make_conversation)(
        future_self=alice_self, messages=[("user", "Hello?"), ("future_self", "Hello, you.")]
    )
    communicator = await connect_as(alice)
    ready = await start(communicator, conversation, output_audio="none")
    assert ready["type"] == "ready"
    assert ready["conversation_id"] == str(conversation.pk)
    assert ready["future_self"]["path"] == "Move to Montreal"
    assert ready["voice_enabled"] is False
    assert [(m["role"], m["text"]) for m in ready["history"]] == [("user", "Hello?"), ("future_self", "Hello, you.")]
    assert ready["awaiting_reply"] is False
    await communicator.disconnect()


async def test_ready_carries_the_ai_disclosure_for_clients_without_a_page(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    ready = await start(communicator, conversation, output_audio="none")
    for phrase in ("an AI", "not a person", "not a prediction", "not therapy", "emergency services"):
        assert phrase in ready["notice"], phrase
    await communicator.disconnect()


async def test_the_conversation_id_may_come_from_the_query_string(alice, conversation, connect_as):
    communicator = await connect_as(alice, f"/conversation/stream?conversation_id={conversation.pk}")
    await communicator.send_json_to({"type": "start"})
    assert (await communicator.receive_json_from(3))["type"] == "ready"
    await communicator.disconnect()


async def test_a_text_turn_streams_one_delta_per_sentence_whose_concatenation_is_the_stored_reply(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue(["I remember", " the first winter.", " It was hard,", " and it was mine."])
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "  Was it worth it?  "})
    reply_start, deltas, end = await drain_reply(communicator)

    assert deltas == ["I remember the first winter.", " It was hard, and it was mine."]
    assert "".join(deltas) == end["text"] == "I remember the first winter. It was hard, and it was mine."
    assert end["message_id"] == reply_start["message_id"]
    assert end["interrupted"] is False
    assert end["timings"]["llm_first_token_ms"] >= 0
    assert end["timings"]["total_ms"] >= end["timings"]["llm_first_token_ms"]
    assert 0 <= end["timings"]["saved_ms"] <= end["timings"]["first_sentence_ms"] <= end["timings"]["total_ms"]
    stored = await messages_of(conversation)
    assert [(m.role, m.text) for m in stored] == [("user", "Was it worth it?"), ("future_self", end["text"])]
    assert str(stored[1].pk) == end["message_id"]
    assert stored[1].timings == end["timings"]
    assert await communicator.receive_nothing(0.1)
    await communicator.disconnect()


async def test_the_prompt_carries_the_persons_message_as_data(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue("Yes.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Do you miss Lea?"})
    await drain_reply(communicator)
    request = fake_chat.calls[-1]
    assert request.task == "conversation"
    assert request.messages[0].role == "system"
    assert "Do you miss Lea?" not in request.messages[0].content
    assert "<person>\nDo you miss Lea?\n</person>" in request.messages[-1].content
    await communicator.disconnect()


async def test_provider_calls_are_recorded_against_the_conversation(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue("Yes.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Hi"})
    await drain_reply(communicator)
    await communicator.disconnect()
    calls = await database_sync_to_async(lambda: list(ProviderCall.objects.filter(conversation=conversation)))()
    assert [(c.task, c.outcome) for c in calls] == [("conversation", "ok")]


async def test_interrupt_mid_stream_stores_the_partial_reply_as_interrupted(alice, conversation, connect_as, fake_chat):
    fake_chat.chunk_delay = 0.05
    fake_chat.enqueue([f"Sentence {i}. " for i in range(100)])
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Tell me everything."})
    reply_start = await communicator.receive_json_from(3)
    deltas = [(await communicator.receive_json_from(3))["text"] for _ in range(3)]

    await communicator.send_json_to({"type": "interrupt"})
    while True:
        event = await communicator.receive_json_from(3)
        if event["type"] != "reply.delta":
            break
        deltas.append(event["text"])

    assert event["type"] == "reply.end"
    assert event["interrupted"] is True
    assert event["message_id"] == reply_start["message_id"]
    assert event["text"] == "".join(deltas)
    assert 3 <= len(deltas) < 100
    # Nothing of the interrupted reply arrives after its reply.end.
    assert await communicator.receive_nothing(0.3)
    stored = (await messages_of(conversation))[-1]
    assert (stored.role, stored.text, stored.interrupted) == ("future_self", event["text"], True)
    assert stored.timings["total_ms"] >= 0

    # The conversation goes on after an interrupt.
    fake_chat.chunk_delay = 0
    fake_chat.enqueue("Of course.")
    await communicator.send_json_to({"type": "text", "text": "Sorry, go on."})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Of course."
    await communicator.disconnect()


async def test_interrupt_with_nothing_streaming_is_ignored(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "interrupt"})
    assert await communicator.receive_nothing(0.2)
    await communicator.disconnect()


async def test_a_new_text_while_a_reply_streams_is_rejected_as_busy(alice, conversation, connect_as, fake_chat):
    fake_chat.chunk_delay = 0.05
    fake_chat.enqueue(["one", " two", " three", " four", " five"])
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "First"})
    assert (await communicator.receive_json_from(3))["type"] == "reply.start"
    await communicator.send_json_to({"type": "text", "text": "Second"})
    events = []
    while not events or events[-1]["type"] != "reply.end":
        events.append(await communicator.receive_json_from(3))
    errors = [e for e in events if e["type"] == "error"]
    assert errors == [{"type": "error", "code": "busy", "message": errors[0]["message"], "retryable": True}]
    assert events[-1]["text"] == "one two three four five"
    assert [m.text for m in await messages_of(conversation)] == ["First", "one two three four five"]
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"no_type": 1}', "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "text", "text": ""}', "empty_text"),
        ('{"type": "text", "text": "   "}', "empty_text"),
        ('{"type": "text", "text": 42}', "empty_text"),
        ('{"type": "text", "text": "' + "x" * 4001 + '"}', "text_too_long"),
        ('{"type": "retry"}', "nothing_to_retry"),
        ('{"type": "start"}', "already_started"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_connection_stays_usable(
    alice, conversation, connect_as, fake_chat, frame, code
):
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from(3)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert error["retryable"] is False

    fake_chat.enqueue("Still here.")
    await communicator.send_json_to({"type": "text", "text": "Still there?"})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Still here."
    await communicator.disconnect()


async def test_a_text_of_exactly_the_limit_is_accepted(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue("That was a lot.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "x" * 4000})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "That was a lot."
    await communicator.disconnect()


async def test_audio_without_a_speech_to_text_service_says_which_key_enables_it(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_to(bytes_data=b"\x00\x01")
    error = await communicator.receive_json_from(3)
    assert error["code"] == "provider_not_configured"
    assert error["stage"] == "stt"
    assert "ELEVENLABS_API_KEY" in error["message"]
    await communicator.send_json_to({"type": "interrupt"})
    assert await communicator.receive_nothing(0.1)
    await communicator.disconnect()


@pytest.mark.parametrize("frame", ['{"type": "text", "text": "hi"}', '{"type": "interrupt"}', '{"type": "end"}'])
async def test_messages_before_start_get_not_started(alice, conversation, connect_as, frame):
    communicator = await connect_as(alice)
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from(3)
    assert (error["type"], error["code"]) == ("error", "not_started")
    assert (await start(communicator, conversation))["type"] == "ready"
    await communicator.disconnect()


async def test_an_invalid_output_audio_is_refused_and_start_can_be_sent_again(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    error = await start(communicator, conversation, output_audio="wav")
    assert error["code"] == "bad_output_audio"
    assert (await start(communicator, conversation, output_audio="mp3_44100_128"))["type"] == "ready"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (ProviderUnavailable("timeout", provider="fake"), "provider_unavailable"),
        (ProviderRateLimited("429", provider="fake"), "provider_rate_limited"),
    ],
)
async def test_a_provider_failure_keeps_the_message_and_retry_answers_it(
    alice, conversation, connect_as, fake_chat, failure, code
):
    fake_chat.enqueue(failure, "Here I am.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Are you there?"})
    reply_start = await communicator.receive_json_from(3)
    error = await communicator.receive_json_from(3)
    assert error["type"] == "error"
    assert (error["code"], error["retryable"]) == (code, True)
    assert error["message_id"] == reply_start["message_id"]
    assert [(m.role, m.text) for m in await messages_of(conversation)] == [("user", "Are you there?")]

    await communicator.send_json_to({"type": "retry"})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Here I am."
    assert [(m.role, m.text) for m in await messages_of(conversation)] == [
        ("user", "Are you there?"),
        ("future_self", "Here I am."),
    ]
    await communicator.disconnect()


async def test_a_failure_mid_stream_saves_nothing_of_the_reply(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue(["Half a thought.", " And then", ProviderUnavailable("reset", provider="fake")])
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Go on"})
    events = [await communicator.receive_json_from(3) for _ in range(3)]
    assert [e["type"] for e in events] == ["reply.start", "reply.delta", "error"]
    assert events[-1]["code"] == "provider_unavailable"
    assert [m.role for m in await messages_of(conversation)] == ["user"]
    await communicator.disconnect()


class Bug(RuntimeError):
    """A failure no step expects (not a ProviderError)."""


async def test_an_unexpected_failure_before_the_first_delta_ends_the_turn_with_internal_error(
    alice, conversation, connect_as, fake_chat, caplog
):
    fake_chat.enqueue(Bug("the model client broke on Are you there?"), "Here I am.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Are you there?"})
    reply_start = await communicator.receive_json_from(3)
    error = await communicator.receive_json_from(3)
    assert reply_start["type"] == "reply.start"
    assert error == {
        "type": "error",
        "code": "internal_error",
        "message": error["message"],
        "retryable": True,
        "message_id": reply_start["message_id"],
    }
    assert error["message"]
    assert await communicator.receive_nothing(0.1)
    # Nothing of the reply is stored, so the person's message can be answered by a retry.
    assert [(m.role, m.text) for m in await messages_of(conversation)] == [("user", "Are you there?")]
    logged = caplog.text
    assert "Bug" in logged
    assert "Are you there?" not in logged

    await communicator.send_json_to({"type": "retry"})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Here I am."
    await communicator.disconnect()


async def test_an_unexpected_failure_mid_stream_keeps_what_was_shown_and_ends_with_internal_error(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue(["Half a thought.", " And then", Bug("boom")], "Still here.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Go on"})
    events = [await communicator.receive_json_from(3) for _ in range(4)]
    assert [e["type"] for e in events] == ["reply.start", "reply.delta", "reply.end", "error"]
    reply_start, delta, end, error = events
    assert (end["message_id"], end["text"], end["interrupted"]) == (reply_start["message_id"], delta["text"], True)
    assert (error["code"], error["retryable"]) == ("internal_error", True)
    assert "message_id" not in error  # the reply is over and stored: the client keeps it
    assert await communicator.receive_nothing(0.1)
    stored = await messages_of(conversation)
    assert [(m.role, m.text, m.interrupted) for m in stored] == [
        ("user", "Go on", False),
        ("future_self", "Half a thought.", True),
    ]

    # The connection takes the next turn.
    await communicator.send_json_to({"type": "text", "text": "Are you all right?"})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Still here."
    await communicator.disconnect()


async def test_resending_the_unanswered_text_does_not_duplicate_it(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue(ProviderUnavailable("down", provider="fake"), "Now I can answer.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    await communicator.receive_json_from(3)
    assert (await communicator.receive_json_from(3))["type"] == "error"
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    _, _, end = await drain_reply(communicator)
    assert end["text"] == "Now I can answer."
    assert [m.text for m in await messages_of(conversation)] == ["Hello?", "Now I can answer."]
    await communicator.disconnect()


async def test_ready_says_when_the_last_message_awaits_a_reply(alice, alice_self, connect_as):
    conversation = await database_sync_to_async(make_conversation)(
        future_self=alice_self, messages=[("user", "Unanswered")]
    )
    communicator = await connect_as(alice)
    assert (await start(communicator, conversation))["awaiting_reply"] is True
    await communicator.disconnect()


async def test_end_ends_the_conversation_and_closes(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "end"})
    assert await communicator.receive_json_from(3) == {"type": "ended", "conversation_id": str(conversation.pk)}
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 1000}
    await conversation.arefresh_from_db()
    assert conversation.status == Conversation.Status.ENDED
    await communicator.disconnect()


async def test_text_in_an_ended_conversation_gets_conversation_ended(alice, conversation, connect_as, fake_chat):
    await Conversation.objects.filter(pk=conversation.pk).aupdate(status=Conversation.Status.ENDED)
    communicator = await connect_as(alice)
    ready = await start(communicator, conversation)
    assert ready["status"] == "ended"
    await communicator.send_json_to({"type": "text", "text": "Still there?"})
    error = await communicator.receive_json_from(3)
    assert (error["code"], error["retryable"]) == ("conversation_ended", False)
    assert await messages_of(conversation) == []
    await communicator.disconnect()


async def test_disconnecting_mid_reply_saves_the_partial_reply_as_interrupted(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.chunk_delay = 0.05
    fake_chat.enqueue([f"w{i}. " for i in range(100)])
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Talk"})
    await communicator.receive_json_from(3)
    await communicator.receive_json_from(3)
    await communicator.disconnect()
    stored = (await messages_of(conversation))[-1]
    assert stored.role == "future_self"
    assert stored.interrupted is True
    assert stored.text.startswith("w0")


# --- auth and ownership ------------------------------------------------------------


async def test_an_unauthenticated_start_is_closed_with_4401(conversation, connect_as):
    communicator = await connect_as(None)
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk)})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


async def test_another_users_conversation_is_closed_with_4404(bob, conversation, connect_as):
    communicator = await connect_as(bob)
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk)})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()


@pytest.mark.parametrize("conversation_id", ["not-a-uuid", "6b1f1c7e-0000-4000-8000-000000000000"])
async def test_an_unknown_conversation_is_closed_with_4404(alice, connect_as, conversation_id):
    communicator = await connect_as(alice)
    await communicator.send_json_to({"type": "start", "conversation_id": conversation_id})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()


async def test_a_token_in_the_start_message_authenticates(alice, alice_token, conversation, connect_as):
    communicator = await connect_as(None)
    ready = await start(communicator, conversation, token=alice_token)
    assert ready["type"] == "ready"
    await communicator.disconnect()


async def test_a_bad_token_in_the_start_message_is_closed_with_4401(conversation, connect_as):
    communicator = await connect_as(None)
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk), "token": "fs_wrong"})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


async def test_a_token_for_another_user_is_closed_with_4404(bob_token, conversation, connect_as):
    communicator = await connect_as(None)
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk), "token": bob_token})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()


async def test_a_web_guest_reaches_their_conversation_through_the_session(connect_as):
    from futureself.ownership import GUEST_SESSION_KEY
    from tests.builders import make_future_self, make_interview, make_profile

    def build():
        interview = make_interview(guest_key="guest-key-1", answers=["I'm Maya."], status="completed")
        return make_conversation(future_self=make_future_self(profile=make_profile(interview=interview)))

    conversation = await database_sync_to_async(build)()
    communicator = WebsocketCommunicatorWithSession(conversation, {GUEST_SESSION_KEY: "guest-key-1"})
    connected, _ = await communicator.connect()
    assert connected
    assert (await start(communicator, conversation))["type"] == "ready"
    await communicator.disconnect()


def WebsocketCommunicatorWithSession(conversation, session: dict):  # noqa: N802 - reads like a class
    from channels.testing import WebsocketCommunicator

    from conversations.consumers import ConversationConsumer

    communicator = WebsocketCommunicator(ConversationConsumer.as_asgi(), "/conversation/stream")
    communicator.scope["session"] = session
    return communicator


async def test_a_socket_that_never_starts_is_closed_with_4408(connect_as, monkeypatch):
    from conversations.consumers import ConversationConsumer

    monkeypatch.setattr(ConversationConsumer, "start_timeout_seconds", 0.1)
    communicator = await connect_as(None)
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4408}
    await communicator.disconnect()


async def test_a_started_socket_is_not_closed_by_the_start_deadline(alice, conversation, connect_as, monkeypatch):
    from conversations.consumers import ConversationConsumer

    monkeypatch.setattr(ConversationConsumer, "start_timeout_seconds", 0.1)
    communicator = await connect_as(alice)
    assert (await start(communicator, conversation))["type"] == "ready"
    assert await communicator.receive_nothing(0.3)
    await communicator.disconnect()
