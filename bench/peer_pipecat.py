"""The peer: Pipecat against the same vendor fakes, in two shapes.

Run by ``python -m bench.voice_latency`` in its own virtualenv, since ``pipecat-ai`` is
not one of the app's dependencies:

    python -m venv bench/.venv
    bench/.venv/bin/pip install "pipecat-ai[mistral,elevenlabs,websocket]" "uvicorn<1"

**Voice server** (``--serve PORT``, see ``serve``): what a Pipecat deployment runs, one pipeline
per WebSocket (transport -> ElevenLabs realtime STT -> LLM context aggregator -> Mistral LLM ->
ElevenLabs HTTP TTS -> transport). The benchmark's own clients speak to it exactly as to our
daphne and time it the same way: the like-for-like comparison. With ``--turn-detection
pipecat-default``, the same server as Pipecat ships it: its VAD and smart-turn model find the end
of speech in an open microphone's audio.

**In process** (the default): the pipeline the issue names, Mistral LLM service -> ElevenLabs HTTP
TTS, with no transport and no STT: Pipecat's own machinery between the LLM and the TTS alone.
Standalone (against fakes already running, e.g. ``python -m tests.vendor_fakes``):

    bench/.venv/bin/python bench/peer_pipecat.py --mistral-url http://127.0.0.1:8765 \\
        --elevenlabs-url http://127.0.0.1:8765 --sizes 1,10,50

Each session is one Pipecat ``PipelineTask`` ([MistralLLMService, ElevenLabsHttpTTSService,
probe]); all sessions run in this one process and event loop, as our conversations share
one daphne process. A turn pushes the conversation so far (an ``LLMContextFrame``) and times
the first ``TTSAudioRawFrame`` leaving the TTS service. Pipecat gets no STT here, so its
critical path is LLM to first sentence + TTS first audio (ours adds STT on both sides of the
subtraction). Prints JSON on stdout: per size, overhead p50/p95, errors, this process's CPU.
Both stay on loopback and every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import sys
import time
import warnings
from importlib.metadata import version

# Pipecat 1.x deprecates PipelineTask/PipelineRunner for 2.0; they still run the same pipeline.
warnings.filterwarnings("ignore", category=DeprecationWarning)

REPLY_DEFAULT_FIRST_TOKEN_MS = 350
STT_P99_MARGIN_S = 0.1  # the fake's transcript is late by the event loop's delay, under load more
_TOKEN = re.compile(r"\s*\S+")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*$")


def first_sentence_ms(text: str, first_token_ms: float, tokens_per_second: float) -> float:
    """Same rule as ``bench._voice_common.first_sentence_ms`` (this file runs in another interpreter)."""
    tokens = _TOKEN.findall(text)
    last = next((index for index, token in enumerate(tokens) if _SENTENCE_END.search(token)), len(tokens) - 1)
    return first_token_ms + last * (1000 / tokens_per_second if tokens_per_second else 0)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def llm_and_tts(args: argparse.Namespace, http) -> tuple:
    """The session's Mistral LLM and ElevenLabs HTTP TTS services, pointed at the fakes (both shapes use these)."""
    from pipecat.services.elevenlabs.tts import ElevenLabsHttpTTSService
    from pipecat.services.mistral.llm import MistralLLMService

    llm = MistralLLMService(
        api_key="fake-mistral-key",
        base_url=f"{args.mistral_url}/v1",
        settings=MistralLLMService.Settings(model="mistral-small-latest"),
    )
    tts = ElevenLabsHttpTTSService(
        api_key="fake-elevenlabs-key",
        aiohttp_session=http,
        base_url=args.elevenlabs_url,
        sample_rate=16000,
        settings=ElevenLabsHttpTTSService.Settings(voice="JBFqnCBsd6RMkjVDRZzb", model="eleven_flash_v2_5"),
    )
    return llm, tts


