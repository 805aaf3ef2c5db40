"""Spoken turns over /conversation/stream: realtime STT, sentence-pipelined TTS, barge-in, degradation."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from conversations import voice
from conversations.models import Message
from futureself.models import ProviderCall
from futureself.providers import registry
from futureself.providers.base import ProviderNotConfigured, ProviderUnavailable, Transcript
from futureself.providers.elevenlabs import ElevenLabsSpeechToText, ElevenLabsTextToSpeech
from futureself.providers.recording import flush_provider_calls
from futureself.providers.resilience import Deadlines, RetryPolicy
from tests.conversations.voice_helpers import (
    FRAME,
    HALF_SECOND_OF_PCM,
    PacedTTS,
    audio,
    collect,
    events,
    next_frame,
    speak,
    start_voice,
)
from tests.fakes.providers import FakeChat, FakeSpeechToText, FakeTextToSpeech

pytestmark = pytest.mark.django_db(transaction=True)

FAST = Deadlines(stt=1, stt_final=0.5, tts_first_chunk=0.5, stream_total=3, complete=0.5)
QUICK_RETRIES = RetryPolicy(attempts=2, base_seconds=0.01, max_seconds=1)
THREE_SENTENCES = "I moved in the spring. The first winter was long. It was worth it."


def vendor_stt(fake) -> ElevenLabsSpeechToText:
    return ElevenLabsSpeechToText(api_key="xi-test", base_url=fake.base_url, deadlines=FAST, retry=QUICK_RETRIES)


def vendor_tts(fake) -> ElevenLabsTextToSpeech:
    return ElevenLabsTextToSpeech(api_key="xi-test", base_url=fake.base_url, deadlines=FAST, retry=QUICK_RETRIES)


async def messages_of(conversation) -> list[Message]:
    return await database_sync_to_async(lambda: list(conversation.messages.order_by("position")))()


@pytest.fixture
def paced_tts():
    tts = PacedTTS()
    with registry.use_providers(tts=tts):
        yield tts


# --- an audio turn ---------------------------------------------------------------------------


async def test_an_audio_turn_goes_through_realtime_stt_and_comes_back_spoken(
    alice, conversation, connect_as, fake_chat, vendor_fake
):
    vendor_fake.script("elevenlabs.realtime", "Should I call my sister more?")
    fake_chat.enqueue("Yes. Call her on Sundays.")
    with registry.use_providers(stt=vendor_stt(vendor_fake), tts=vendor_tts(vendor_fake)):
        communicator = await connect_as(alice)
        ready = await start_voice(communicator, conversation)
        assert ready["voice_enabled"] is True
        assert ready["voice_input"] is True
        assert ready["output_audio"] == "pcm_16000"
        await speak(communicator)
        frames = await collect(communicator)
        await communicator.disconnect()

    types = [f.type for f in frames]
    assert types[0] == "transcript"
    assert frames[0].value == {"type": "transcript", "text": "Should I call my sister more?", "final": True}
    assert types.index("audio.start") < types.index("audio") < types.index("reply.end")
    assert next(e for e in events(frames) if e["type"] == "audio.start")["format"] == "pcm_16000"
    assert sum(len(chunk) for chunk in audio(frames)) > 0
    end = frames[-1].value
    assert end["text"] == "Yes. Call her on Sundays."
    timings = end["timings"]
    for key in (
        "stt_ms",
        "saved_ms",
        "llm_first_token_ms",
        "first_sentence_ms",
        "tts_first_audio_ms",
        "first_audio_ms",
        "total_ms",
    ):
        assert isinstance(timings[key], int), key
    # The stages of the turn, each counted from audio.end, in the order they happen.
    milestones = ["stt_ms", "saved_ms", "first_sentence_ms", "first_audio_ms", "total_ms"]
    assert [timings[key] for key in milestones] == sorted(timings[key] for key in milestones)

    session = vendor_fake.last("elevenlabs.realtime")
    assert session.query["audio_format"] == "pcm_16000"
    assert session.ws_messages[-1]["commit"] is True
    assert vendor_fake.received("elevenlabs.stt") == []  # no batch call
    user, reply = await messages_of(conversation)
    assert (user.text, user.input_mode, user.audio_duration_ms) == ("Should I call my sister more?", "voice", 500)
    assert reply.timings == end["timings"]
    # "Yes." is too short to hide a second request behind, so the next sentence is its own request
    # at once; the two run together and may reach the vendor in either order (the audio still goes
    # out in sentence order: test_reply_audio_is_sent_in_sentence_order_...).
    assert sorted(c.json["text"] for c in vendor_fake.received("elevenlabs.tts")) == ["Call her on Sundays.", "Yes."]


async def test_when_realtime_stt_fails_the_batch_transcriber_answers(
    alice, conversation, connect_as, fake_chat, vendor_fake
):
    vendor_fake.script("elevenlabs.realtime", {"message_type": "transcriber_error", "error": "overloaded"})
    vendor_fake.script("elevenlabs.stt", "Is it too late to change?")
    fake_chat.enqueue("It is not.")
    with registry.use_providers(stt=vendor_stt(vendor_fake)):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation, output_audio="none")
        await speak(communicator)
        frames = await collect(communicator)
        await communicator.disconnect()

    assert frames[0].value["text"] == "Is it too late to change?"
    assert frames[-1].value["text"] == "It is not."
    batch = vendor_fake.last("elevenlabs.stt")
    assert batch.form["file_format"] == "pcm_s16le_16"
    assert batch.files["file"][2] == HALF_SECOND_OF_PCM


# --- spoken replies -------------------------------------------------------------------------------


async def test_reply_audio_is_sent_in_sentence_order_even_when_a_later_sentence_is_faster(
    alice, conversation, connect_as, fake_chat, paced_tts
):
    rest = "The first winter was long. It was worth it."
    paced_tts.delays = {"I moved in the spring.": 0.05, rest: 0.0}
    fake_chat.enqueue(THREE_SENTENCES)
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Was it worth it?"})
    frames = await collect(communicator)
    await communicator.disconnect()

    # The first sentence is synthesised alone, at once; the two after it, written while it was
    # still being synthesised, go to the TTS together (SPEECH_CHARS_PER_SECOND).
    requests = ["I moved in the spring.", rest]
    assert [c["text"] for c in paced_tts.calls] == requests
    chunks = [f"{s}|{i}".encode() for s in requests for i in range(3)]
    assert b"".join(audio(frames)) == b"".join(chunks)
    # The first sentence's chunks come 50 ms apart and go out one by one; the rest was all
    # synthesised while it played, so it goes out in one frame.
    assert audio(frames) == [*chunks[:3], b"".join(chunks[3:])]
    deltas = [e["text"] for e in events(frames) if e["type"] == "reply.delta"]
    assert deltas == ["I moved in the spring.", " The first winter was long.", " It was worth it."]
    # The rest is spoken with the text before it, and was synthesised while the first sentence streamed.
    first, second = paced_tts.calls
    assert second["previous_text"] == "I moved in the spring."
    assert second["started"] < first["ended"]
    [audio_start] = [e for e in events(frames) if e["type"] == "audio.start"]
    assert audio_start["message_id"] == frames[-1].value["message_id"]


async def typed_turn_with(chat, connecting, conversation, text: str = "Tell me.") -> list:
    """Open a voice connection, type ``text``, and collect the reply's frames, ``chat`` answering."""
    _, frames = await timed_typed_turn_with(chat, connecting, conversation, text)
    return frames


