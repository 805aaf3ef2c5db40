"""Shared plumbing of the voice benchmarks: the vendor fakes, the app under daphne,
PostgreSQL + Redis, seeded conversations, speech to send, and a real WebSocket client.

Everything listens on 127.0.0.1 only, and every loop is bounded in count and time.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import functools
import json
import math
import os
import platform
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/futureself_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
PCM_BYTES_PER_SECOND = 32_000
FRAME_MS = 100
FRAME_BYTES = PCM_BYTES_PER_SECOND * FRAME_MS // 1000
TURN_TIMEOUT_S = 60  # a turn without its reply by then is an error
# Longer than Pipecat's turn model waits for more speech (3 s) and a reply then takes to start.
QUIET_AFTER_CUT_IN_S = 5
# Three sentences, so the first one can be spoken while the model is still writing the rest.
REPLY = "I remember that first winter very well. It was harder than I had thought it would be. I am still glad we went."
UTTERANCE = "Was it worth moving so far away from everyone?"
# A person speaking, with the pauses and room of a real recording (bench/speech/README.md says whence).
RECORDED_UTTERANCE = ROOT / "bench" / "speech" / "jfk.wav"


@dataclass(frozen=True)
class Latency:
    """The vendor fakes' pacing (the issue's realistic figures by default), in milliseconds."""

    stt_final_ms: float = 300
    llm_first_token_ms: float = 350
    llm_tokens_per_second: float = 40
    tts_first_audio_ms: float = 150

    def args(self) -> list[str]:
        return [
            f"--stt-final-ms={self.stt_final_ms}",
            f"--llm-first-token-ms={self.llm_first_token_ms}",
            f"--llm-tokens-per-second={self.llm_tokens_per_second}",
            f"--tts-first-audio-ms={self.tts_first_audio_ms}",
        ]


# --- what the fakes take, at best ------------------------------------------------------

_TOKEN = re.compile(r"\s*\S+")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*$")


def first_sentence_ms(text: str, latency: Latency) -> float:
    """When the fake LLM has streamed the last token of ``text``'s first sentence (its end mark).

    The fake sends token k at ``first_token + k / rate``. Waiting beyond that (for the next token, to
    be sure the sentence ended) is the pipeline's own choice, so it counts as its overhead.
    """
    tokens = _TOKEN.findall(text)
    last = next((index for index, token in enumerate(tokens) if _SENTENCE_END.search(token)), len(tokens) - 1)
    per_token = 1000 / latency.llm_tokens_per_second if latency.llm_tokens_per_second else 0
    return latency.llm_first_token_ms + last * per_token


def whole_reply_ms(text: str, latency: Latency) -> float:
    per_token = 1000 / latency.llm_tokens_per_second if latency.llm_tokens_per_second else 0
    return latency.llm_first_token_ms + (len(_TOKEN.findall(text)) - 1) * per_token


def critical_path_ms(text: str, latency: Latency, *, with_stt: bool = True) -> float:
    """The fakes' share of "end of speech to first reply audio": STT final + LLM to first sentence + TTS first audio."""
    stt = latency.stt_final_ms if with_stt else 0
    return stt + first_sentence_ms(text, latency) + latency.tts_first_audio_ms


# --- numbers ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: float, digits: int = 0) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (printed, and pasted as is into docs/performance.md)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def python_speed_ms(rounds: int = 3) -> float:
    """Milliseconds for a fixed pure-Python workload on one core, the best of ``rounds``.

    The same code has run at 47% of a core on one 2-CPU machine and at 86% on another with
    the same model name, so the name alone does not say how fast a machine is; this does, and
    results from different days can be compared by it (lower is faster).
    """
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        strings: dict[int, str] = {}
        total = 0
        for number in range(1_000_000):
            total += number
            if number % 10 == 0:
                strings[number] = str(number)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


_ECHO = """
import socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
while data := sock.recv(64):
    sock.sendall(data)
"""