async def run_size(args: argparse.Namespace, sessions: int, http) -> dict:
    ramp = args.ramp_turns if sessions > 1 else 0  # as bench.voice_latency: all sessions talk in every measured turn
    from pipecat.frames.frames import EndFrame, LLMContextFrame, LLMFullResponseEndFrame, TTSAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

    class Probe(FrameProcessor):
        """Notes when the reply's first audio and the LLM's end pass by."""

        def __init__(self) -> None:
            super().__init__()
            self.first_audio = asyncio.Event()
            self.llm_done = asyncio.Event()
            self.audio_at = 0.0
            self.last_audio = 0.0
            self.text: list[str] = []

        async def process_frame(self, frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TTSAudioRawFrame):
                self.last_audio = time.perf_counter()
                if not self.first_audio.is_set():
                    self.audio_at = self.last_audio
                    self.first_audio.set()
            elif isinstance(frame, LLMFullResponseEndFrame):
                self.llm_done.set()
            elif hasattr(frame, "text") and type(frame).__name__ == "TTSTextFrame":
                self.text.append(frame.text)
            await self.push_frame(frame, direction)

        def reset(self) -> None:
            self.first_audio.clear()
            self.llm_done.clear()
            self.text = []

    async def session(index: int, start_after: float, go: asyncio.Event) -> list[dict]:
        llm, tts = llm_and_tts(args, http)
        probe = Probe()
        task = PipelineTask(
            Pipeline([llm, tts, probe]),
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=16000),
            idle_timeout_secs=None,
        )
        runner = PipelineRunner(handle_sigint=False)
        running = asyncio.create_task(runner.run(task))
        context = LLMContext(messages=[{"role": "system", "content": "You are the person's future self."}])
        results = []
        try:
            await go.wait()
            await asyncio.sleep(start_after)
            for _ in range(args.turns + 2 * ramp):
                # What our clients spend speaking, so both systems see the same arrival pattern.
                await asyncio.sleep(args.utterance_seconds)
                probe.reset()
                context.add_message({"role": "user", "content": "Was it worth moving so far away from everyone?"})
                sent = time.perf_counter()
                await task.queue_frame(LLMContextFrame(context))
                try:
                    await asyncio.wait_for(probe.first_audio.wait(), 30)
                    await asyncio.wait_for(probe.llm_done.wait(), 30)
                    # The rest of the reply's audio, as our clients wait for reply.end.
                    for _ in range(300):  # bounded: 30 s at most
                        if time.perf_counter() - probe.last_audio >= 0.5:
                            break
                        await asyncio.sleep(0.1)
                    results.append({"first_audio_ms": (probe.audio_at - sent) * 1000})
                except TimeoutError:
                    results.append({"error": "timeout"})
                context.add_message({"role": "assistant", "content": args.reply})
        finally:
            await task.queue_frame(EndFrame())
            try:
                await asyncio.wait_for(running, 30)
            except TimeoutError:
                running.cancel()
        return results[ramp : ramp + args.turns]

    go = asyncio.Event()
    rng = random.Random(sessions)
    cpu_before, started = cpu_seconds(), time.perf_counter()
    tasks = [
        asyncio.create_task(session(i, rng.uniform(0, args.stagger_seconds if sessions > 1 else 0), go))
        for i in range(sessions)
    ]
    await asyncio.sleep(0.5)  # let every pipeline start
    go.set()
    gathered = await asyncio.wait_for(
        asyncio.gather(*tasks, return_exceptions=True), 120 + (args.turns + 2 * ramp) * 40 + args.stagger_seconds
    )
    wall = time.perf_counter() - started
    turns = []
    for result in gathered:
        if isinstance(result, BaseException):
            turns.extend([{"error": type(result).__name__}] * args.turns)
        else:
            turns.extend(result)
    critical = (
        first_sentence_ms(args.reply, args.llm_first_token_ms, args.llm_tokens_per_second) + args.tts_first_audio_ms
    )
    overhead = [t["first_audio_ms"] - critical for t in turns if "first_audio_ms" in t]
    return {
        "sessions": sessions,
        "turns": len(turns),
        "errors": sum(1 for t in turns if "error" in t),
        "first_audio_p50_ms": percentile([t["first_audio_ms"] for t in turns if "first_audio_ms" in t], 50),
        "overhead_p50_ms": percentile(overhead, 50),
        "overhead_p95_ms": percentile(overhead, 95),
        "critical_path_ms": critical,
        "fake_cpu": None,
        "process_cpu": (cpu_seconds() - cpu_before) / wall,
    }


