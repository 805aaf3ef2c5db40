"""Voice latency: end of the person's speech to the first audio of the reply, over real WebSockets.

    python -m bench.voice_latency                      # everything (about 26 minutes)
    python -m bench.voice_latency --sizes 10,50 --no-peer --turns 5

One daphne process serves the app on PostgreSQL + Redis, every vendor replaced by the
local fakes (each in its own process) with the issue's latencies: STT final 300 ms after
commit, LLM first token 350 ms then 40 tokens/s, TTS first audio 150 ms then real time.
Clients (the ``websockets`` package) stream an espeak-ng utterance as 16 kHz PCM in
real time, send ``audio.end`` and time the first binary audio frame of the reply.

**Pipeline overhead** = measured - the fakes' critical path (STT final + LLM time to the last token of
the first sentence, from its token count and the fake's rate + TTS first audio).

Phases, all in one run: a single conversation; the overlap (the same conversation shape
on a second daphne that speaks only the finished reply, ``VOICE_PIPELINED_TTS=0``);
N simultaneous conversations (N = 10, 50, 100, 200: overhead, errors, memory per
conversation, the fakes' CPU), started at random moments within one turn cycle as
measured by the single conversation (``--stagger`` to choose), each counting only the turns
during which all of them are talking; and Pipecat at 1, 10, 50 sessions next to ours
(``bench/peer_pipecat.py`` in its own virtualenv, see ``--peer-python``), twice: as a voice server
spoken to by the same clients on the same schedule (the like-for-like comparison: a fresh daphne of
ours and Pipecat's server measured in turn at each size, ``--peer-rounds`` times, the first of each
pair alternating, so that the machine's drift over the run weighs on both alike), and as the
LLM -> TTS pipeline alone, in process. Then, outside the verdict, its voice server as it ships at
1 and 10 sessions (``--peer-open-mic-sizes``): Silero VAD and the smart-turn model finding the end
of speech in an open microphone's audio, a recorded person speaking with pauses mid-sentence
(``bench/speech/``), timed from the end of the speech; replies that start while the person is
still speaking are counted.

Also barge-in: one conversation cuts into replies while they play, by ``interrupt`` and by
speaking again, and times the cut to the reply's ``reply.end``, counting any audio of the cut
reply that arrives after it.

Exits 1 when a target is missed: overhead p95 <= 20 ms for one conversation, <= 50 ms
with no errors for 200, far ahead of Pipecat's voice server at every size measured (our p95 at
most half of its, over all rounds, with a 90% interval printed beside it), and barge-in within
100 ms p95 with no late audio.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._voice_common import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    PCM_BYTES_PER_SECOND,
    REPLY,
    ROOT,
    TURN_TIMEOUT_S,
    App,
    BargeInResult,
    Latency,
    LoopLag,
    OpenMicrophoneClient,
    PeerVoiceClient,
    Process,
    TurnResult,
    VoiceClient,
    app_env,
    connections_used,
    cpu_seconds,
    critical_path_ms,
    first_sentence_ms,
    flush_redis,
    fmt,
    machine,
    peer_command,
    percentile,
    recorded_pcm,
    recreate_database,
    reset_fake,
    rss_bytes,
    script_replies,
    start_fake,
    start_peer_server,
    table,
    utterance_pcm,
    whole_reply_ms,
    workdir,
)
from futureself import eventloop

SINGLE_TARGET_MS = 20
BARGE_IN_TARGET_MS = 100  # issue 7: a cut reply ends within 100 ms, and none of its audio follows
CONCURRENT_TARGET_MS = 50
CONCURRENT_TARGET_SIZE = 200
# "Far ahead of Pipecat": our overhead p95 at most this fraction of its voice server's, at every size.
FAR_AHEAD = 2
# With an open microphone, a turn the smart-turn model judged unfinished waits out its 3 s of silence.
HELD_BACK_MS = 2000
# Turns each conversation under load speaks before and after its measured ones, not counted (see run_phase).
RAMP_TURNS = 1
# How sure the interval around the ratio of our p95 to Pipecat's is, and how many resamples it takes.
CONFIDENCE = 0.90
RESAMPLES = 2000
# The vendors' HTTP requests of a turn, whose connections are counted in the single conversation.
CONNECTION_ROUTES = ("mistral.chat", "mistral.moderations", "elevenlabs.tts")
PEER_PYTHON = ROOT / "bench" / ".venv" / "bin" / "python"


@dataclass
class Phase:
    label: str
    turns: list[TurnResult] = field(default_factory=list)
    latency: Latency = field(default_factory=Latency)
    conversations: int = 1
    memory_per_conversation: float | None = None
    fake_cpu: dict[str, float] = field(default_factory=dict)
    server_cpu: float = 0.0
    client_lag_ms: float = 0.0
    wall_s: float = 0.0
    connections: dict[str, tuple[int, int]] = field(default_factory=dict)  # route -> (requests, connections)
    stagger_s: float = 0.0  # the conversations started at random moments within this many seconds
    utterance_s: float = 0.0  # how long each person spoke before each turn
    spoken_turns: int = 0  # turns answered during the phase, the unmeasured ones before and after included

    @property
    def ok(self) -> list[TurnResult]:
        return [t for t in self.turns if t.error is None and t.first_audio_ms is not None]

    @property
    def errors(self) -> int:
        return len(self.turns) - len(self.ok)

    def first_audio(self) -> list[float]:
        return [t.first_audio_ms for t in self.ok]

    def overhead(self) -> list[float]:
        return [t.first_audio_ms - critical_path_ms(t.reply_text, self.latency) for t in self.ok]

    def server_overhead(self) -> list[float]:
        """The same, from the server's own ``first_audio_ms`` (no client or socket hop in it)."""
        return [
            t.timings["first_audio_ms"] - critical_path_ms(t.reply_text, self.latency)
            for t in self.ok
            if t.timings.get("first_audio_ms") is not None
        ]

    def timing(self, name: str) -> list[float]:
        return [t.timings[name] for t in self.ok if t.timings.get(name) is not None]

    def cpu_ms_per_turn(self) -> float:
        """The server's CPU over the phase per turn it answered (connecting and idling included)."""
        return self.server_cpu * self.wall_s * 1000 / self.spoken_turns if self.spoken_turns else math.nan

    @classmethod
    def pooled(cls, phases: list[Phase]) -> Phase:
        """Several phases of the same size as one: their turns together, CPU and memory over all of them."""
        wall_s = sum(p.wall_s for p in phases)
        return cls(
            phases[0].label,
            turns=[t for p in phases for t in p.turns],
            latency=phases[0].latency,
            conversations=phases[0].conversations,
            memory_per_conversation=max((p.memory_per_conversation or 0) for p in phases),
            server_cpu=sum(p.server_cpu * p.wall_s for p in phases) / wall_s if wall_s else 0.0,
            wall_s=wall_s,
            spoken_turns=sum(p.spoken_turns for p in phases),
        )

    def record(self) -> dict[str, Any]:
        """The phase's raw numbers, for ``--json``."""
        return {
            "conversations": self.conversations,
            "first_audio_ms": self.first_audio(),
            "overhead_ms": self.overhead(),
            "errors": self.errors,
            "memory_per_conversation": self.memory_per_conversation,
            "fake_cpu": self.fake_cpu,
            "server_cpu": self.server_cpu,
            "stagger_s": self.stagger_s,
            "turn_cycle_s": turn_cycle_s(self),
            "cpu_ms_per_turn": self.cpu_ms_per_turn(),
            "server_timings": [t.timings for t in self.ok],
            # When each answered turn's speech ended (seconds from the phase's first), with its first audio:
            # slow turns that bunch together point at a stall, spread ones at queueing.
            "turns_over_time": self.turns_over_time(),
        }

    def turns_over_time(self) -> list[tuple[float, float]]:
        timed = [t for t in self.ok if t.speech_ended_at is not None and t.first_audio_ms is not None]
        start = min((t.speech_ended_at for t in timed), default=0.0)
        return sorted((round(t.speech_ended_at - start, 3), round(t.first_audio_ms, 1)) for t in timed)