def idle_wake_ms(idle_s: float = 0.3, rounds: int = 7) -> float:
    """The median round trip to another process after ``idle_s`` of quiet, in milliseconds.

    On a virtual machine a core left idle can take milliseconds to come back: on the machine of
    2026-12-06 a loopback round trip took 0.02 ms back to back, 0.3 ms after 20 ms of quiet and
    2.9 ms after 300 ms, and a PostgreSQL ``SELECT 1`` 8 ms after 300 ms. A single conversation
    waits like that at each hop between processes, so this says how much of its overhead is the
    machine's (lower is better).
    """
    ours, theirs = socket.socketpair()
    echo = subprocess.Popen([PYTHON, "-c", _ECHO, str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    trips = []
    try:
        ours.sendall(b"x")  # the child is up and its code loaded before the first timed trip
        ours.recv(64)
        for _ in range(rounds):
            time.sleep(idle_s)
            started = time.perf_counter()
            ours.sendall(b"x")
            ours.recv(64)
            trips.append(time.perf_counter() - started)
    finally:
        ours.close()
        echo.wait(timeout=10)
    return round(statistics.median(trips) * 1000, 2)


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    django = subprocess.run(
        [PYTHON, "-c", "import django; print(django.get_version())"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}, "
        f"Django {django}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python speed probe {python_speed_ms():.0f} ms (lower is faster), "
        f"idle wake-up {idle_wake_ms():.1f} ms (a round trip to another process after 300 ms of quiet)"
    )


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{url} did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def start_fake(name: str, latency: Latency, workdir: Path) -> Process:
    """One vendor fake in its own process (so its CPU is its own and measurable)."""
    port = free_port()
    log = workdir / f"{name}.log"
    popen = subprocess.Popen(
        [PYTHON, "-m", "tests.vendor_fakes", "--host", "127.0.0.1", "--port", str(port), *latency.args()],
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/_fake/requests?route=mistral.models", popen, log)
    return Process(name, popen, url, log)


def peer_command(python: Path, mistral_url: str, elevenlabs_url: str, *options: str) -> list[str]:
    """``bench/peer_pipecat.py`` in Pipecat's own interpreter, pointed at the fakes."""
    return [
        str(python),
        str(ROOT / "bench" / "peer_pipecat.py"),
        f"--mistral-url={mistral_url}",
        f"--elevenlabs-url={elevenlabs_url}",
        *options,
    ]


def start_peer_server(
    python: Path,
    mistral_url: str,
    elevenlabs_url: str,
    workdir: Path,
    *,
    stt_final_ms: float,
    turn_detection: str = "push-to-talk",
) -> Process:
    """Pipecat as a voice server (``bench/peer_pipecat.py --serve``) in its own interpreter and process."""
    port = free_port()
    log = workdir / f"pipecat-server-{turn_detection}.log"
    popen = subprocess.Popen(
        peer_command(
            python,
            mistral_url,
            elevenlabs_url,
            f"--serve={port}",
            f"--turn-detection={turn_detection}",
            f"--stt-final-ms={stt_final_ms}",
        ),
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/healthz", popen, log, timeout=60)
    return Process("pipecat-server", popen, url, log)


def fake_call(base_url: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def script_replies(mistral_url: str, count: int, text: str = REPLY) -> None:
    fake_call(mistral_url, "/_fake/script", {"route": "mistral.chat", "replies": [text] * count})


def connections_used(url: str, route: str) -> tuple[int, int]:
    """Requests a fake received on ``route`` since its last reset, and over how many connections."""
    requests = fake_call(url, f"/_fake/requests?route={route}")
    return len(requests), len({tuple(r["peer"] or ()) for r in requests})


def reset_fake(url: str, latency: Latency) -> None:
    """Forget recorded requests (the fake keeps every one, audio included) and restore the pacing."""
    fake_call(url, "/_fake/reset", {})
    fake_call(
        url,
        "/_fake/latency",
        {
            "stt_final_ms": latency.stt_final_ms,
            "llm_first_token_ms": latency.llm_first_token_ms,
            "llm_tokens_per_second": latency.llm_tokens_per_second,
            "tts_first_audio_ms": latency.tts_first_audio_ms,
            "tts_realtime": True,
        },
    )


@dataclass
class App:
    env: dict[str, str]
    workdir: Path
    daphnes: list[Process] = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if out.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def seed(self, count: int, label: str) -> list[dict[str, str]]:
        """``count`` people, each with a token and a conversation with a future self."""
        out = subprocess.run(
            [PYTHON, "-m", "bench._seed", str(count), label],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode:
            raise RuntimeError(f"seeding failed:\n{out.stderr}")
        return json.loads(out.stdout)

    def start_daphne(self, name: str, **extra_env: str) -> Process:
        port = free_port()
        log = self.workdir / f"{name}.log"
        popen = subprocess.Popen(
            [PYTHON, "-m", "futureself.serve", "-b", "127.0.0.1", "-p", str(port), "futureself.asgi:application"],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/healthz", popen, log)
        process = Process(name, popen, url, log)
        self.daphnes.append(process)
        return process

    def stop(self) -> None:
        for process in self.daphnes:
            process.stop()


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def app_env(
    *, mistral_url: str, elevenlabs_url: str, database_url: str, redis_url: str, workdir: Path
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FUTURESELF_", "MISTRAL_", "ELEVENLABS_", "GEMINI_", "DJANGO_", "RATE_LIMIT"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "futureself.settings",
            "DJANGO_DEBUG": "0",
            "SECRET_KEY": "bench-not-secret",
            "FUTURESELF_VAR_DIR": str(workdir),
            "MEDIA_ROOT": str(workdir / "media"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
            "SECURE_SSL_REDIRECT": "0",  # plain http on loopback
            "PYTHONUNBUFFERED": "1",
            "MISTRAL_API_KEY": "fake-mistral-key",
            "MISTRAL_SERVER_URL": mistral_url,
            "ELEVENLABS_API_KEY": "fake-elevenlabs-key",
            "ELEVENLABS_BASE_URL": elevenlabs_url,
            "ELEVENLABS_OUTPUT_FORMAT": "pcm_16000",
            "FUTURESELF_CHAT_PROVIDER": "mistral",
            "FUTURESELF_STT_PROVIDER": "elevenlabs",
            "FUTURESELF_TTS_PROVIDER": "elevenlabs",
            "FUTURESELF_IMAGE_PROVIDER": "offline",
            # All the simulated people share 127.0.0.1: the per-IP turn limit would refuse them.
            "RATE_LIMIT_WS_TURN_IP": "1000000",
            "RATE_LIMIT_WS_TURN_USER": "1000",
        }
    )
    return env


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="futureself-bench-"))


# --- speech to send -----------------------------------------------------------------------------


def utterance_pcm(text: str = UTTERANCE, workdir: Path | None = None) -> bytes:
    """16 kHz 16-bit mono PCM of ``text`` spoken by espeak-ng (a synthesized vowel-like tone without it)."""
    if shutil.which("espeak-ng") and shutil.which("sox"):
        folder = workdir or Path(tempfile.mkdtemp(prefix="futureself-speech-"))
        wav, raw = folder / "utterance.wav", folder / "utterance.raw"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True, timeout=30)
        subprocess.run(
            ["sox", str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(raw)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return raw.read_bytes()
    seconds = max(1.0, len(text) / 15)
    return b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 180 * i / 16000) * (0.6 + 0.4 * math.sin(i / 900))))
        for i in range(int(seconds * 16000))
    )


# --- the client -----------------------------------------------------------------------------------


@dataclass
class TurnResult:
    first_audio_ms: float | None = None  # audio.end sent -> first binary frame received
    speech_ended_at: float | None = None  # time.perf_counter() when audio.end was sent
    cycle_s: float | None = None  # first audio frame sent -> reply.end: one turn of the conversation
    reply_text: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class BargeInResult:
    by: str  # "interrupt" (the message) or "voice" (the first frame of a new utterance)
    stop_ms: float | None = None  # the cut sent -> the cut reply's reply.end received
    late_frames: int = 0  # audio frames of the cut reply received after its reply.end
    error: str | None = None


class VoiceClient:
    """One person on ``/conversation/stream``, speaking PCM in real time, as the browser does."""

    def __init__(self, base_url: str, conversation_id: str, token: str) -> None:
        self.url = base_url.replace("http://", "ws://") + f"/conversation/stream?conversation_id={conversation_id}"
        self.token = token
        self.ws: Any = None

    async def connect(self, timeout: float = 30) -> None:
        import websockets

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, additional_headers=headers, max_size=2**22, open_timeout=30), timeout
        )
        await self.handshake(timeout)

    async def handshake(self, timeout: float) -> None:
        """Ask for PCM both ways and wait for ``ready``."""
        await self.ws.send(json.dumps({"type": "start", "output_audio": "pcm_16000", "input_audio": "pcm_s16le_16000"}))
        ready = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if ready.get("type") != "ready" or not ready.get("voice_enabled") or not ready.get("voice_input"):
            raise RuntimeError(f"not ready for voice: {ready}")

    async def speak(self, pcm: bytes) -> float:
        """Send ``pcm`` in real time, ``FRAME_MS`` a frame, then ``audio.end``; return when speech ended
        (``time.perf_counter()``): for push to talk, the moment ``audio.end`` has been sent."""
        await self.send_speech(pcm)
        await self.ws.send(json.dumps({"type": "audio.end"}))
        return time.perf_counter()

    async def send_speech(self, pcm: bytes) -> float:
        """Send ``pcm`` in real time; return when its first frame was sent."""
        begin = time.perf_counter()
        for index, start in enumerate(range(0, len(pcm), FRAME_BYTES)):
            # Paced against the clock, not by sleeping a fixed time, so drift does not add up.
            delay = begin + index * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(pcm[start : start + FRAME_BYTES])
        return begin

    async def turn(self, pcm: bytes, *, timeout: float = TURN_TIMEOUT_S) -> TurnResult:
        result = TurnResult()
        try:
            begin = time.perf_counter()
            ended = result.speech_ended_at = await self.speak(pcm)
            deadline = ended + timeout
            while True:
                message = await asyncio.wait_for(self.ws.recv(), max(0.1, deadline - time.perf_counter()))
                if isinstance(message, bytes):
                    if result.first_audio_ms is None:
                        result.first_audio_ms = (time.perf_counter() - ended) * 1000
                    continue
                event = json.loads(message)
                if event["type"] == "reply.end":
                    result.reply_text, result.timings = event["text"], event["timings"]
                    result.cycle_s = time.perf_counter() - begin
                    if event["interrupted"]:
                        result.error = "interrupted"
                    return result
                if event["type"] in ("error", "safety"):
                    result.error = f"{event['type']}:{event.get('code', '')}"
                    if event.get("stage") != "tts":
                        return result
        except (TimeoutError, OSError, RuntimeError) as exc:
            result.error = f"{type(exc).__name__}"
        except Exception as exc:  # a closed socket and the like: counted, never hidden
            result.error = f"{type(exc).__name__}: {exc}"[:120]
        return result

    async def barge_in(
        self, pcm: bytes, kinds: list[str], *, into_reply_s: float = 0.3, timeout: float = 30
    ) -> list[BargeInResult]:
        """Cut into replies while they play, once per entry of ``kinds``, and time each cut.

        ``interrupt`` sends that message; ``voice`` starts the person's next utterance (its first
        frame is the cut), and the reply to that utterance is the next one cut into. Each cut comes
        ``into_reply_s`` after the reply's first audio, while the rest of it is still being
        written and synthesised. Messages are timed as they arrive, by a reader of their own.
        """
        inbox: asyncio.Queue[tuple[float, str | bytes]] = asyncio.Queue()

        async def read() -> None:
            async for message in self.ws:
                inbox.put_nowait((time.perf_counter(), message))

        async def receive(until: float) -> tuple[float, str | bytes]:
            return await asyncio.wait_for(inbox.get(), max(0.01, until - time.perf_counter()))

        reader = asyncio.create_task(read())
        results: list[BargeInResult] = []
        playing = False  # a reply to the last utterance is on its way
        try:
            for kind in kinds:
                result = BargeInResult(by=kind)
                results.append(result)
                try:
                    if not playing:
                        await self.speak(pcm)
                    deadline = time.perf_counter() + timeout
                    while not isinstance((await receive(deadline))[1], bytes):
                        pass
                    await asyncio.sleep(into_reply_s)
                    cut = time.perf_counter()
                    if kind == "interrupt":
                        await self.ws.send(json.dumps({"type": "interrupt"}))
                        speaking = None
                    else:
                        speaking = asyncio.create_task(self.speak(pcm))
                    while True:
                        arrived, message = await receive(deadline)
                        if isinstance(message, bytes):
                            continue  # sent before the cut reached the server
                        event = json.loads(message)
                        if event["type"] == "reply.end":
                            result.stop_ms = (arrived - cut) * 1000
                            if not event["interrupted"]:
                                result.error = "the reply ended uninterrupted"
                            break
                        if event["type"] in ("error", "safety"):
                            raise RuntimeError(f"{event['type']}:{event.get('code', '')}")
                    # Audio of the cut reply after its reply.end is late: until the next reply's
                    # transcript (by voice) or for half a second (by interrupt).
                    if speaking is not None:
                        await speaking
                        while True:
                            _, message = await receive(deadline)
                            if isinstance(message, bytes):
                                result.late_frames += 1
                            elif json.loads(message)["type"] == "transcript":
                                break
                    else:
                        with contextlib.suppress(TimeoutError):
                            while True:
                                _, message = await receive(time.perf_counter() + 0.5)
                                result.late_frames += isinstance(message, bytes)
                    playing = speaking is not None
                except (TimeoutError, OSError, RuntimeError) as exc:
                    result.error = f"{type(exc).__name__}: {exc}"[:120]
                    break
            if playing:  # leave the conversation quiet for whoever measures next
                await self.ws.send(json.dumps({"type": "interrupt"}))
                with contextlib.suppress(TimeoutError):
                    deadline = time.perf_counter() + timeout
                    while not (isinstance(m := (await receive(deadline))[1], str) and '"reply.end"' in m):
                        pass
        finally:
            reader.cancel()
        return results

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(self.ws.close(), 10)