async def timed_typed_turn_with(chat, connecting, conversation, text: str = "Tell me.") -> tuple[float, list]:
    """:func:`typed_turn_with`, and the ``time.perf_counter()`` at which ``text`` was sent."""
    with registry.use_providers(chat=chat):
        communicator = await connecting
        await start_voice(communicator, conversation)
        sent = time.perf_counter()
        await communicator.send_json_to({"type": "text", "text": text})
        frames = await collect(communicator)
        await communicator.disconnect()
    return sent, frames


async def test_a_sentence_waiting_to_be_grouped_is_sent_before_the_audio_ahead_runs_out(
    alice, conversation, connect_as, paced_tts
):
    # A slow model, a sentence a second. The first (44 characters, about two seconds of speech)
    # is spoken at once; the second waits to be grouped, but not past the moment the first
    # one's audio is due to run out, even though the third has not been written by then.
    first, second, third = "I moved to Lyon in the spring of that year.", "It rained.", "Then summer came."
    slow = FakeChat(chunk_delay=1.0)
    slow.enqueue([f"{first} ", f"{second} ", third])
    paced_tts.chunks = 1
    frames = await typed_turn_with(slow, connect_as(alice), conversation)

    assert [c["text"] for c in paced_tts.calls] == [first, second, third]
    third_written = next(f.at for f in frames if f.type == "reply.delta" and third in f.value["text"])
    first_call, second_call, _ = paced_tts.calls
    assert second_call["started"] < third_written
    due = first_call["started"] + len(first) / voice.SPEECH_CHARS_PER_SECOND - voice.SPEECH_LEAD_SECONDS
    assert second_call["started"] == pytest.approx(due, abs=0.15)
    assert frames[-1].value["text"] == f"{first} {second} {third}"


