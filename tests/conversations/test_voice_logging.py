"""The conversation socket logs failures by exception type, never what an exception says: an adapter's
message or traceback may quote the sentence it was given (docs/security.md, "Logging")."""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels.db import database_sync_to_async

from futureself.providers import registry
from tests.builders import make_conversation
from tests.conversations.voice_helpers import collect, events, start_voice
from tests.fakes.providers import FakeChat

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "Quokka-sentence I moved in the spring."


class AdapterBug(Exception):
    """A bug inside an adapter (not a ProviderError), whose message quotes what it was given."""


class QuotingTTS:
    """A TTS adapter that fails with the sentence it was asked to speak in its exception message."""

    name = "quoting"
    supported_formats = ("pcm_16000",)

    async def stream(self, text: str, *, voice_id: str, output_format: str, previous_text=None, next_text=None):
        raise AdapterBug(f"could not speak {text!r}")
        yield b""  # pragma: no cover - makes this an async generator

    async def voices(self):
        return []


async def test_a_tts_adapter_bug_is_logged_by_type_and_provider_without_the_sentence(
    alice, conversation, connect_as, caplog
):
    caplog.set_level(logging.DEBUG)
    chat = FakeChat().enqueue(REPLY)
    with registry.use_providers(chat=chat, tts=QuotingTTS()):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Quokka-question Was it worth it?"})
        frames = events(await collect(communicator))
        await communicator.disconnect()

    assert any(e["type"] == "error" and e.get("stage") == "tts" for e in frames)
    assert frames[-1]["text"] == REPLY
    [record] = [r for r in caplog.records if r.getMessage().startswith("speech synthesis failed")]
    assert record.getMessage() == "speech synthesis failed in the quoting provider: AdapterBug"
    assert record.exc_info is None
    assert "Quokka" not in caplog.text  # messages and formatted tracebacks alike


async def test_a_failed_memory_fold_is_logged_without_the_turns_it_was_folding(alice, alice_self, connect_as, caplog):
    caplog.set_level(logging.DEBUG)
    turns = [("user" if i % 2 == 0 else "future_self", f"Quokka-turn-{i} words") for i in range(18)]
    conversation = await database_sync_to_async(make_conversation)(future_self=alice_self, messages=turns)
    chat = FakeChat().enqueue("Fine.", AdapterBug(f"could not summarise {turns[0][1]!r}"))
    with registry.use_providers(chat=chat):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": "And now?"})
        await collect(communicator)
        for _ in range(100):  # the fold runs after the reply, off the hot path
            if any(r.getMessage().startswith("folding the conversation memory failed") for r in caplog.records):
                break
            await asyncio.sleep(0.02)
        await communicator.disconnect()

    assert [c.task for c in chat.calls] == ["conversation", "summary"]
    messages = [r.getMessage() for r in caplog.records]
    assert "folding the conversation memory failed: AdapterBug" in messages
    assert "Quokka" not in caplog.text
