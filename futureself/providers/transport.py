"""The vendor SDKs' HTTP transport, with the socket layer on plain asyncio.

The SDKs talk through httpx (ElevenLabs) or httpx2 (Mistral, Gemini), which talk through httpcore
(httpcore2), which reads its sockets through anyio. Under load that last layer was the single
largest cost of a streamed reply: every read of every audio chunk or token event entered an anyio
cancel scope, its timeout machinery and typed-attribute lookups (about 12% of the server's CPU at
100 spoken conversations, more than the HTTP parsing itself). ``AsyncioBackend`` is httpcore's
network-backend interface over an ``asyncio.Protocol``: a read that finds data returns it at once,
one that has to wait costs one future and, with a timeout, one timer handle.

httpcore still does all of HTTP (pooling, keep-alive, HTTP/1.1 parsing), and httpx and the SDKs
above it are unchanged; only where the bytes come from differs. ``http_transport`` builds the
transport an SDK client is given; behind a proxy (configured through the environment) httpx keeps
its own transports for the proxied URLs.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
import types
from collections.abc import Iterable
from typing import Any

from futureself.providers.resilience import tls_context

# Stop reading the socket when this much is buffered and unread (a consumer slower than the
# network); resume below the low mark.
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024

_HTTPCORE_OF = {"httpx": "httpcore", "httpx2": "httpcore2"}


class _StreamProtocol(asyncio.Protocol):
    """Buffers what the socket delivers and wakes the one reader waiting for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        _release(waiter)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self._release_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._release_writer()

    def _release_writer(self) -> None:
        waiter, self.drain_waiter = self.drain_waiter, None
        _release(waiter)

    def take(self, max_bytes: int) -> bytes:
        buffer = self.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if self.reading_paused and len(buffer) < LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data


def _release(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(protocol: _StreamProtocol, slot: str, timeout: float | None) -> None:
    """Wait, at most ``timeout`` (TimeoutError), for the protocol to release the future it finds
    in its attribute ``slot`` (``waiter`` for data, ``drain_waiter`` for room to write)."""
    future = protocol.loop.create_future()
    setattr(protocol, slot, future)
    timer = protocol.loop.call_later(timeout, _expire, future) if timeout is not None else None
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()
        if getattr(protocol, slot) is future:
            setattr(protocol, slot, None)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class AsyncioStream:
    """httpcore's ``AsyncNetworkStream`` on one asyncio transport."""

    def __init__(self, httpcore: types.ModuleType, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._httpcore = httpcore
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                await _wait(protocol, "waiter", timeout)
            except TimeoutError:
                raise self._httpcore.ReadTimeout("timed out reading from the server") from None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise self._httpcore.ReadError(_describe(protocol.error))
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing() or protocol.error is not None:
            raise self._httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if protocol.writing_paused:
            try:
                await _wait(protocol, "drain_waiter", timeout)
            except TimeoutError:
                raise self._httpcore.WriteTimeout("timed out writing to the server") from None
            if protocol.error is not None:
                raise self._httpcore.WriteError(_describe(protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> AsyncioStream:
        loop = self._protocol.loop
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError:
            self._transport.abort()
            raise self._httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise self._httpcore.ConnectError(_describe(exc)) from exc
        if transport is None:  # the connection went away during the handshake
            raise self._httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport  # type: ignore[assignment]
        return AsyncioStream(self._httpcore, transport, self._protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # httpcore asks this of an idle keep-alive connection: anything to read there
            # (data nobody asked for, or the server's close) means it cannot be reused.
            protocol = self._protocol
            return bool(protocol.buffer) or protocol.eof or transport.is_closing()
        return None


class AsyncioBackend:
    """httpcore's ``AsyncNetworkBackend`` on asyncio, raising ``httpcore``'s own exceptions."""

    def __init__(self, httpcore: types.ModuleType) -> None:
        self._httpcore = httpcore

    async def _connect(
        self, connect: Any, timeout: float | None, socket_options: Iterable[Any] | None
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await connect(lambda: _StreamProtocol(loop))
        except TimeoutError:
            raise self._httpcore.ConnectTimeout("timed out connecting to the server") from None
        except OSError as exc:
            raise self._httpcore.ConnectError(_describe(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(self._httpcore, transport, protocol)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        # asyncio sets TCP_NODELAY on TCP sockets, as anyio does.
        return await self._connect(
            lambda factory: loop.create_connection(factory, host, port, local_addr=local), timeout, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        return await self._connect(lambda factory: loop.create_unix_connection(factory, path), timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def http_transport(http: types.ModuleType, *, limits: Any = None) -> Any:
    """An ``AsyncHTTPTransport`` of ``http`` (httpx or httpx2) verifying with the process's shared
    TLS context, its sockets read through ``AsyncioBackend``."""
    httpcore = importlib.import_module(_HTTPCORE_OF[http.__name__])
    transport = http.AsyncHTTPTransport(verify=tls_context(http), limits=limits or http.Limits())
    pool = transport._pool  # built by httpx from these arguments; only its socket layer changes
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError(f"{http.__name__} {http.__version__}: unexpected transport internals")
    if not isinstance(getattr(pool, "_requests", None), list):
        raise RuntimeError(f"{httpcore.__name__} {httpcore.__version__}: unexpected connection pool internals")
    pool._network_backend = AsyncioBackend(httpcore)
    return transport


def in_flight(transport: Any) -> int:
    """Requests a transport made by ``http_transport`` has under way: sent or waiting for a
    connection, their responses not yet closed (httpcore's own list of them)."""
    return len(transport._pool._requests)