def times_ahead(ours_ms: float, peer_ms: float) -> float:
    return peer_ms / ours_ms if ours_ms > 0 else math.nan


@dataclass
class HeadToHead:
    """Ours and Pipecat's voice server at one size, measured in turn, round after round.

    The first of a pair alternates (ours then Pipecat, then Pipecat then ours: A B B A), so that a
    machine that gets slower or faster over the run weighs on both alike. Both p95s are over every
    round's turns together; the interval around their ratio comes from resampling each round's turns.
    """

    size: int
    ours: list[Phase] = field(default_factory=list)
    peer: list[Phase] = field(default_factory=list)

    def ours_p95(self) -> float:
        return percentile(Phase.pooled(self.ours).overhead(), 95)

    def peer_p95(self) -> float:
        return percentile(Phase.pooled(self.peer).overhead(), 95)

    def ratio(self) -> float:
        """How many times our overhead p95 fits in Pipecat's (2 or more: far ahead)."""
        return times_ahead(self.ours_p95(), self.peer_p95())

    def interval(self, *, confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> tuple[float, float]:
        """A bootstrap interval for :meth:`ratio`: each round's turns resampled with replacement."""
        rng = random.Random(self.size)
        ours = [p.overhead() for p in self.ours]
        peer = [p.overhead() for p in self.peer]
        if not all(ours) or not all(peer):
            return math.nan, math.nan

        def resampled_p95(rounds: list[list[float]]) -> float:
            return percentile([v for values in rounds for v in rng.choices(values, k=len(values))], 95)

        ratios = sorted(times_ahead(resampled_p95(ours), resampled_p95(peer)) for _ in range(resamples))
        tail = (1 - confidence) / 2
        return ratios[int(tail * resamples)], ratios[min(resamples - 1, int((1 - tail) * resamples))]

    def record(self) -> dict[str, Any]:
        return {
            "ours": [p.record() for p in self.ours],
            "peer": [p.record() for p in self.peer],
            "ratio": self.ratio(),
            "interval": self.interval(),
        }


# --- driving conversations -----------------------------------------------------------------------


async def converse(
    client: VoiceClient,
    pcm: bytes,
    turns: int,
    *,
    start_after: float,
    connected: asyncio.Event,
    go: asyncio.Event,
) -> list[TurnResult]:
    """Connect, say so, wait for everyone else, then speak ``turns`` times (each after the previous reply)."""
    try:
        await client.connect()
    except Exception as exc:
        return [TurnResult(error=f"connect: {type(exc).__name__}")] * turns
    finally:
        connected.set()
    try:
        await go.wait()
        await asyncio.sleep(start_after)
        return [await client.turn(pcm) for _ in range(turns)]
    finally:
        await client.close()


async def run_phase(
    phase: Phase,
    server: Process,
    people: list[dict[str, str]],
    pcm: bytes,
    turns: int,
    fakes: list[Process],
    *,
    stagger_s: float,
    ramp: int = 0,
    make_client: Callable[[dict[str, str]], VoiceClient] | None = None,
) -> Phase:
    """``len(people)`` conversations open at once, each starting to speak at a random moment within ``stagger_s``.

    With ``ramp``, each conversation speaks that many more times before and after its ``turns``
    measured ones, and those are not counted: started within one turn cycle, the conversations are
    then all talking throughout every measured turn (not yet all at the start, no longer all at the end).
    Each person is our app's client unless ``make_client`` says otherwise (the peer's).
    """
    if make_client is None:

        def make_client(person: dict[str, str]) -> VoiceClient:
            return VoiceClient(server.url, person["conversation_id"], person["token"])

    phase.conversations = len(people)
    phase.stagger_s = stagger_s
    phase.utterance_s = len(pcm) / PCM_BYTES_PER_SECOND
    rss_before = rss_bytes(server.pid)
    cpu_before = {f.name: cpu_seconds(f.pid) for f in fakes}
    server_cpu_before = cpu_seconds(server.pid)
    started = time.perf_counter()
    go = asyncio.Event()
    connected = [asyncio.Event() for _ in people]
    rng = random.Random(len(people))
    with LoopLag() as lag:
        tasks = [
            asyncio.create_task(
                converse(
                    make_client(person),
                    pcm,
                    turns + 2 * ramp,
                    start_after=rng.uniform(0, stagger_s),
                    connected=connected[index],
                    go=go,
                )
            )
            for index, person in enumerate(people)
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), 120)
        rss_connected = rss_bytes(server.pid)
        go.set()
        # Past every turn's own timeout (TURN_TIMEOUT_S, counted as an error), ramp turns included.
        spoken = turns + 2 * ramp
        results = await asyncio.wait_for(asyncio.gather(*tasks), 120 + spoken * TURN_TIMEOUT_S + stagger_s)
    phase.client_lag_ms = lag.worst_ms
    phase.wall_s = time.perf_counter() - started
    phase.memory_per_conversation = (max(rss_connected, rss_bytes(server.pid)) - rss_before) / len(people)
    phase.fake_cpu = {f.name: (cpu_seconds(f.pid) - cpu_before[f.name]) / phase.wall_s for f in fakes}
    phase.server_cpu = (cpu_seconds(server.pid) - server_cpu_before) / phase.wall_s
    phase.turns = [turn for result in results for turn in result[ramp : ramp + turns]]
    phase.spoken_turns = sum(1 for result in results for turn in result if turn.first_audio_ms is not None)
    return phase


