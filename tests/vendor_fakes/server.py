"""The fake vendor server: one aiohttp app serving Mistral, ElevenLabs and Gemini.

Replies are scripted per route (``fake.script("mistral.chat", "Hello")``) and
consumed in order; with nothing scripted each route answers a sensible default.
Every request is recorded (``fake.requests``, ``fake.received("mistral.chat")``).
Faults are scripted like replies: ``Fault(429, retry_after=1)``, ``Stall()``,
``Malformed()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# The fakes' clock for latencies and pacing. Not the loop's time: uvloop's counts whole
# milliseconds, and a latency that ends up to a millisecond early or late is the app's overhead
# in the voice benchmark.
clock = time.perf_counter

# sleep_ms sleeps on the loop until this close to its deadline, then yields until it is reached.
PRECISE_MARGIN_MS = 2.0

ROUTES = (
    "mistral.chat",
    "mistral.agents",
    "mistral.conversations",
    "mistral.files",
    "mistral.models",
    "mistral.moderations",
    "elevenlabs.stt",
    "elevenlabs.realtime",
    "elevenlabs.tts",
    "elevenlabs.voices",
    "gemini.generate",
    "gemini.models",
)


# --- scripted replies -------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """Answer with an HTTP error (``retry_after`` sets the Retry-After header)."""

    status: int
    retry_after: float | str | None = None
    body: Any = None


@dataclass(frozen=True)
class Stall:
    """Never answer; for streams, stop after ``after`` chunks and hang."""

    after: int = 0


@dataclass(frozen=True)
class Lingering:
    """A streamed reply whose body stays open ``seconds`` after its last event (``[DONE]``)."""

    text: str
    seconds: float


@dataclass(frozen=True)
class Malformed:
    """Answer 200 with a body the SDK cannot parse."""

    body: bytes = b'{"id": "broken", "choices": [{"index": 0'


@dataclass(frozen=True)
class Image:
    data: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True)
class NoImage:
    """A generation that produced no image (safety block and the like)."""

    reason: str = "IMAGE_SAFETY"
    text: str = "I can't make that image."


@dataclass(frozen=True)
class Latency:
    """Pacing of the fake, in milliseconds (all zero for unit tests)."""

    llm_first_token_ms: float = 0
    llm_tokens_per_second: float = 0  # 0: as fast as possible
    tts_first_audio_ms: float = 0
    tts_realtime: bool = False  # pace audio chunks at playback speed
    stt_final_ms: float = 0
    image_ms: float = 0  # time to draw one image


@dataclass
class Recorded:
    """One request the fake received."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, data)
    ws_messages: list[Any] = field(default_factory=list)
    peer: tuple[str, int] | None = None  # the client's address: the same for requests on one kept-alive connection


def _peer(request: web.Request) -> tuple[str, int] | None:
    address = request.transport.get_extra_info("peername") if request.transport else None
    return (address[0], address[1]) if address else None


# --- the server -----------------------------------------------------------------------


