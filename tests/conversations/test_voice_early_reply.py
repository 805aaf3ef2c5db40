"""Once the person's words are saved, the reply's request is sent while moderation screens them,
and nothing of it is read before the verdict: a flag or a barge-in drops it unseen."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from conversations import services
from futureself.limits import budget_used
from futureself.models import ProviderCall, SafetyEvent
from futureself.ownership import Owner
from futureself.providers import registry
from futureself.providers.base import ModerationResult, ModerationScores
from tests.conversations.voice_helpers import collect, events, start_voice
from tests.fakes.providers import FakeChat

pytestmark = pytest.mark.django_db(transaction=True)

# Words the phrase check lets through, so only the moderation model can flag them.
UNCLEAR = "Some days I just want everything to stop, you know?"


class SlowModerator:
    """A moderation provider that answers after ``delay`` seconds, flagging self-harm or not."""

    name = "slow"
    model = "slow-moderation"

    def __init__(self, *, flag: bool, delay: float) -> None:
        self.flag = flag
        self.delay = delay
        self.answered_at: float | None = None

    async def moderate(self, texts):
        await asyncio.sleep(self.delay)
        self.answered_at = time.perf_counter()
        scores = ModerationScores(categories={"selfharm": self.flag}, scores={"selfharm": 0.9 if self.flag else 0.01})
        return ModerationResult(results=[scores] * len(texts))


class TimedChat(FakeChat):
    """FakeChat noting when each request was sent."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.asked_at: list[float] = []

    async def _next(self, request):
        self.asked_at.append(time.perf_counter())
        return await super()._next(request)


@pytest.fixture
def moderation_on(settings):
    settings.SAFETY_MODERATION_ENABLED = True
    settings.SAFETY_MODERATION_THRESHOLD = None


async def stored(conversation) -> list[tuple[str, str, bool]]:
    return await database_sync_to_async(
        lambda: [(m.role, m.text, m.safety_flagged) for m in conversation.messages.order_by("position")]
    )()


async def test_the_request_travels_while_moderation_decides_and_is_read_only_after_the_verdict(
    alice, conversation, connect_as, moderation_on
):
    chat = TimedChat().enqueue("I remember that winter well.")
    moderator = SlowModerator(flag=False, delay=0.2)
    with registry.use_providers(chat=chat, moderation=moderator):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": "Was the move worth it?"})
        frames = await collect(communicator)
        await communicator.disconnect()

    assert chat.asked_at[0] < moderator.answered_at - 0.15  # sent long before the verdict
    first_shown = next(f.at for f in frames if f.type in ("reply.start", "reply.delta"))
    assert first_shown >= moderator.answered_at  # but nothing of it shown before
    assert events(frames)[-1]["text"] == "I remember that winter well."
    assert [r for r, _, _ in await stored(conversation)] == ["user", "future_self"]


async def test_a_message_only_moderation_flags_drops_the_early_reply_unseen_and_unsaved(
    alice, conversation, connect_as, moderation_on
):
    # Still streaming when the verdict comes: the request is stopped, not read to its end.
    chat = FakeChat(chunk_delay=0.05).enqueue("Let me tell you what I think about that, in many words.")
    with registry.use_providers(chat=chat, moderation=SlowModerator(flag=True, delay=0.1)):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": UNCLEAR})
        frames = await collect(communicator, until=("safety",))
        assert await communicator.receive_nothing(0.7)  # longer than the whole reply would take
        await communicator.disconnect()

    assert [e["type"] for e in events(frames)] == ["safety"]
    assert len(chat.calls) == 1  # it was asked, early...
    assert await stored(conversation) == [("user", UNCLEAR, True)]  # ...and nothing of its answer kept
    assert (await SafetyEvent.objects.aget()).detector == "moderation"
    call = await ProviderCall.objects.aget(task="conversation")
    assert call.outcome == ProviderCall.Outcome.CANCELLED
    # The request was sent, so its prompt counts against the day's budget.
    used = await database_sync_to_async(budget_used)(owner=Owner(user_id=alice.pk), kind="llm_tokens")
    assert used > 0


async def test_words_the_phrase_check_flags_never_start_a_request(alice, conversation, connect_as, moderation_on):
    chat = FakeChat()
    with registry.use_providers(chat=chat, moderation=SlowModerator(flag=False, delay=0)):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": "I want to kill myself tonight."})
        assert (await communicator.receive_json_from(3))["type"] == "safety"
        await communicator.disconnect()

    assert chat.calls == []


async def test_the_request_waits_for_the_save_and_a_failed_save_sends_none(
    alice, conversation, connect_as, monkeypatch
):
    real = services.amessage_add_user
    attempts = []

    async def fails_once(**kwargs):
        attempts.append(kwargs)
        if len(attempts) == 1:
            raise RuntimeError("the database hiccuped")
        return await real(**kwargs)

    monkeypatch.setattr(services, "amessage_add_user", fails_once)
    chat = FakeChat().enqueue("Now I can answer.")
    with registry.use_providers(chat=chat):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": "Hello?"})
        error = await communicator.receive_json_from(3)
        assert (error["code"], error["retryable"]) == ("internal_error", True)
        assert await communicator.receive_nothing(0.2)
        assert chat.calls == []  # nothing is asked about words that are not stored
        await communicator.send_json_to({"type": "text", "text": "Hello?"})
        frames = await collect(communicator)
        await communicator.disconnect()

    assert events(frames)[-1]["text"] == "Now I can answer."
    assert await stored(conversation) == [("user", "Hello?", False), ("future_self", "Now I can answer.", False)]


async def test_an_interrupt_while_the_words_are_screened_stops_the_early_request(
    alice, conversation, connect_as, moderation_on
):
    chat = FakeChat(chunk_delay=0.05).enqueue("A long answer that nobody will ever get to read at all.")
    with registry.use_providers(chat=chat, moderation=SlowModerator(flag=False, delay=0.3)):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await communicator.send_json_to({"type": "text", "text": "Tell me everything."})
        await asyncio.sleep(0.1)
        await communicator.send_json_to({"type": "interrupt"})
        assert await communicator.receive_nothing(0.8)
        await communicator.disconnect()

    assert await stored(conversation) == [("user", "Tell me everything.", False)]
    call = await ProviderCall.objects.aget(task="conversation")
    assert call.outcome == ProviderCall.Outcome.CANCELLED