async def run_barge_in(daphne: Process, person: dict[str, str], pcm: bytes, trials: int) -> list[BargeInResult]:
    """One conversation cutting into ``trials`` replies, by ``interrupt`` and by voice in turn."""
    client = VoiceClient(daphne.url, person["conversation_id"], person["token"])
    await client.connect()
    try:
        return await client.barge_in(pcm, [("interrupt", "voice")[n % 2] for n in range(trials)])
    finally:
        await client.close()


# --- the peer -----------------------------------------------------------------------------------------


async def run_single(
    phase: Phase,
    server: Process,
    person: dict[str, str],
    pcm: bytes,
    turns: int,
    fakes: list[Process],
    *,
    make_client: Callable[[dict[str, str]], VoiceClient] | None = None,
) -> Phase:
    """One conversation alone: a warm-up turn (it opens the SDK clients and connections), then ``turns`` measured."""
    await run_phase(phase, server, [person], pcm, turns + 1, fakes, stagger_s=0, make_client=make_client)
    phase.turns = phase.turns[1:]
    return phase


def turn_cycle_s(phase: Phase) -> float:
    """How long one turn of a conversation takes: speaking, waiting, then the whole reply.

    Simultaneous conversations start at random moments within one such cycle, so that at any
    moment they are at every stage of a turn, as independent people are. Started within a few
    seconds of each other instead, they stay in step (every turn takes as long), and all of
    them speak in the same few seconds of every cycle.
    """
    cycles = sorted(t.cycle_s for t in phase.ok if t.cycle_s is not None)
    return cycles[len(cycles) // 2] if cycles else 10.0


def chosen_stagger_s(args: argparse.Namespace, single: Phase) -> float:
    return args.stagger if args.stagger is not None else turn_cycle_s(single)


async def measure_size(
    args: argparse.Namespace,
    label: str,
    server: Process,
    people: list[dict[str, str]],
    pcm: bytes,
    fakes: dict[str, Process],
    latency: Latency,
    *,
    stagger_s: float,
    make_client: Callable[[dict[str, str]], VoiceClient] | None = None,
) -> Phase:
    """``len(people)`` sessions on ``server``: one as the single conversation, more as under load."""
    size = len(people)
    print(f"{label}, {size} session(s) ...", file=sys.stderr, flush=True)
    fake_list = list(fakes.values())
    phase = Phase(f"{label} {size}", latency=latency)
    if size == 1:
        await run_single(phase, server, people[0], pcm, args.turns, fake_list, make_client=make_client)
    else:
        await run_phase(
            phase,
            server,
            people,
            pcm,
            args.concurrent_turns,
            fake_list,
            stagger_s=stagger_s,
            ramp=RAMP_TURNS,
            make_client=make_client,
        )
    # The fakes keep every request (audio included): forget them between phases.
    reset_fake(fakes["elevenlabs"].url, latency)
    return phase


def peer_clients(server: Process, client: type[PeerVoiceClient]) -> Callable[[dict[str, str]], VoiceClient]:
    def make_client(_person: dict[str, str]) -> VoiceClient:
        return client(server.url)

    return make_client


async def measure_peer_server(
    args: argparse.Namespace,
    server: Process,
    fakes: dict[str, Process],
    latency: Latency,
    pcm: bytes,
    sizes: list[int],
    *,
    stagger_s: float,
    client: type[PeerVoiceClient] = PeerVoiceClient,
) -> dict[int, Phase]:
    """Pipecat's voice server, spoken to by the same clients on the same schedule as our daphne."""
    return {
        size: await measure_size(
            args,
            f"Pipecat ({client.__name__})",
            server,
            [{} for _ in range(size)],
            pcm,
            fakes,
            latency,
            stagger_s=stagger_s,
            make_client=peer_clients(server, client),
        )
        for size in sizes
    }


async def head_to_head(
    args: argparse.Namespace,
    ours: Process,
    peer: Process,
    people: list[dict[str, str]],
    fakes: dict[str, Process],
    latency: Latency,
    pcm: bytes,
    sizes: list[int],
    *,
    stagger_s: float,
) -> dict[int, HeadToHead]:
    """Ours and Pipecat's push-to-talk voice server in turn at each size, ``args.peer_rounds`` times (A B B A)."""
    duels = {size: HeadToHead(size) for size in sizes}
    unused = iter(people)
    for round_index in range(args.peer_rounds):
        for size in sizes:
            ours_people = [next(unused) for _ in range(size)]
            sides = ("ours", "peer") if round_index % 2 == 0 else ("peer", "ours")
            for side in sides:
                label = f"round {round_index + 1}: " + ("ours" if side == "ours" else "Pipecat voice server")
                if side == "ours":
                    phase = await measure_size(args, label, ours, ours_people, pcm, fakes, latency, stagger_s=stagger_s)
                    duels[size].ours.append(phase)
                else:
                    phase = await measure_size(
                        args,
                        label,
                        peer,
                        [{} for _ in range(size)],
                        pcm,
                        fakes,
                        latency,
                        stagger_s=stagger_s,
                        make_client=peer_clients(peer, PeerVoiceClient),
                    )
                    duels[size].peer.append(phase)
    return duels


def run_head_to_head(
    args: argparse.Namespace,
    app: App,
    fakes: dict[str, Process],
    latency: Latency,
    pcm: bytes,
    sizes: list[int],
    *,
    folder: Path,
    stagger_s: float,
) -> dict[int, HeadToHead]:
    """A fresh daphne of ours beside a fresh Pipecat voice server, measured in turn (see :func:`head_to_head`)."""
    for daphne in app.daphnes:  # the ones the phases before used, 200 conversations' worth of heap included
        daphne.stop()
    people = app.seed(args.peer_rounds * sum(sizes), "head-to-head")
    reset_fake(fakes["mistral"].url, latency)
    reset_fake(fakes["elevenlabs"].url, latency)
    script_replies(fakes["mistral"].url, 2 * args.peer_rounds * sum(sizes) * (args.turns + 2 * RAMP_TURNS + 1) + 50)
    ours = app.start_daphne("daphne-head-to-head")
    peer = start_peer_server(
        args.peer_python, fakes["mistral"].url, fakes["elevenlabs"].url, folder, stt_final_ms=latency.stt_final_ms
    )
    try:
        return asyncio.run(
            head_to_head(args, ours, peer, people, fakes, latency, pcm, sizes, stagger_s=stagger_s),
            loop_factory=eventloop.factory(),
        )
    finally:
        peer.stop()
        ours.stop()


def serve_peer(
    args: argparse.Namespace,
    fakes: dict[str, Process],
    latency: Latency,
    pcm: bytes,
    sizes: list[int],
    *,
    folder: Path,
    stagger_s: float,
    turn_detection: str = "push-to-talk",
    client: type[PeerVoiceClient] = PeerVoiceClient,
) -> dict[int, Phase]:
    """Start Pipecat's voice server on fresh fakes, measure it at ``sizes``, stop it."""
    reset_fake(fakes["mistral"].url, latency)
    reset_fake(fakes["elevenlabs"].url, latency)
    script_replies(fakes["mistral"].url, 2000)
    server = start_peer_server(
        args.peer_python,
        fakes["mistral"].url,
        fakes["elevenlabs"].url,
        folder,
        stt_final_ms=latency.stt_final_ms,
        turn_detection=turn_detection,
    )
    try:
        return asyncio.run(
            measure_peer_server(args, server, fakes, latency, pcm, sizes, stagger_s=stagger_s, client=client),
            loop_factory=eventloop.factory(),
        )
    finally:
        server.stop()


def run_peer(
    python: Path,
    mistral: Process,
    elevenlabs: Process,
    latency: Latency,
    sizes: list[int],
    *,
    stagger_s: float,
    utterance_s: float,
) -> dict[str, Any]:
    """Pipecat measured in its own interpreter (it is not one of the app's dependencies)."""
    out = subprocess.run(
        peer_command(
            python,
            mistral.url,
            elevenlabs.url,
            f"--sizes={','.join(map(str, sizes))}",
            f"--llm-first-token-ms={latency.llm_first_token_ms}",
            f"--llm-tokens-per-second={latency.llm_tokens_per_second}",
            f"--tts-first-audio-ms={latency.tts_first_audio_ms}",
            f"--stagger-seconds={stagger_s}",
            f"--utterance-seconds={utterance_s}",
            f"--ramp-turns={RAMP_TURNS}",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode:
        return {"error": f"peer_pipecat.py failed: {out.stderr.strip()[-800:]}"}
    return json.loads(out.stdout)


# --- the run ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.voice_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10, help="measured turns of the single conversation")
    parser.add_argument("--overlap-turns", type=int, default=5, help="measured turns of the sequential baseline")
    parser.add_argument(
        "--barge-ins", type=int, default=10, help="replies cut into (by interrupt and by voice, in turn)"
    )
    parser.add_argument("--sizes", default="10,50,100,200", help="simultaneous conversations, comma separated")
    parser.add_argument(
        "--concurrent-turns",
        type=int,
        default=2,
        help="measured turns per conversation under load (each speaks once more before and after, not counted)",
    )
    parser.add_argument(
        "--stagger",
        type=float,
        help="seconds over which simultaneous conversations start (default: one turn cycle, as measured)",
    )
    parser.add_argument("--peer-sizes", default="1,10,50")
    parser.add_argument(
        "--peer-rounds",
        type=int,
        default=2,
        help="times ours and Pipecat's voice server are measured in turn at each peer size (A B B A ...)",
    )
    parser.add_argument(
        "--peer-open-mic-sizes",
        default="1,10",
        help="Pipecat's voice server again with its default turn detection and an open microphone ('' to skip;"
        " at 50 it saturated this 2-core machine)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip Pipecat")
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    parser.add_argument(
        "--event-loop",
        choices=eventloop.CHOICES,
        default=None,
        help="daphne's event loop (default: the app's, uvloop where installed); the clients always use the default",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    return parser.parse_args(argv)


async def measure(
    args: argparse.Namespace, app: App, fakes: dict[str, Process], latency: Latency, pcm: bytes
) -> tuple[dict[str, Phase], list[BargeInResult]]:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    people = app.seed(3 + sum(sizes), "voice")
    pipelined = app.start_daphne("daphne")
    sequential = app.start_daphne("daphne-sequential", VOICE_PIPELINED_TTS="0")
    fake_list = list(fakes.values())
    total_turns = (
        2 * (args.turns + args.overlap_turns + 2)
        + args.barge_ins
        + 1
        + sum(sizes) * (args.concurrent_turns + 2 * RAMP_TURNS)
    )
    reset_fake(fakes["mistral"].url, latency)
    reset_fake(fakes["elevenlabs"].url, latency)
    script_replies(fakes["mistral"].url, total_turns + 50)
    phases: dict[str, Phase] = {}

    print(f"single conversation: 1 warm-up + {args.turns} turns ...", file=sys.stderr, flush=True)
    phases["single"] = await run_single(
        Phase("1 (pipelined)", latency=latency), pipelined, people[0], pcm, args.turns, fake_list
    )
    phases["single"].connections = {
        route: connections_used(fakes[route.split(".")[0]].url, route) for route in CONNECTION_ROUTES
    }

    print(f"sequential baseline: 1 warm-up + {args.overlap_turns} turns ...", file=sys.stderr, flush=True)
    phases["sequential"] = await run_single(
        Phase("1 (sequential)", latency=latency), sequential, people[1], pcm, args.overlap_turns, fake_list
    )

    print(f"barge-in: {args.barge_ins} replies cut into ...", file=sys.stderr, flush=True)
    barge_ins = await run_barge_in(pipelined, people[2], pcm, args.barge_ins)

    offset = 3
    stagger_s = chosen_stagger_s(args, phases["single"])
    for size in sizes:
        label = f"simultaneous conversations x {args.concurrent_turns} turns:"
        group = people[offset : offset + size]
        phases[f"n{size}"] = await measure_size(args, label, pipelined, group, pcm, fakes, latency, stagger_s=stagger_s)
        offset += size
    return phases, barge_ins


def report_barge_in(results: list[BargeInResult]) -> list[str]:
    """Print the barge-in table; return the missed targets (none when no cut was asked for)."""
    if not results:
        print("\nBarge-in: not measured (--barge-ins 0)")
        return []
    print("\nBarge-in: the cut (interrupt sent, or the first frame of new speech) to the cut reply's reply.end\n")
    rows, missed = [], []
    for by in ("interrupt", "voice", "all"):
        chosen = [r for r in results if by in ("all", r.by)]
        stops = [r.stop_ms for r in chosen if r.stop_ms is not None and r.error is None]
        errors = sum(1 for r in chosen if r.error is not None or r.stop_ms is None)
        late = sum(r.late_frames for r in chosen)
        rows.append([by, len(chosen), fmt(percentile(stops, 50), 1), fmt(percentile(stops, 95), 1), late, errors])
        if by == "all" and (not percentile(stops, 95) <= BARGE_IN_TARGET_MS or late or errors):
            missed.append(
                f"barge-in: p95 {fmt(percentile(stops, 95), 1)} ms (target {BARGE_IN_TARGET_MS}), "
                f"{late} late audio frames, {errors} errors"
            )
    print(table(["barge-in by", "cuts", "to reply.end p50 ms", "p95 ms", "late audio frames", "errors"], rows))
    for result in results:
        if result.error:
            print(f"  error ({result.by}): {result.error}")
    return missed


def report(
    phases: dict[str, Phase],
    peer: dict[str, Any],
    duels: dict[int, HeadToHead],
    latency: Latency,
    args: argparse.Namespace,
    *,
    open_mic_phases: dict[int, Phase] | None = None,
) -> list[str]:
    """Print the tables; return the missed targets."""
    missed: list[str] = []
    critical = critical_path_ms(REPLY, latency)
    print(f"\nMachine: {machine()}; daphne on the {args.event_loop or eventloop.configured()} event loop")
    print(
        f"Fakes: STT final {latency.stt_final_ms:.0f} ms, LLM first token {latency.llm_first_token_ms:.0f} ms then "
        f"{latency.llm_tokens_per_second:.0f} tokens/s, TTS first audio {latency.tts_first_audio_ms:.0f} ms then "
        f"real time. Reply: {len(REPLY.split('. '))} sentences; critical path {critical:.0f} ms "
        f"(STT {latency.stt_final_ms:.0f} + LLM to first sentence {first_sentence_ms(REPLY, latency):.0f} "
        f"+ TTS {latency.tts_first_audio_ms:.0f}).\n"
    )

    rows = []
    load = [phases["single"], *[p for k, p in phases.items() if k.startswith("n")]]
    for phase in load:
        overhead = phase.overhead()
        rows.append(
            [
                phase.conversations,
                len(phase.turns),
                fmt(percentile(phase.first_audio(), 50)),
                fmt(percentile(phase.first_audio(), 95)),
                fmt(percentile(overhead, 50), 1),
                fmt(percentile(overhead, 95), 1),
                fmt(percentile(phase.server_overhead(), 95), 1),
                fmt(percentile(phase.timing("stt_ms"), 95)),
                phase.errors,
                "-" if phase.conversations == 1 else fmt((phase.memory_per_conversation or 0) / 1024, 0),
                f"{phase.server_cpu * 100:.0f}%",
                " / ".join(f"{v * 100:.0f}%" for v in phase.fake_cpu.values()),
                fmt(phase.client_lag_ms),
            ]
        )
    print("Voice latency: audio.end to first reply audio, one daphne process, PostgreSQL + Redis")
    stagger_s = chosen_stagger_s(args, phases["single"])
    print(
        f"Simultaneous conversations start at random moments within {stagger_s:.1f} s,"
        " then each speaks again after each reply.\n"
    )
    print(
        table(
            [
                "conversations",
                "turns",
                "first audio p50 ms",
                "p95 ms",
                "overhead p50 ms",
                "overhead p95 ms",
                "server-side overhead p95 ms",
                "STT (server) p95 ms",
                "errors",
                "memory per conversation KiB",
                "daphne CPU",
                "fake CPU (Mistral / ElevenLabs)",
                "client loop lag max ms",
            ],
            rows,
        )
    )
    print("\nWhere the time goes: the server's own timings (reply.end), p50 / p95 ms, fakes' share in brackets\n")
    # Each column's p50 / p95 against the fakes' share of it. stt_ms, saved_ms, first_sentence_ms
    # and first_audio_ms are counted from audio.end, so their excess over the bracket grows stage by
    # stage; llm_first_token_ms and tts_first_audio_ms are one request each.
    shares = {
        "stt_ms": latency.stt_final_ms,
        "saved_ms": latency.stt_final_ms,
        "llm_first_token_ms": latency.llm_first_token_ms,
        "first_sentence_ms": latency.stt_final_ms + first_sentence_ms(REPLY, latency),
        "tts_first_audio_ms": latency.tts_first_audio_ms,
        "first_audio_ms": critical,
    }
    print(
        table(
            ["conversations", *(f"{name} [{share:.0f}]" for name, share in shares.items())],
            [
                [
                    phase.conversations,
                    *(
                        f"{fmt(percentile(phase.timing(name), 50))} / {fmt(percentile(phase.timing(name), 95))}"
                        for name in shares
                    ),
                ]
                for phase in load
            ],
        )
    )
    single = percentile(phases["single"].overhead(), 95)
    if not single <= SINGLE_TARGET_MS or phases["single"].errors:
        missed.append(f"single conversation: overhead p95 {fmt(single, 1)} ms > {SINGLE_TARGET_MS} ms or errors")
    target = phases.get(f"n{CONCURRENT_TARGET_SIZE}")
    if target is not None:
        p95 = percentile(target.overhead(), 95)
        if not p95 <= CONCURRENT_TARGET_MS or target.errors:
            missed.append(
                f"{CONCURRENT_TARGET_SIZE} conversations: overhead p95 {fmt(p95, 1)} ms "
                f"(target {CONCURRENT_TARGET_MS}), {target.errors} errors"
            )
    for phase in load:
        if phase.errors:
            kinds = sorted({t.error or "no audio" for t in phase.turns if t not in phase.ok})
            print(f"  errors at {phase.conversations}: {', '.join(kinds)[:300]}")

    connections = phases["single"].connections
    print(
        f"\nVendor connections in the single conversation ({len(phases['single'].turns) + 1} turns, warm-up "
        "included): "
        + ", ".join(f"{route} {requests} requests over {opened}" for route, (requests, opened) in connections.items())
    )

    pipelined, sequential = phases["single"], phases["sequential"]
    p50_pipe, p50_seq = percentile(pipelined.first_audio(), 50), percentile(sequential.first_audio(), 50)
    print("\nOverlap: first audio with the reply spoken sentence by sentence vs once fully written\n")
    print(
        table(
            ["mode", "turns", "first audio p50 ms", "p95 ms", "fakes' critical path ms"],
            [
                [
                    "pipelined (ours)",
                    len(pipelined.ok),
                    fmt(p50_pipe),
                    fmt(percentile(pipelined.first_audio(), 95)),
                    fmt(critical),
                ],
                [
                    "sequential baseline",
                    len(sequential.ok),
                    fmt(p50_seq),
                    fmt(percentile(sequential.first_audio(), 95)),
                    fmt(latency.stt_final_ms + whole_reply_ms(REPLY, latency) + latency.tts_first_audio_ms),
                ],
            ],
        )
    )
    print(f"\nRatio pipelined / sequential (p50): {p50_pipe / p50_seq:.2f}  ({p50_seq / p50_pipe:.2f}x sooner)")
    if sequential.errors:
        missed.append(f"sequential baseline: {sequential.errors} errors")

    print("\nPeer, side by side: pipeline overhead (measured - the fakes' critical path), ms\n")
    if "error" in peer:
        print(f"Pipecat not measured: {peer['error']}")
        if not args.no_peer:
            missed.append("Pipecat could not be measured")
        return missed
    in_process = {entry["sessions"]: entry for entry in peer["sizes"]}
    version = peer.get("version", "")
    rounds = max((len(duel.ours) for duel in duels.values()), default=0)
    print(
        f"Ours and Pipecat {version}'s voice server (push to talk, as ours) measured in turn at each size, {rounds}"
        " round(s), the first of each pair alternating (A B B A); p95 over every round's turns; the interval"
        f" ({CONFIDENCE:.0%}) from resampling each round's turns.\n"
    )
    rows = []
    for size, duel in sorted(duels.items()):
        ours, server = Phase.pooled(duel.ours), Phase.pooled(duel.peer)
        low, high = duel.interval()
        rows.append(
            [
                size,
                f"{len(ours.turns)} / {len(server.turns)}",
                fmt(percentile(ours.overhead(), 50), 1),
                fmt(duel.ours_p95(), 1),
                fmt(percentile(server.overhead(), 50), 1),
                fmt(duel.peer_p95(), 1),
                f"{fmt(duel.ratio(), 2)}x",
                f"{fmt(low, 2)}-{fmt(high, 2)}x",
                ", ".join(
                    f"{fmt(percentile(a.overhead(), 95), 1)} / {fmt(percentile(b.overhead(), 95), 1)}"
                    for a, b in zip(duel.ours, duel.peer, strict=True)
                ),
                f"{ours.errors} / {server.errors}",
            ]
        )
        if not duel.ratio() >= FAR_AHEAD or ours.errors:
            missed.append(
                f"{size} sessions: ours {fmt(duel.ours_p95(), 1)} ms p95 ({ours.errors} errors) is not {FAR_AHEAD}x"
                f" ahead of Pipecat's {fmt(duel.peer_p95(), 1)} ms ({fmt(duel.ratio(), 2)}x,"
                f" {CONFIDENCE:.0%} interval {fmt(low, 2)}-{fmt(high, 2)}x)"
            )
        for name, phase in (("our", ours), ("Pipecat", server)):
            if phase.errors:
                kinds = sorted({t.error or "no audio" for t in phase.turns if t not in phase.ok})
                print(f"  {name} errors at {size}: {', '.join(kinds)[:300]}")
    print(
        table(
            [
                "sessions",
                "turns (ours / Pipecat)",
                "ours p50",
                "ours p95",
                "Pipecat p50",
                "Pipecat p95",
                "Pipecat p95 / ours",
                "interval",
                "p95 by round (ours / Pipecat)",
                "errors (ours / Pipecat)",
            ],
            rows,
        )
    )
    print("\nPer turn and per process, over the same rounds: how long a turn takes (first reply audio to reply.end),")
    print("each server's CPU over its phases and per turn it answered; Pipecat's LLM -> TTS alone, in process\n")
    rows = []
    for size in sorted(set(duels) | set(in_process)):
        duel, alone = duels.get(size), in_process.get(size)
        ours = Phase.pooled(duel.ours) if duel else None
        server = Phase.pooled(duel.peer) if duel else None
        rows.append(
            [
                size,
                *(fmt(turn_cycle_s(p), 2) if p else "-" for p in (ours, server)),
                *(f"{p.server_cpu * 100:.0f}%" if p else "-" for p in (ours, server)),
                *(fmt(p.cpu_ms_per_turn(), 1) if p else "-" for p in (ours, server)),
                *(fmt((p.memory_per_conversation or 0) / 1024) if p and size > 1 else "-" for p in (ours, server)),
                fmt(alone["overhead_p50_ms"], 1) if alone else "-",
                fmt(alone["overhead_p95_ms"], 1) if alone else "-",
                f"{alone['process_cpu'] * 100:.0f}%" if alone else "-",
            ]
        )
    print(
        table(
            [
                "sessions",
                "ours turn s",
                "Pipecat turn s",
                "ours CPU",
                "Pipecat CPU",
                "ours CPU ms per turn",
                "Pipecat CPU ms per turn",
                "ours memory per session KiB",
                "Pipecat memory per session KiB",
                "Pipecat LLM -> TTS in process p50",
                "p95",
                "process CPU",
            ],
            rows,
        )
    )
    print(
        f"\nVoice server: Pipecat {version} behind its FastAPI WebSocket transport, realtime STT -> user aggregator ->"
        " LLM -> HTTP TTS -> output transport per session, spoken to by the same clients as ours (critical path"
        f" with STT, as ours). Ahead means ours p95 x {FAR_AHEAD} <= Pipecat's voice server p95."
    )
    print(peer.get("note", ""))
    if open_mic_phases:
        report_open_microphone(open_mic_phases, version)
    return missed


def report_open_microphone(phases: dict[int, Phase], version: str) -> None:
    """Pipecat as it ships: context for the verdict, not part of it (push to talk is ours and the peer's there)."""
    print(
        f"\nPipecat {version} voice server with its default turn detection (Silero VAD, then the smart-turn v3"
        " model), an open microphone, a recorded person: the end of speech to the first reply audio, ms over the"
        " fakes\n"
    )
    rows = []
    for size, phase in sorted(phases.items()):
        # A turn it cut into may have ended at that reply's end or been timed to its audio: not timed.
        cut_in = [t for t in phase.turns if t.error is None and t.timings.get("audio_while_speaking")]
        failed = [t for t in phase.turns if t not in phase.ok and t not in cut_in]
        if failed:
            # After a turn that timed out, its reply's audio arrives during the next turn and would be
            # timed as that turn's: a phase with errors has no latency to show, only that it was overloaded.
            latency = ["overloaded", "-", "-"]
            kinds = sorted({t.error or "no audio" for t in failed})
            print(f"  Pipecat errors at {size}: {', '.join(kinds)[:300]}")
        else:
            timed = Phase(phase.label, turns=[t for t in phase.ok if t not in cut_in], latency=phase.latency)
            overhead = timed.overhead()
            held_back = sum(1 for o in overhead if o >= HELD_BACK_MS)
            latency = [fmt(percentile(overhead, 50), 1), fmt(percentile(overhead, 95), 1), held_back]
        rows.append([size, len(phase.turns), *latency, len(cut_in), len(failed), f"{phase.server_cpu * 100:.0f}%"])
    print(
        table(
            [
                "sessions",
                "turns",
                "over the fakes p50",
                "p95",
                f"turns held back (>= {HELD_BACK_MS / 1000:.0f} s)",
                "turns cut into (reply audio before the end)",
                "errors",
                "process CPU",
            ],
            rows,
        )
    )
    print(
        "Timed from the end of the recording's speech (bench/speech/README.md), over the turns it did not cut"
        " into. Included, as its users get them: the VAD's 0.2 s of silence before the STT commits, the model's"
        " verdict, and its 3 s wait when it judges the turn unfinished (the turns held back). Not part of the"
        " verdict above: push to talk asks for no such wait, on either side."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    latency = Latency()
    folder = workdir()
    fakes = {
        "mistral": start_fake("fake-mistral", latency, folder),
        "elevenlabs": start_fake("fake-elevenlabs", latency, folder),
    }
    env = app_env(
        mistral_url=fakes["mistral"].url,
        elevenlabs_url=fakes["elevenlabs"].url,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workdir=folder,
    )
    if args.event_loop:
        env[eventloop.SETTING] = args.event_loop
    app = App(env=env, workdir=folder)
    try:
        recreate_database(args.database_url)
        flush_redis(args.redis_url)
        app.manage("migrate", "--noinput")
        # The simulated people share this one process: on uvloop they cost it less and wait less for it.
        pcm = utterance_pcm(workdir=folder)
        phases, barge_ins = asyncio.run(measure(args, app, fakes, latency, pcm), loop_factory=eventloop.factory())
        peer: dict[str, Any] = {"error": "skipped (--no-peer)"}
        duels: dict[int, HeadToHead] = {}
        open_mic_phases: dict[int, Phase] = {}
        if not args.no_peer and not args.peer_python.exists():
            peer = {"error": f"no Pipecat virtualenv at {args.peer_python} (bench/peer_pipecat.py says how to make it)"}
        elif not args.no_peer:
            peer_sizes = [int(s) for s in args.peer_sizes.split(",") if s.strip()]
            stagger_s = chosen_stagger_s(args, phases["single"])
            if peer_sizes:
                duels = run_head_to_head(args, app, fakes, latency, pcm, peer_sizes, folder=folder, stagger_s=stagger_s)
            open_mic_sizes = [int(s) for s in args.peer_open_mic_sizes.split(",") if s.strip()]
            if open_mic_sizes:
                recording = recorded_pcm()
                open_mic_phases = serve_peer(
                    args,
                    fakes,
                    latency,
                    recording,
                    open_mic_sizes,
                    folder=folder,
                    # one turn cycle, as for the rest, its longer speech included
                    stagger_s=stagger_s + len(recording) / PCM_BYTES_PER_SECOND - phases["single"].utterance_s,
                    turn_detection="pipecat-default",
                    client=OpenMicrophoneClient,
                )
            print("Pipecat in process ...", file=sys.stderr, flush=True)
            reset_fake(fakes["mistral"].url, latency)
            reset_fake(fakes["elevenlabs"].url, latency)
            script_replies(fakes["mistral"].url, 1000)
            peer = run_peer(
                args.peer_python,
                fakes["mistral"],
                fakes["elevenlabs"],
                latency,
                peer_sizes,
                stagger_s=stagger_s,
                utterance_s=phases["single"].utterance_s,
            )
        missed = report(phases, peer, duels, latency, args, open_mic_phases=open_mic_phases)
        missed += report_barge_in(barge_ins)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "phases": {k: p.record() for k, p in phases.items()},
                        "peer": peer,
                        "peer_server": {size: duel.record() for size, duel in duels.items()},
                        "peer_server_open_mic": {size: p.record() for size, p in open_mic_phases.items()},
                        "barge_in": [dataclasses.asdict(r) for r in barge_ins],
                    },
                    indent=1,
                )
            )
    finally:
        app.stop()
        for fake in fakes.values():
            fake.stop()
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
