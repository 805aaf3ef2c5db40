"""Deadlines, retries and error mapping shared by the vendor adapters.

Retrying happens here and only here: every adapter builds its SDK client with
the SDK's own retries switched off, maps each failure to the ``ProviderError``
family, and lets ``with_retries`` decide whether to try again (429, 5xx,
connection errors, timeouts), waiting with exponential backoff and jitter, or
as long as ``Retry-After`` asks when that fits in the time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import random
import ssl
import time
import types
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

from futureself.providers.base import (
    ProviderBadResponse,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

# --- configuration -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry one call.

    ``attempts`` counts the first try; ``max_seconds`` bounds the whole call
    including waits (a Retry-After that does not fit is not waited for).
    """

    attempts: int = 3
    base_seconds: float = 0.5
    max_seconds: float = 20.0
    max_backoff_seconds: float = 8.0

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        from django.conf import settings

        return cls(
            attempts=max(1, settings.PROVIDER_RETRY_ATTEMPTS),
            base_seconds=settings.PROVIDER_RETRY_BASE_SECONDS,
            max_seconds=settings.PROVIDER_RETRY_MAX_SECONDS,
        )

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): exponential with jitter."""
        ceiling = min(self.max_backoff_seconds, self.base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds allowed per kind of call (``PROVIDER_TIMEOUTS``)."""

    first_token: float = 10.0
    stream_total: float = 90.0
    complete: float = 30.0
    structured: float = 60.0
    stt: float = 30.0
    stt_final: float = 5.0
    tts_first_chunk: float = 5.0
    image: float = 90.0

    @classmethod
    def from_settings(cls) -> Deadlines:
        from django.conf import settings

        return cls.from_mapping(settings.PROVIDER_TIMEOUTS)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Deadlines:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: float(v) for k, v in values.items() if k in known})


# --- per-loop clients ------------------------------------------------------------

# How long an idle connection to a vendor is kept for the next call. httpx keeps one 5 s,
# shorter than the gap between two turns of a spoken conversation (the person listens to
# the reply, then speaks): every turn opened new connections to each vendor.
KEEPALIVE_SECONDS = 60.0


@functools.cache
def tls_context(http: types.ModuleType) -> ssl.SSLContext:
    """One TLS context per HTTP library (``httpx`` or ``httpx2``) and process, for every SDK client.

    Building one loads the whole CA bundle: 30-60 ms of CPU, which each new client paid, and a
    client is made per event loop (so per call on the sync paths, which run each call on a loop
    of its own through ``async_to_sync``).
    """
    return http.create_ssl_context()


class Shards[C]:
    """Up to ``size`` clients, each with a connection pool of its own; a call takes the least busy.

    Several pools keep each one's bookkeeping small under load (httpcore's grows with the square
    of a pool's connections). Taken in turn, they spread a quiet server's calls thinly: with one
    conversation, each call came to a pool left idle for longer than the keep-alive, and opened a
    new connection (a TLS handshake, against the real APIs) on its way to the first token or the
    first audio. Here the first idle client wins, so quiet traffic keeps reusing the same warm
    connections, and a new client is made only when every one is busy.

    ``factory`` returns a client and a function that counts its calls in flight.
    """

    def __init__(self, factory: Callable[[], tuple[C, Callable[[], int]]], size: int) -> None:
        self._factory = factory
        self.size = max(1, size)
        self._shards: list[tuple[C, Callable[[], int]]] = []

    def __len__(self) -> int:
        return len(self._shards)

    def next(self) -> C:
        chosen: C | None = None
        fewest = 0
        for client, in_flight in self._shards:
            busy = in_flight()
            if not busy:
                return client
            if chosen is None or busy < fewest:
                chosen, fewest = client, busy
        if chosen is None or len(self._shards) < self.size:
            client, in_flight = self._factory()
            self._shards.append((client, in_flight))
            return client
        return chosen


class PerLoop[C]:
    """One SDK client per running event loop.

    SDK async clients hold connection pools bound to the loop they first ran
    on; ``async_to_sync`` runs each call on a fresh loop, so a module-global
    client would break on the second call.
    """

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()

    def get(self) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._factory()
            self._clients[loop] = client
        return client


