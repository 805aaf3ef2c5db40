"""Recording provider calls off the live voice path: batched, in the background, flushed on demand."""

from __future__ import annotations

import time
import uuid

import pytest
from channels.db import database_sync_to_async

from futureself.models import ProviderCall
from futureself.providers.recording import deferred_recording, flush_provider_calls, provider_call_scope, record_call
from tests.builders import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


async def _count(**filters) -> int:
    return await ProviderCall.objects.filter(**filters).acount()


async def test_a_deferred_call_is_written_in_the_background_and_flushed_on_demand(alice):
    conversation = await database_sync_to_async(make_conversation)(owner=alice)
    with provider_call_scope(conversation=conversation), deferred_recording():
        for task in ("first", "second", "third"):
            await record_call(interface="tts", task=task, provider="p", model="", started=time.perf_counter())

    assert await _count() == 0  # nothing waited for the database
    await flush_provider_calls()

    rows = [row async for row in ProviderCall.objects.order_by("created_at")]
    assert [(r.task, r.conversation_id) for r in rows] == [(t, conversation.pk) for t in ("first", "second", "third")]


async def test_a_call_outside_the_voice_path_is_written_before_record_call_returns():
    await record_call(interface="chat", task="profile", provider="p", model="m", started=time.perf_counter())

    assert await _count(task="profile") == 1


async def test_one_row_that_cannot_be_written_does_not_lose_the_rest_of_its_batch(alice):
    conversation = await database_sync_to_async(make_conversation)(owner=alice)
    with deferred_recording():
        with provider_call_scope(conversation=uuid.uuid4()):  # a conversation deleted meanwhile
            await record_call(interface="tts", task="lost", provider="p", model="", started=time.perf_counter())
        with provider_call_scope(conversation=conversation):
            await record_call(interface="tts", task="kept", provider="p", model="", started=time.perf_counter())
    await flush_provider_calls()

    assert [r.task async for r in ProviderCall.objects.all()] == ["kept"]