async def test_the_first_audio_leaves_before_the_llm_has_finished(alice, conversation, connect_as, paced_tts):
    # A slow model: three sentences, one second apart (each ends with its space, so it is complete
    # the moment it arrives); the whole reply takes three seconds to write.
    slow = FakeChat(chunk_delay=1.0)
    slow.enqueue(["I moved in the spring. ", "The first winter was long. ", "It was worth it in the end."])
    paced_tts.chunks = 1
    sent, frames = await timed_typed_turn_with(slow, connect_as(alice), conversation)

    first_audio = next(f for f in frames if f.kind == "audio")
    deltas = [f for f in frames if f.type == "reply.delta"]
    assert [d.value["text"] for d in deltas] == [
        "I moved in the spring.",
        " The first winter was long.",
        " It was worth it in the end.",
    ]
    # The first sentence is spoken while the model is still writing the next two: its audio leaves
    # about two seconds before the last sentence does, so most of a second is a safe margin.
    assert first_audio.at - sent < 1.8
    assert first_audio.at < deltas[1].at
    assert first_audio.at < deltas[-1].at - 0.8
    timings = frames[-1].value["timings"]
    assert timings["first_audio_ms"] < timings["llm_total_ms"] - 800


async def test_the_first_sentence_is_spoken_as_soon_as_its_full_stop_arrives(
    alice, conversation, connect_as, paced_tts
):
    # A token every half second: "spring." comes 1.0 s after the request, " Then" 1.5 s after it.
    slow = FakeChat(chunk_delay=0.5)
    slow.enqueue(["I moved", " in the spring.", " Then", " summer came."])
    paced_tts.chunks = 1
    sent, frames = await timed_typed_turn_with(slow, connect_as(alice), conversation)

    assert next(f for f in frames if f.type == "reply.delta").value["text"] == "I moved in the spring."
    first_call = paced_tts.calls[0]
    assert first_call["text"] == "I moved in the spring."
    assert 1.0 <= first_call["started"] - sent < 1.4  # not at 1.5, when the next token shows the sentence ended
    assert frames[-1].value["text"] == "I moved in the spring. Then summer came."


