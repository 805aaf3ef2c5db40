"""Safety on the conversation socket: risky turns get the crisis response instead of the persona,
and every reply sentence passes the output check before it is shown or spoken."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from futureself.models import SafetyEvent
from futureself.providers import registry
from futureself.safety.output import REPLACEMENTS
from tests.conversations.voice_helpers import PacedTTS, audio, collect, events, speak, start_voice

pytestmark = pytest.mark.django_db(transaction=True)

RISKY = "Honestly I want to kill myself tonight."
CERTAINTY_REPLACEMENT = REPLACEMENTS["certainty"]["en"]


async def stored(conversation) -> list[tuple[str, str, bool]]:
    return await database_sync_to_async(
        lambda: [(m.role, m.text, m.safety_flagged) for m in conversation.messages.order_by("position")]
    )()


async def test_a_risky_typed_message_gets_the_safety_event_instead_of_a_reply(
    alice, conversation, connect_as, fake_chat
):
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": RISKY})
    event = await communicator.receive_json_from(3)
    assert event["type"] == "safety"
    assert event["message"]
    assert event["resources"]
    assert await communicator.receive_nothing(0.2)
    await communicator.disconnect()

    assert fake_chat.calls == []  # the persona never saw it
    assert await stored(conversation) == [("user", RISKY, True)]
    assert str((await SafetyEvent.objects.aget()).conversation_id) == str(conversation.pk)


async def test_a_risky_transcribed_message_gets_the_safety_event_and_the_persona_is_not_called(
    alice, conversation, connect_as, fake_chat, fake_stt
):
    fake_stt.enqueue(RISKY)
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await speak(communicator)
    frames = await collect(communicator, until=("safety",))
    await communicator.disconnect()

    assert [e["type"] for e in events(frames)] == ["transcript", "safety"]
    assert fake_chat.calls == []
    assert await stored(conversation) == [("user", RISKY, True)]
    assert (await SafetyEvent.objects.aget()).input_mode == "voice"


async def test_the_conversation_continues_after_a_safety_event_without_the_risky_words(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue("I'm glad you're still here with me.")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": RISKY})
    await communicator.receive_json_from(3)
    await communicator.send_json_to({"type": "retry"})
    assert (await communicator.receive_json_from(3))["code"] == "nothing_to_retry"
    await communicator.send_json_to({"type": "text", "text": "Can we talk about Montreal?"})
    frames = await collect(communicator)
    await communicator.disconnect()

    assert frames[-1].value["text"] == "I'm glad you're still here with me."
    prompt = "\n".join(m.content for m in fake_chat.calls[-1].messages)
    assert "Can we talk about Montreal?" in prompt
    assert RISKY not in prompt


async def test_a_sentence_breaking_a_rule_is_replaced_before_it_is_shown_spoken_or_stored(
    alice, conversation, connect_as, fake_chat
):
    fake_chat.enqueue("I remember the winter. I promise you it will all work out. Take care.")
    tts = PacedTTS(chunks=1)
    with registry.use_providers(tts=tts):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Will it work out?"})
        frames = await collect(communicator)
        await communicator.disconnect()

    deltas = [e["text"] for e in events(frames) if e["type"] == "reply.delta"]
    assert deltas == ["I remember the winter.", " " + CERTAINTY_REPLACEMENT, " Take care."]
    # The first sentence is spoken alone, the two after it in one request: the broken sentence
    # was never spoken, its replacement was.
    assert [c["text"] for c in tts.calls] == ["I remember the winter.", f"{CERTAINTY_REPLACEMENT} Take care."]
    assert not any(b"promise" in chunk for chunk in audio(frames))
    expected = f"I remember the winter. {CERTAINTY_REPLACEMENT} Take care."
    assert frames[-1].value["text"] == expected
    assert (await stored(conversation))[-1] == ("future_self", expected, False)


async def test_a_risky_message_past_the_rate_limit_still_gets_the_crisis_answer(
    alice, conversation, connect_as, fake_chat, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ws_turn_user": (1, 60)}
    settings.RATE_LIMITS_ENABLED = True
    fake_chat.enqueue("First answer.")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "One"})
    await collect(communicator)
    await communicator.send_json_to({"type": "text", "text": RISKY})
    event = await communicator.receive_json_from(3)
    await communicator.disconnect()

    assert event["type"] == "safety"
    assert event["resources"]
    assert len(fake_chat.calls) == 1


OVER_LIMIT = {
    "rate_limited": lambda settings: setattr(
        settings, "RATE_LIMITS", {**settings.RATE_LIMITS, "ws_turn_user": (1, 60)}
    ),
    "budget_exceeded": lambda settings: setattr(settings, "DAILY_BUDGETS", {**settings.DAILY_BUDGETS, "llm_tokens": 5}),
}


async def _spend_the_allowance(communicator, conversation, fake_chat, settings, limit: str) -> None:
    settings.RATE_LIMITS_ENABLED = True
    OVER_LIMIT[limit](settings)
    fake_chat.enqueue("First answer.")
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "One"})
    await collect(communicator)


@pytest.mark.parametrize("limit", list(OVER_LIMIT))
async def test_a_risky_utterance_past_the_limit_is_transcribed_and_gets_the_crisis_answer(
    alice, conversation, connect_as, fake_chat, fake_stt, settings, limit
):
    fake_stt.enqueue(RISKY)
    communicator = await connect_as(alice)
    await _spend_the_allowance(communicator, conversation, fake_chat, settings, limit)
    await speak(communicator)  # its first frame is over the limit
    frames = await collect(communicator, until=("safety", "error"))
    await communicator.disconnect()

    assert [e["type"] for e in events(frames)] == ["transcript", "safety"]
    assert events(frames)[-1]["resources"]
    assert len(fake_chat.calls) == 1  # the persona never saw it
    assert (await stored(conversation))[-1] == ("user", RISKY, True)


@pytest.mark.parametrize("limit", list(OVER_LIMIT))
async def test_an_ordinary_utterance_past_the_limit_is_refused_after_its_transcription(
    alice, conversation, connect_as, fake_chat, fake_stt, settings, limit
):
    fake_stt.enqueue("Tell me about the second winter.")
    communicator = await connect_as(alice)
    await _spend_the_allowance(communicator, conversation, fake_chat, settings, limit)
    await speak(communicator)
    error = await communicator.receive_json_from(3)
    assert await communicator.receive_nothing(0.1)
    await communicator.disconnect()

    assert (error["type"], error["code"]) == ("error", limit)
    assert error["retry_after"] >= 1
    assert len(fake_stt.calls) == 1  # the honest cost: one transcription
    assert len(fake_chat.calls) == 1  # no model call for it
    assert await stored(conversation) == [("user", "One", False), ("future_self", "First answer.", False)]


async def test_speaking_right_after_a_reply_is_checked_against_a_budget_that_counts_that_reply(
    alice, conversation, connect_as, fake_chat, fake_stt, settings, monkeypatch
):
    """The reply's charge lands just after its reply.end; an utterance that starts in between
    waits for it instead of slipping past the budget."""
    from conversations import voice

    charge = voice.abudget_charge_all

    async def slow_charge(**kwargs):
        await asyncio.sleep(0.3)
        await charge(**kwargs)

    monkeypatch.setattr(voice, "abudget_charge_all", slow_charge)
    fake_stt.enqueue("Tell me about the second winter.")
    communicator = await connect_as(alice)
    await _spend_the_allowance(communicator, conversation, fake_chat, settings, "budget_exceeded")
    await speak(communicator)
    error = await communicator.receive_json_from(3)
    assert await communicator.receive_nothing(0.1)
    await communicator.disconnect()

    assert (error["type"], error["code"]) == ("error", "budget_exceeded")
    assert len(fake_chat.calls) == 1


async def test_every_risky_utterance_of_the_test_set_the_check_flags_bypasses_the_persona(
    alice, conversation, connect_as, fake_chat
):
    """The whole development set, typed on one socket: each flagged line is answered by the
    safety event alone (recall itself is measured in docs/safety.md)."""
    from pathlib import Path

    from futureself.safety.checker import check_text
    from futureself.safety.evaluation import load_utterances

    risky_set = load_utterances(Path(__file__).parents[1] / "futureself" / "safety" / "risky.txt")
    flagged = [u.text for u in risky_set if check_text(u.text).flagged]
    assert len(flagged) >= 100
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    for text in flagged:
        await communicator.send_json_to({"type": "text", "text": text})
        event = await communicator.receive_json_from(3)
        assert event["type"] == "safety", (text, event)
    assert await communicator.receive_nothing(0.2)
    await communicator.disconnect()

    assert fake_chat.calls == []  # no line reached the persona
    rows = await stored(conversation)
    assert [text for _, text, _ in rows] == flagged
    assert all(role == "user" and flagged_ for role, _, flagged_ in rows)
