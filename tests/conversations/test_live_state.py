"""A live connection keeps the conversation in memory: each message is one insert, and the
prompt is built without reading the conversation back, yet stays right when another
connection writes to the same conversation or the memory is folded."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from conversations import services
from conversations.models import Message
from futureself.limits import budget_used
from futureself.ownership import Owner
from futureself.providers import registry
from tests.builders import make_conversation
from tests.conversations.conftest import drain_reply
from tests.conversations.voice_helpers import PacedTTS, collect, start_voice

pytestmark = pytest.mark.django_db(transaction=True)


async def start(communicator, conversation) -> dict:
    await communicator.send_json_to({"type": "start", "conversation_id": str(conversation.pk), "output_audio": "none"})
    return await communicator.receive_json_from(3)


async def say(communicator, text: str) -> dict:
    await communicator.send_json_to({"type": "text", "text": text})
    _, _, end = await drain_reply(communicator)
    return end


async def stored(conversation) -> list[tuple[int, str, str]]:
    return await database_sync_to_async(
        lambda: list(conversation.messages.order_by("position").values_list("position", "role", "text"))
    )()


def person_texts(request) -> str:
    return "\n".join(m.content for m in request.messages if m.role == "user")


async def test_two_connections_on_one_conversation_keep_positions_and_hear_each_other(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue("First reply.", "Second reply.", "Third reply.")
    first = await connect_as(alice)
    second = await connect_as(alice)
    await start(first, conversation)
    await start(second, conversation)

    await say(first, "Hello from the laptop.")
    await say(second, "Hello from the phone.")
    await say(first, "Back on the laptop.")
    await first.disconnect()
    await second.disconnect()

    assert await stored(conversation) == [
        (0, "user", "Hello from the laptop."),
        (1, "future_self", "First reply."),
        (2, "user", "Hello from the phone."),
        (3, "future_self", "Second reply."),
        (4, "user", "Back on the laptop."),
        (5, "future_self", "Third reply."),
    ]
    # The first connection's state was stale by then: its last prompt still holds the phone's turn.
    last_prompt = person_texts(fake_chat.calls[-1])
    assert "Hello from the phone." in last_prompt
    assert "Back on the laptop." in last_prompt


async def test_a_flagged_message_takes_a_position_but_stays_out_of_the_prompt(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue("I hear you.")
    communicator = await connect_as(alice)
    await start(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "I want to end my life"})
    assert (await communicator.receive_json_from(3))["type"] == "safety"
    end = await say(communicator, "Can we talk about the move?")
    await communicator.disconnect()

    assert [(p, r) for p, r, _ in await stored(conversation)] == [(0, "user"), (1, "user"), (2, "future_self")]
    assert end["text"] == "I hear you."
    prompt = person_texts(fake_chat.calls[-1])
    assert "Can we talk about the move?" in prompt
    assert "end my life" not in prompt


async def test_a_reply_is_charged_its_spoken_characters_once_it_ends(
    alice, conversation, connect_as, fake_chat, settings
):
    settings.DAILY_BUDGETS = {**settings.DAILY_BUDGETS, "tts_characters": 1000}
    reply = "I moved in the spring. The first winter was long."
    fake_chat.enqueue(reply)
    with registry.use_providers(tts=PacedTTS()):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Was it worth it?"})
        frames = await collect(communicator)
        await communicator.disconnect()

    assert frames[-1].value["text"] == reply
    used = await database_sync_to_async(budget_used)(owner=Owner(user_id=alice.pk), kind="tts_characters")
    assert used == len("I moved in the spring.") + len("The first winter was long.")


def test_a_message_written_at_a_taken_position_falls_back_to_the_next_free_one(alice_self):
    conversation = make_conversation(future_self=alice_self, messages=[("user", "Hi"), ("future_self", "Hello.")])
    # A connection that believes position 1 is next (it missed the reply) still writes after it.
    message = services.message_add_user(conversation_id=conversation.pk, text="Still there?", position=1)
    assert message.position == 2
    assert Message.objects.filter(conversation=conversation).count() == 3


async def test_a_live_save_at_a_taken_position_falls_back_to_the_next_free_one(alice_self):
    # The path the socket takes (on PostgreSQL the insert is sent from the loop and refused).
    conversation = await database_sync_to_async(make_conversation)(
        future_self=alice_self, messages=[("user", "Hi"), ("future_self", "Hello.")]
    )
    message = await services.amessage_add_user(conversation_id=conversation.pk, text="Still there?", position=1)
    reply = await services.amessage_add_reply(
        conversation_id=conversation.pk,
        message_id=uuid.uuid4(),
        text="I am.",
        interrupted=False,
        timings={},
        position=2,  # taken by nobody: the fast insert
    )

    assert (message.position, reply.position) == (2, 3)
    count = await database_sync_to_async(Message.objects.filter(conversation=conversation).count)()
    assert count == 4