async def test_end_marks_cut_off_after_a_sentence_are_shown_but_not_spoken(alice, conversation, connect_as, paced_tts):
    chat = FakeChat()
    chat.enqueue(["Wow!", "!", " You", " did", " it."])
    frames = await typed_turn_with(chat, connect_as(alice), conversation)

    assert [e["text"] for e in events(frames) if e["type"] == "reply.delta"] == ["Wow!", "!", " You did it."]
    assert "!" not in [call["text"] for call in paced_tts.calls]
    assert " ".join(call["text"] for call in paced_tts.calls) == "Wow! You did it."
    assert frames[-1].value["text"] == "Wow!! You did it."


async def test_without_pipelining_the_whole_reply_is_spoken_once_it_is_written(
    alice, conversation, connect_as, paced_tts, settings
):
    settings.VOICE_PIPELINED_TTS = False
    slow = FakeChat(chunk_delay=0.02)
    slow.enqueue(THREE_SENTENCES)
    frames = await typed_turn_with(slow, connect_as(alice), conversation)

    assert [call["text"] for call in paced_tts.calls] == [THREE_SENTENCES]
    first_audio = next(f for f in frames if f.kind == "audio")
    last_delta = [f for f in frames if f.type == "reply.delta"][-1]
    assert first_audio.at > last_delta.at
    assert frames[-1].value["text"] == THREE_SENTENCES


async def test_the_client_gets_the_format_the_tts_really_speaks(alice, conversation, connect_as, fake_chat):
    fake_chat.enqueue("Hello.")
    pcm_only = PacedTTS(chunks=1, supported_formats=("pcm_16000",))
    with registry.use_providers(tts=pcm_only):
        communicator = await connect_as(alice)
        ready = await start_voice(communicator, conversation, output_audio="mp3_44100_128")
        await communicator.send_json_to({"type": "text", "text": "Hi"})
        frames = await collect(communicator)
        await communicator.disconnect()
    assert ready["output_audio"] == "pcm_16000"
    assert next(e for e in events(frames) if e["type"] == "audio.start")["format"] == "pcm_16000"
    assert pcm_only.calls[0]["format"] == "pcm_16000"


async def test_voice_is_not_enabled_when_the_tts_cannot_speak(alice, conversation, connect_as, fake_chat):
    silent = PacedTTS()
    silent.available = False
    fake_chat.enqueue("Hello there.")
    with registry.use_providers(tts=silent):
        communicator = await connect_as(alice)
        ready = await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Hi"})
        frames = await collect(communicator)
        await communicator.disconnect()
    assert ready["voice_enabled"] is False
    assert audio(frames) == []
    assert silent.calls == []


# --- barge-in ---------------------------------------------------------------------------------------


async def _reply_playing(communicator, conversation) -> list:
    await start_voice(communicator, conversation)
    await communicator.send_json_to({"type": "text", "text": "Tell me everything."})
    frames = [await next_frame(communicator)]
    while frames[-1].kind != "audio":
        frames.append(await next_frame(communicator))
    return frames


@pytest.mark.parametrize("barge_in", ["interrupt", "audio"])
async def test_barge_in_ends_the_reply_at_once_and_no_audio_follows(
    alice, conversation, connect_as, paced_tts, barge_in
):
    slow = FakeChat(chunk_delay=0.03).enqueue(THREE_SENTENCES + " And there is so much more to say about it.")
    paced_tts.chunks, paced_tts.delay = 20, 0.03
    with registry.use_providers(chat=slow, stt=FakeSpeechToTextStub()):
        communicator = await connect_as(alice)
        await _reply_playing(communicator, conversation)
        if barge_in == "interrupt":
            await communicator.send_json_to({"type": "interrupt"})
        else:
            await communicator.send_to(bytes_data=HALF_SECOND_OF_PCM[:FRAME])
        frame = await next_frame(communicator)
        while frame.type != "reply.end":
            frame = await next_frame(communicator)
        assert await communicator.receive_nothing(0.3)
        await communicator.disconnect()

    # How soon is measured by the voice benchmark (bench/voice_latency.py, "Barge-in"), not here.
    end = frame.value
    assert end["interrupted"] is True
    assert paced_tts.cancelled  # the TTS stream was stopped, not left running
    stored = (await messages_of(conversation))[-1]
    assert stored.interrupted
    assert stored.text == end["text"]
    assert end["text"].startswith("I moved in the spring.")
    assert not end["text"].endswith("to say about it.")  # cut while the model was still writing