class VendorFake:
    def __init__(self, latency: Latency | None = None) -> None:
        self.latency = latency or Latency()
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Any]] = {route: deque() for route in ROUTES}
        self.files: dict[str, bytes] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._released: asyncio.Event | None = None

    # scripting ---------------------------------------------------------------

    def script(self, route: str, *replies: Any) -> VendorFake:
        if route not in self._scripts:
            raise KeyError(f"unknown route {route!r}; one of {ROUTES}")
        self._scripts[route].extend(replies)
        return self

    def next_reply(self, route: str) -> Any:
        """The next scripted reply for ``route``, or None for the default."""
        queue = self._scripts[route]
        return queue.popleft() if queue else None

    def pending(self, route: str) -> int:
        return len(self._scripts[route])

    def received(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    def last(self, route: str) -> Recorded:
        calls = self.received(route)
        if not calls:
            raise AssertionError(f"the fake received no {route} request")
        return calls[-1]

    def env(self) -> dict[str, str]:
        """Environment variables pointing every vendor provider of the app at this fake."""
        return {
            "MISTRAL_API_KEY": "fake-mistral-key",
            "MISTRAL_SERVER_URL": self.base_url,
            "ELEVENLABS_API_KEY": "fake-elevenlabs-key",
            "ELEVENLABS_BASE_URL": self.base_url,
            "GEMINI_API_KEY": "fake-gemini-key",
            "GEMINI_BASE_URL": self.base_url,
            "FUTURESELF_CHAT_PROVIDER": "mistral",
            "FUTURESELF_STT_PROVIDER": "elevenlabs",
            "FUTURESELF_TTS_PROVIDER": "elevenlabs",
            "FUTURESELF_IMAGE_PROVIDER": "gemini",
        }

    def reset(self) -> None:
        self.requests.clear()
        for queue in self._scripts.values():
            queue.clear()
        self.latency = Latency()

    # helpers for handlers ----------------------------------------------------------

    def record(self, request: web.Request, route: str, **extra: Any) -> Recorded:
        entry = Recorded(
            route=route,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            peer=_peer(request),
            **extra,
        )
        self.requests.append(entry)
        return entry

    async def stall(self) -> None:
        """Hang until the server stops (a vendor that never answers)."""
        assert self._released is not None
        await self._released.wait()

    async def sleep_ms(self, ms: float) -> None:
        """Wait ``ms`` and not measurably longer: the vendor's latency before a first event.

        ``asyncio.sleep`` overshoots by 0.3-1.7 ms on these machines (epoll waits in whole
        milliseconds, the kernel adds slack of 0.1% of the timeout, then the idle process has to
        wake up), and the voice benchmark would count that as the app's overhead, three times a
        turn. So the last stretch is spent yielding to the loop until the deadline: about 1 ms of
        the fake's CPU per wait, which is why ``pace_until`` (tokens, audio chunks) does not.
        """
        if ms > 0:
            await self.sleep_until(clock() + ms / 1000)

    async def sleep_from(self, start: float, ms: float) -> None:
        """``sleep_ms`` counted from ``start`` (``clock()``): a vendor's latency runs from the moment
        the request arrived, not from when this fake got round to it (another client's request
        may have kept its loop busy meanwhile)."""
        if ms > 0:
            await self.sleep_until(start + ms / 1000)

    async def sleep_until(self, deadline: float) -> None:
        remaining_ms = (deadline - clock()) * 1000
        if remaining_ms > PRECISE_MARGIN_MS:
            await asyncio.sleep((remaining_ms - PRECISE_MARGIN_MS) / 1000)
        while clock() < deadline:  # noqa: ASYNC110 (a deliberate spin: see above)
            await asyncio.sleep(0)

    async def pace_until(self, deadline: float) -> None:
        """Wait until ``deadline`` (``clock()``); for pacing, where the overshoot does not add up."""
        remaining = deadline - clock()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def fault_response(self, reply: Fault, *, vendor: str) -> web.Response:
        headers = {}
        if reply.retry_after is not None:
            headers["Retry-After"] = str(reply.retry_after)
        body = reply.body if reply.body is not None else _error_body(vendor, reply.status)
        return web.json_response(body, status=reply.status, headers=headers)

    # lifecycle ------------------------------------------------------------------------

    def app(self) -> web.Application:
        from tests.vendor_fakes import control, elevenlabs, gemini, mistral

        app = web.Application(client_max_size=64 * 1024 * 1024)
        control.add_routes(app, self)
        mistral.add_routes(app, self)
        elevenlabs.add_routes(app, self)
        gemini.add_routes(app, self)
        return app

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on the running loop; returns the base URL."""
        self._released = asyncio.Event()
        self._runner = web.AppRunner(self.app(), handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def shutdown(self) -> None:
        if self._released is not None:
            self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread (for pytest); returns the base URL."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.serve(host, port))
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.shutdown())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="vendor-fake", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the vendor fake did not start")
        return self.base_url

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop = self._loop
        if self._released is not None:
            loop.call_soon_threadsafe(self._released.set)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None


def bound(handler: Callable[[web.Request, VendorFake], Awaitable[web.StreamResponse]], fake: VendorFake) -> Any:
    """``handler`` as an aiohttp handler with the fake passed along."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await handler(request, fake)

    return handle


@contextlib.contextmanager
def running_fake(latency: Latency | None = None) -> Iterator[VendorFake]:
    fake = VendorFake(latency)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _error_body(vendor: str, status: int) -> Any:
    if vendor == "gemini":
        names = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
        return {"error": {"code": status, "message": f"fake error {status}", "status": names.get(status, "UNKNOWN")}}
    if vendor == "elevenlabs":
        return {"detail": {"status": f"fake_error_{status}", "message": f"fake error {status}"}}
    return {"object": "error", "message": f"fake error {status}", "type": "fake_error", "code": str(status)}