class PeerVoiceClient(VoiceClient):
    """A person on the Pipecat peer's voice server (``bench/peer_pipecat.py --serve``).

    The same speech, sent the same way, timed from the same ``audio.end`` to the same first audio
    frame; only the handshake differs: the peer's pipeline is set up by its server, with no token and
    no ``start`` / ``ready`` exchange.
    """

    def __init__(self, base_url: str) -> None:
        self.url = base_url.replace("http://", "ws://") + "/voice"
        self.token = ""
        self.ws = None

    async def handshake(self, timeout: float) -> None:
        pass


@functools.cache  # every turn speaks the same utterance
def voiced_seconds(pcm: bytes, *, window_ms: int = 10, rms: float = 1500) -> float:
    """Where the speech in 16-bit PCM ends, in seconds: the end of its last ``window_ms`` at least
    ``rms`` loud (-27 dBFS). A recording's room noise and the reverberation after the last word are
    quieter than that, a voice's last syllable is not."""
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    window = PCM_BYTES_PER_SECOND // 2 * window_ms // 1000
    end = 0
    for start in range(0, len(samples), window):
        chunk = samples[start : start + window]
        if math.sqrt(sum(s * s for s in chunk) / len(chunk)) >= rms:
            end = start + len(chunk)
    return end / (PCM_BYTES_PER_SECOND // 2)


def recorded_pcm(path: Path = RECORDED_UTTERANCE) -> bytes:
    """The 16 kHz 16-bit mono PCM of a WAV recording."""
    with wave.open(str(path)) as recording:
        if (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) != (16000, 1, 2):
            raise ValueError(f"{path} is not 16 kHz 16-bit mono")
        return recording.readframes(recording.getnframes())


class OpenMicrophoneClient(PeerVoiceClient):
    """A person on the peer's voice server in ``--turn-detection pipecat-default``: the microphone
    never stops, as in a browser without a talk button. Between utterances it sends silence in real
    time, and after an utterance nothing says it is over (no ``audio.end``): Pipecat's VAD has to
    hear that. Timed from the end of the utterance's speech (``voiced_seconds``), not from the end
    of its recording: a push-to-talk client sends ``audio.end`` after the recording's trailing
    silence (0.3 s here), so this clock starts earlier, and later than the server has the audio."""

    def __init__(self, base_url: str, *, quiet_after_cut_in_s: float = QUIET_AFTER_CUT_IN_S) -> None:
        super().__init__(base_url)
        self.quiet_after_cut_in_s = quiet_after_cut_in_s
        self.speaking = False
        self.audio_while_speaking = 0
        self.microphone: asyncio.Task | None = None

    async def handshake(self, timeout: float) -> None:
        self.microphone = asyncio.create_task(self._silence())

    async def _silence(self) -> None:
        from websockets.exceptions import ConnectionClosed

        silence = bytes(FRAME_BYTES)
        due = time.perf_counter()
        with contextlib.suppress(ConnectionClosed, OSError):  # the socket closed: the microphone stops
            while True:
                due += FRAME_MS / 1000
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if not self.speaking:
                    await self.ws.send(silence)

    async def speak(self, pcm: bytes) -> float:
        """Send ``pcm``; return when its speech ended (``voiced_seconds``): what follows it is the
        recording's own trailing silence, which Pipecat's VAD already counts. Reply audio that arrives
        meanwhile is counted (``audio_while_speaking``): the turn model took a pause for the end."""
        self.speaking = True
        self.audio_while_speaking = 0
        listening = asyncio.create_task(self._replies_while_speaking())
        try:
            begin = await self.send_speech(pcm)
        finally:
            self.speaking = False
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        return begin + voiced_seconds(pcm)

    async def _replies_while_speaking(self) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for message in self.ws:  # a reply cut short by the person going on ends with no reply.end
                if isinstance(message, bytes):
                    self.audio_while_speaking += 1

    async def turn(self, pcm: bytes, *, timeout: float = TURN_TIMEOUT_S) -> TurnResult:
        result = await super().turn(pcm, timeout=timeout)
        result.timings["audio_while_speaking"] = self.audio_while_speaking
        if self.audio_while_speaking:
            # The turn model answered a pause: that reply's end, or its audio after the end of speech,
            # may have been taken for this turn's. Not timed; what is still coming is let pass, so the
            # next turn starts clean.
            with contextlib.suppress(TimeoutError):
                while True:
                    await asyncio.wait_for(self.ws.recv(), self.quiet_after_cut_in_s)
        return result

    async def close(self) -> None:
        if self.microphone is not None:
            self.microphone.cancel()
        await super().close()


class LoopLag:
    """How late the client's own event loop wakes up, so client-side delay is seen, not blamed on the server."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.worst_ms = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - before - self.interval) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