class FakeSpeechToTextStub:
    """Realtime STT that takes audio and never needs to answer (for barge-in by voice)."""

    name = "stub"

    async def transcribe(self, audio: bytes, *, content_type: str, language=None) -> Transcript:
        return Transcript("unused")

    async def open_stream(self, *, sample_rate: int = 16000, language=None):
        return self

    async def send(self, pcm: bytes) -> None:
        return None

    async def finish(self) -> Transcript:
        return Transcript("unused")

    async def aclose(self) -> None:
        return None


# --- degrading, never dying ---------------------------------------------------------------------------


async def test_a_tts_failure_lets_the_reply_continue_as_text_with_an_error_event(
    alice, conversation, connect_as, fake_chat
):
    broken = FakeTextToSpeech(fail_with=ProviderUnavailable("tts down", provider="fake"))
    fake_chat.enqueue(THREE_SENTENCES)
    with registry.use_providers(tts=broken):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Hi"})
        frames = await collect(communicator)
        assert await communicator.receive_nothing(0.1)
        await communicator.disconnect()

    assert audio(frames) == []
    errors = [e for e in events(frames) if e["type"] == "error"]
    assert len(errors) == 1
    assert (errors[0]["code"], errors[0]["stage"], errors[0]["retryable"]) == ("provider_unavailable", "tts", True)
    assert frames[-1].value["text"] == THREE_SENTENCES
    assert frames[-1].value["interrupted"] is False


async def test_an_stt_failure_gives_an_error_and_text_input_still_works(
    alice, conversation, connect_as, fake_chat, fake_stt
):
    fake_stt.enqueue(
        ProviderUnavailable("rt down", provider="fake"), ProviderUnavailable("batch down", provider="fake")
    )
    fake_chat.enqueue("Typed is fine.")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await speak(communicator)
    error = await communicator.receive_json_from(3)
    assert (error["type"], error["code"], error["stage"], error["retryable"]) == (
        "error",
        "provider_unavailable",
        "stt",
        True,
    )
    assert len(fake_stt.calls) == 2  # realtime, then the batch fallback
    await communicator.send_json_to({"type": "text", "text": "Then I will type."})
    frames = await collect(communicator)
    await communicator.disconnect()
    assert frames[-1].value["text"] == "Typed is fine."
    assert [m.text for m in await messages_of(conversation)] == ["Then I will type.", "Typed is fine."]


async def test_stt_that_is_not_configured_says_which_key_enables_it(alice, conversation, connect_as, fake_stt):
    fake_stt.enqueue(ProviderNotConfigured("no key", provider="fake"))
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await speak(communicator)
    error = await communicator.receive_json_from(3)
    await communicator.disconnect()
    assert error["code"] == "provider_not_configured"
    assert "ELEVENLABS_API_KEY" in error["message"]
    assert len(fake_stt.calls) == 1  # no batch attempt: it would be refused the same way


# --- limits ----------------------------------------------------------------------------------------------


async def test_an_oversize_frame_is_rejected_without_any_provider_call(
    alice, conversation, connect_as, fake_stt, settings
):
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await communicator.send_to(bytes_data=bytes(settings.VOICE_MAX_FRAME_BYTES + 2))
    error = await communicator.receive_json_from(3)
    assert error["code"] == "audio_too_large"
    await speak(communicator)  # the rest of that utterance and its audio.end are ignored
    assert await communicator.receive_nothing(0.2)
    await communicator.send_json_to({"type": "audio.end"})
    assert (await communicator.receive_json_from(3))["code"] == "no_audio"
    await communicator.disconnect()
    assert fake_stt.streams == []
    assert fake_stt.calls == []
    assert await ProviderCall.objects.acount() == 0