# --- error mapping ------------------------------------------------------------------


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(
    status: int,
    *,
    provider: str,
    key_setting: str,
    headers: Mapping[str, str] | None = None,
    detail: str = "",
) -> ProviderError:
    """The ProviderError for an HTTP error status from ``provider``."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    suffix = f": {detail[:200]}" if detail else ""
    if status in (401, 403):
        return ProviderNotConfigured(
            f"{provider} rejected the API key (HTTP {status}); check {key_setting}.", provider=provider
        )
    if status == 429:
        return ProviderRateLimited(
            f"{provider} is rate limiting requests (HTTP 429).",
            provider=provider,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status == 408 or status >= 500:
        return ProviderUnavailable(
            f"{provider} is unavailable (HTTP {status}){suffix}",
            provider=provider,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    error = ProviderBadResponse(f"{provider} refused the request (HTTP {status}){suffix}", provider=provider)
    error.retryable = False  # the same request would be refused again
    error.http_status = status  # type: ignore[attr-defined]  # lets an adapter react to a 404
    return error


def transport_error(exc: BaseException, *, provider: str) -> ProviderError | None:
    """A ProviderError for timeouts and connection failures of any HTTP/WS library, else None."""
    kinds = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or (kinds & {"httpx", "httpx2", "httpcore"} and "Timeout" in name):
        return ProviderUnavailable(f"{provider} did not answer in time ({name}).", provider=provider)
    if kinds & {"httpx", "httpx2", "httpcore", "websockets", "aiohttp"} or isinstance(exc, OSError):
        return ProviderUnavailable(f"Could not reach {provider} ({name}).", provider=provider)
    return None


# --- deadlines and retries --------------------------------------------------------


@contextlib.contextmanager
def _deadline_error(what: str, seconds: float, provider: str) -> Iterator[None]:
    try:
        yield
    except TimeoutError:
        raise ProviderUnavailable(f"{provider} {what} took longer than {seconds:g} s.", provider=provider) from None


async def within[T](seconds: float, awaitable: Awaitable[T], *, what: str, provider: str) -> T:
    """Await with a deadline; a missed deadline is ProviderUnavailable."""
    with _deadline_error(what, seconds, provider):
        async with asyncio.timeout(seconds):
            return await awaitable


async def with_retries[T](
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    provider: str,
    what: str = "call",
) -> T:
    """Run ``attempt`` until it succeeds, retrying retryable ProviderErrors within the policy."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + policy.max_seconds
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt()
        except ProviderError as error:
            # Only outages are worth another try; a refusal or garbage would repeat.
            transient = isinstance(error, ProviderUnavailable | ProviderRateLimited)
            if not (transient and error.retryable) or tries >= policy.attempts:
                raise
            wait = error.retry_after if error.retry_after is not None else policy.backoff(tries)
            if loop.time() + wait > give_up_at:
                raise
            logger.info("%s %s failed (%s); retry %d in %.2f s", provider, what, error.code, tries, wait)
            await asyncio.sleep(wait)


class _Watchdog:
    """Cancels the task reading a stream if it is still reading when the deadline passes."""

    __slots__ = ("expired", "interrupted", "reader")

    def __init__(self) -> None:
        self.expired = False
        self.interrupted = False
        self.reader: asyncio.Task | None = None

    def expire(self) -> None:
        self.expired = True
        if self.reader is not None:
            self.interrupted = True
            self.reader.cancel()


async def iterate_with_deadlines[I](
    items: AsyncIterator[I],
    *,
    first_deadline: float,
    total_deadline: float,
    provider: str,
    what: str,
    is_first: Callable[[I], bool] = lambda item: True,
) -> AsyncIterator[I]:
    """Re-yield ``items`` until the loop times ``first_deadline`` (for the first
    item accepted by ``is_first``) and ``total_deadline`` (for all of them).

    Until the first item each read has a timeout of its own. After it the deadline no longer
    moves, so one timer watches every read instead of a timeout scheduled and cancelled around
    each (a streamed reply's audio chunks and tokens: ~1% of the server's CPU at 200 voice
    conversations). The timer interrupts only a read in progress, never the consumer while it
    holds an item; a deadline that passes meanwhile ends the stream at its next read.
    """
    while True:
        try:
            async with asyncio.timeout_at(min(first_deadline, total_deadline)):
                item = await anext(items)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ProviderUnavailable(
                f"{provider} {what} (first output) missed its deadline.", provider=provider
            ) from None
        yield item
        if is_first(item):
            break

    loop = asyncio.get_running_loop()
    watchdog = _Watchdog()
    timer = loop.call_at(total_deadline, watchdog.expire)
    try:
        while not watchdog.expired and loop.time() < total_deadline:
            reader = watchdog.reader = asyncio.current_task()
            assert reader is not None
            cancelling = reader.cancelling()
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if watchdog.interrupted and reader.uncancel() <= cancelling:
                    break  # our own cancellation: the deadline, not the caller's
                raise
            finally:
                watchdog.reader = None
            if watchdog.interrupted:  # the read swallowed the timer's cancel and went on: take it back
                reader.uncancel()
                break
            yield item
    finally:
        timer.cancel()
    raise ProviderUnavailable(f"{provider} {what} missed its deadline.", provider=provider)


def describe(exc: BaseException) -> str:
    """Short, key-free description of an unexpected exception for error messages."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