# --- the same peer as a voice server: Pipecat's own transport and STT, timed by our clients ---------------


def serve(args: argparse.Namespace) -> None:
    """Pipecat as a voice server, one ``PipelineTask`` per WebSocket, as a Pipecat deployment runs.

    Per connection: ``FastAPIWebsocketTransport`` input -> ``ElevenLabsRealtimeSTTService`` -> the
    user context aggregator -> ``MistralLLMService`` -> ``ElevenLabsHttpTTSService`` -> the transport's
    output -> the assistant aggregator. The client speaks the subset of our ``/conversation/stream``
    protocol that a turn needs (binary 16 kHz PCM in, ``{"type": "audio.end"}`` when the person lets
    go of the talk button, binary PCM out, ``reply.end`` once its last audio is sent), so the same
    client code times both servers from the same moment (``audio.end`` sent) to the same event (the
    first reply audio frame received).

    ``--turn-detection push-to-talk`` (the default), as ours: the person's first frame is Pipecat's
    ``VADUserStartedSpeakingFrame`` and ``audio.end`` its ``VADUserStoppedSpeakingFrame`` (which makes
    the STT service commit), and the turn ends as soon as the committed transcript arrives
    (``SpeechTimeoutUserTurnStopStrategy`` with no extra wait: a finalized transcript cuts its STT
    timer short).

    ``--turn-detection pipecat-default``: what Pipecat does out of the box. The client's microphone
    never stops (silence between utterances, ``audio.end`` ignored); Silero VAD in the user
    aggregator finds the end of speech after its 0.2 s of silence (which commits the STT), and the
    local smart-turn v3 model decides whether the turn is over. Its waits and its CPU are part of
    what a default deployment's users get, not pipeline overhead: reported beside the verdict.
    """
    import aiohttp
    import uvicorn
    from fastapi import FastAPI, WebSocket
    from loguru import logger
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VAD_STOP_SECS
    from pipecat.frames.frames import (
        CancelFrame,
        InputAudioRawFrame,
        LLMFullResponseEndFrame,
        LLMFullResponseStartFrame,
        LLMTextFrame,
        OutputAudioRawFrame,
        TTSStoppedFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.serializers.base_serializer import FrameSerializer
    from pipecat.services.elevenlabs.stt import ElevenLabsRealtimeSTTService
    from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
    from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
    from pipecat.turns.user_turn_strategies import UserTurnStrategies
    from starlette.routing import WebSocketRoute

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("PEER_LOG_LEVEL", "WARNING"))
    elevenlabs_host = args.elevenlabs_url.split("://", 1)[1]

    class MicrophoneSerializer(FrameSerializer):
        """Every binary frame is microphone audio (Pipecat's own VAD decides when speech starts and stops);
        reply audio goes out as binary frames."""

        async def serialize(self, frame):
            return frame.audio if isinstance(frame, OutputAudioRawFrame) else None

        async def deserialize(self, data):
            if isinstance(data, bytes):
                return InputAudioRawFrame(audio=data, sample_rate=16000, num_channels=1)
            return None

    class PushToTalkSerializer(MicrophoneSerializer):
        """Our protocol's turn messages as Pipecat frames: the talk button decides when speech starts and stops."""

        def __init__(self) -> None:
            super().__init__()
            self.speaking = False

        async def deserialize(self, data):
            if isinstance(data, bytes):
                if not self.speaking:  # the talk button went down: this frame is the start of speech
                    self.speaking = True
                    return VADUserStartedSpeakingFrame()
                return InputAudioRawFrame(audio=data, sample_rate=16000, num_channels=1)
            if json.loads(data).get("type") == "audio.end":
                self.speaking = False
                return VADUserStoppedSpeakingFrame()
            return None

    push_to_talk = args.turn_detection == "push-to-talk"
    # How long after the end of speech the final transcript comes, as Pipecat asks to be told (its
    # built-in 0.41 s is ElevenLabs' measured figure; the fake commits 0.3 s after the VAD's 0.2 s).
    # With less, its turn model answers the words of an earlier pause in the utterance, then takes the
    # late transcript for a new turn and interrupts its own reply.
    stt_p99_s = VAD_STOP_SECS + args.stt_final_ms / 1000 + STT_P99_MARGIN_S

    class LoopbackRealtimeSTT(ElevenLabsRealtimeSTTService):
        """The realtime STT socket over plain ``ws://`` to the local fake (the service always says ``wss://``)."""

        async def _websocket_connect(self, uri: str, **kwargs):
            return await super()._websocket_connect(uri.replace("wss://", "ws://", 1), **kwargs)

    class ReplyText(FrameProcessor):
        """Keeps the text of the reply being written (between the LLM and the TTS)."""

        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        async def process_frame(self, frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, LLMFullResponseStartFrame):
                self.parts = []
            elif isinstance(frame, LLMTextFrame):
                self.parts.append(frame.text)
            await self.push_frame(frame, direction)

    class ReplyEnd(FrameProcessor):
        """Sends ``reply.end`` with the reply's text once its last audio has gone to the client, as ours does.

        It sits after the output transport, which passes each audio frame on once written and a TTS
        request's ``TTSStoppedFrame`` behind that request's last audio. The reply's
        ``LLMFullResponseEndFrame`` is timed to its last word instead, so it can pass before the last
        audio: the reply has ended when both have passed. (``BotStoppedSpeakingFrame`` will not do: it
        comes after any 0.35 s without audio, which under load happens between two sentences.)
        """

        def __init__(self, websocket: WebSocket, text: ReplyText) -> None:
            super().__init__()
            self.websocket = websocket
            self.reply_text = text
            self.response_ended = False
            self.audio_pending = False

        async def process_frame(self, frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if direction == FrameDirection.DOWNSTREAM:
                if isinstance(frame, LLMFullResponseStartFrame):
                    self.response_ended = False
                elif isinstance(frame, OutputAudioRawFrame):
                    self.audio_pending = True
                elif isinstance(frame, TTSStoppedFrame):
                    self.audio_pending = False
                    await self.maybe_end()
                elif isinstance(frame, LLMFullResponseEndFrame):
                    self.response_ended = True
                    await self.maybe_end()
            await self.push_frame(frame, direction)

        async def maybe_end(self) -> None:
            if not self.response_ended or self.audio_pending:
                return
            self.response_ended = False
            reply = {"type": "reply.end", "text": "".join(self.reply_text.parts), "timings": {}, "interrupted": False}
            with contextlib.suppress(Exception):  # the client may be gone
                await self.websocket.send_text(json.dumps(reply))

    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async with aiohttp.ClientSession() as http:  # the TTS service's, shared as in the in-process mode
            state["http"] = http
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    async def voice(websocket: WebSocket) -> None:
        await websocket.accept()
        transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=16000,
                audio_out_sample_rate=16000,
                serializer=PushToTalkSerializer() if push_to_talk else MicrophoneSerializer(),
            ),
        )
        stt = LoopbackRealtimeSTT(
            api_key="fake-elevenlabs-key",
            base_url=elevenlabs_host,
            sample_rate=16000,
            ttfs_p99_latency=stt_p99_s,
        )
        llm, tts = llm_and_tts(args, state["http"])
        context = LLMContext(messages=[{"role": "system", "content": "You are the person's future self."}])
        if push_to_talk:
            user_params = LLMUserAggregatorParams(
                user_turn_strategies=UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0)])
            )
        else:  # Pipecat's defaults: Silero VAD, then the local smart-turn v3 model ends the turn
            user_params = LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
        aggregators = LLMContextAggregatorPair(context, user_params=user_params)
        pipeline = Pipeline(
            [
                transport.input(),
                stt,
                aggregators.user(),
                llm,
                reply_text := ReplyText(),
                tts,
                transport.output(),
                ReplyEnd(websocket, reply_text),
                aggregators.assistant(),
            ]
        )
        task = PipelineTask(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=16000),
            idle_timeout_secs=None,
        )

        @transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(transport, client) -> None:
            await task.queue_frame(CancelFrame())

        await PipelineRunner(handle_sigint=False).run(task)

    # Starlette's route, not FastAPI's decorator: FastAPI reads the parameter's annotation to know it is
    # the socket, and this module's annotations are strings naming a local import.
    app.router.routes.append(WebSocketRoute("/voice", voice))

    # asyncio's own loop, as Pipecat runs by default (uvicorn would take uvloop where installed).
    uvicorn.run(app, host="127.0.0.1", port=args.serve, loop="asyncio", log_level="warning", ws="websockets-sansio")