async def test_an_oversize_utterance_is_rejected_and_its_audio_dropped(
    alice, conversation, connect_as, fake_stt, fake_chat, settings
):
    settings.VOICE_MAX_UTTERANCE_BYTES = FRAME * 4
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await speak(communicator, bytes(FRAME * 6))
    error = await communicator.receive_json_from(3)
    assert error["code"] == "audio_too_large"
    assert await communicator.receive_nothing(0.2)  # the rest of the utterance and its audio.end are ignored
    await communicator.disconnect()
    assert fake_stt.calls == []
    assert fake_stt.streams[0].closed
    assert await Message.objects.acount() == 0


async def test_a_too_short_utterance_is_refused_politely(alice, conversation, connect_as, fake_stt):
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation)
    await speak(communicator, bytes(FRAME))
    error = await communicator.receive_json_from(3)
    await communicator.disconnect()
    assert error["code"] == "audio_too_short"
    assert fake_stt.calls == []


async def test_turns_past_the_rate_limit_are_refused_and_not_saved(
    alice, conversation, connect_as, fake_chat, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ws_turn_user": (1, 60)}
    settings.RATE_LIMITS_ENABLED = True
    fake_chat.enqueue("First answer.")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "One"})
    await collect(communicator)
    await communicator.send_json_to({"type": "text", "text": "Two"})
    error = await communicator.receive_json_from(3)
    await communicator.disconnect()
    assert (error["code"], error["retryable"]) == ("rate_limited", True)
    assert error["retry_after"] >= 1
    assert [m.text for m in await messages_of(conversation)] == ["One", "First answer."]


async def test_a_spent_tts_budget_keeps_the_reply_as_text(alice, conversation, connect_as, fake_chat, settings):
    settings.DAILY_BUDGETS = {**settings.DAILY_BUDGETS, "tts_characters": 10}
    fake_chat.enqueue("This sentence is longer than ten characters.")
    tts = PacedTTS()
    with registry.use_providers(tts=tts):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)
        await communicator.send_json_to({"type": "text", "text": "Hi"})
        frames = await collect(communicator)
        await communicator.disconnect()
    [error] = [e for e in events(frames) if e["type"] == "error"]
    assert (error["code"], error["stage"]) == ("budget_exceeded", "tts")
    assert audio(frames) == []
    assert tts.calls == []
    assert frames[-1].value["text"] == "This sentence is longer than ten characters."


async def test_a_spent_llm_budget_refuses_the_turn(alice, conversation, connect_as, fake_chat, settings):
    settings.DAILY_BUDGETS = {**settings.DAILY_BUDGETS, "llm_tokens": 5}
    fake_chat.enqueue("A reply that costs tokens.")
    communicator = await connect_as(alice)
    await start_voice(communicator, conversation, output_audio="none")
    await communicator.send_json_to({"type": "text", "text": "One"})
    await collect(communicator)
    await communicator.send_json_to({"type": "text", "text": "Two"})
    error = await communicator.receive_json_from(3)
    await communicator.disconnect()
    assert (error["code"], error["retryable"]) == ("budget_exceeded", False)
    assert len(fake_chat.calls) == 1


# --- memory ---------------------------------------------------------------------------------------------


async def test_memory_stays_flat_over_200_spoken_turns(alice, conversation, connect_as, settings):
    import gc
    import tracemalloc

    settings.RATE_LIMITS_ENABLED = False
    settings.DAILY_BUDGETS = {"llm_tokens": 0, "tts_characters": 0}
    chat = FakeChat()
    chat.enqueue(*[lambda request: "Summary so far." if request.task == "summary" else "Yes. Go on."] * 400)
    tts = PacedTTS(chunks=2)
    stt = FakeSpeechToText()
    with registry.use_providers(chat=chat, tts=tts, stt=stt):
        communicator = await connect_as(alice)
        await start_voice(communicator, conversation)

        served = 0

        async def turns(count: int) -> None:
            nonlocal served
            for index in range(count):
                # Every turn spoken: an utterance through the streaming transcriber, a spoken reply.
                stt.enqueue(f"Question {index}?")
                await speak(communicator)
                frames = await collect(communicator)
                assert events(frames)[0] == {"type": "transcript", "text": f"Question {index}?", "final": True}
                assert b"".join(audio(frames)).count(b"|") == 4  # two sentences of two chunks
                served += 1
                # The fakes' own records of calls are not the app's memory.
                chat.calls.clear()
                tts.calls.clear()
                stt.calls.clear()
                stt.streams.clear()

        # Traced from the start, so what the first turns fill once (caches, the ORM, the memory
        # fold, the regex engine) is in both snapshots: only what keeps growing counts.
        tracemalloc.start()
        await turns(80)
        # The provider calls recorded in the background are written in batches every 0.25 s: up
        # to a batch of rows in flight would count as growth in one snapshot and not the other.
        await flush_provider_calls()
        gc.collect()
        before = tracemalloc.take_snapshot()
        await turns(120)
        await flush_provider_calls()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        await communicator.disconnect()

    ours = [tracemalloc.Filter(True, "*/conversations/*"), tracemalloc.Filter(True, "*/futureself/*")]
    growth = sum(s.size_diff for s in after.filter_traces(ours).compare_to(before.filter_traces(ours), "filename"))
    assert growth < 32 * 1024, f"{growth} bytes kept by the app over 120 turns"
    assert served == 200


# --- offline --------------------------------------------------------------------------------------------


async def test_offline_mode_speaks_through_espeak_in_the_format_it_supports(alice, conversation, connect_as, fake_chat):
    if not registry.tts_available():
        pytest.skip("espeak-ng is not installed")
    fake_chat.enqueue("Hello from ten years on.")
    communicator = await connect_as(alice)
    ready = await start_voice(communicator, conversation, output_audio="mp3_44100_128")
    assert (ready["voice_enabled"], ready["output_audio"], ready["voice_input"]) == (True, "pcm_16000", False)
    await communicator.send_json_to({"type": "text", "text": "Hi"})
    frames = await collect(communicator, timeout=10)
    await communicator.disconnect()
    assert next(e for e in events(frames) if e["type"] == "audio.start")["format"] == "pcm_16000"
    spoken = b"".join(audio(frames))
    assert len(spoken) > 16_000  # more than half a second of 16 kHz speech
    assert len(spoken) % 2 == 0


async def test_webm_opus_utterances_go_to_the_batch_transcriber(alice, conversation, connect_as, fake_chat, fake_stt):
    fake_stt.enqueue("Recorded in the browser's own format.")
    fake_chat.enqueue("I hear you.")
    communicator = await connect_as(alice)
    ready = await start_voice(communicator, conversation, output_audio="none", input_audio="webm_opus")
    assert ready["input_audio"] == "webm_opus"
    await speak(communicator, b"\x1aE\xdf\xa3" + bytes(2000), frame=1000)
    frames = await collect(communicator)
    await communicator.disconnect()
    assert frames[0].value["text"] == "Recorded in the browser's own format."
    assert fake_stt.streams == []
    assert fake_stt.calls == [b"\x1aE\xdf\xa3" + bytes(2000)]


async def test_an_unknown_input_audio_format_is_refused(alice, conversation, connect_as):
    communicator = await connect_as(alice)
    error = await start_voice(communicator, conversation, input_audio="flac")
    assert error["code"] == "bad_input_audio"
    assert (await start_voice(communicator, conversation))["type"] == "ready"
    await communicator.disconnect()