async def main(args: argparse.Namespace) -> dict:
    import aiohttp
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    async with aiohttp.ClientSession() as http:
        # One warm-up turn: imports, first connections.
        warm = argparse.Namespace(**{**vars(args), "turns": 1, "utterance_seconds": 0})
        await run_size(warm, 1, http)
        results = [await run_size(args, size, http) for size in sizes]
    return {
        "version": version("pipecat-ai"),
        "sizes": results,
        "note": (
            f"Pipecat {version('pipecat-ai')}: MistralLLMService -> ElevenLabsHttpTTSService, one PipelineTask per "
            "session, all in one process; context pushed as an LLMContextFrame (no STT, so STT is left out of its "
            "critical path); first audio = first TTSAudioRawFrame out of the TTS service."
        ),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mistral-url", required=True)
    parser.add_argument(
        "--serve",
        type=int,
        metavar="PORT",
        help="serve Pipecat as a voice server on this port (ws://127.0.0.1:PORT/voice) instead of timing it in process",
    )
    parser.add_argument("--elevenlabs-url", required=True)
    parser.add_argument(
        "--turn-detection",
        choices=("push-to-talk", "pipecat-default"),
        default="push-to-talk",
        help="with --serve: the end of speech is the client's audio.end, or Pipecat's VAD and smart-turn find it",
    )
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--utterance-seconds", type=float, default=2.0)
    parser.add_argument(
        "--ramp-turns",
        type=int,
        default=0,
        help="with several sessions, turns spoken before and after the measured ones and not counted",
    )
    parser.add_argument(
        "--stagger-seconds",
        type=float,
        default=10.0,
        help="sessions start within this (voice_latency passes its turn cycle)",
    )
    parser.add_argument("--stt-final-ms", type=float, default=300, help="the fake's final transcript after a commit")
    parser.add_argument("--llm-first-token-ms", type=float, default=REPLY_DEFAULT_FIRST_TOKEN_MS)
    parser.add_argument("--llm-tokens-per-second", type=float, default=40)
    parser.add_argument("--tts-first-audio-ms", type=float, default=150)
    parser.add_argument(
        "--reply",
        default="I remember that first winter very well. It was harder than I had thought it would be. "
        "I am still glad we went.",
        help="the reply the fake LLM was scripted with",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        serve(arguments)
    else:
        print(json.dumps(asyncio.run(main(arguments))))
