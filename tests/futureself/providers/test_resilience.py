"""The single retry and deadline layer, tested directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from asgiref.sync import async_to_sync

from futureself.providers.base import (
    ProviderBadResponse,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderUnavailable,
)
from futureself.providers.resilience import (
    Deadlines,
    PerLoop,
    RetryPolicy,
    Shards,
    error_for_status,
    iterate_with_deadlines,
    parse_retry_after,
    tls_context,
    transport_error,
    with_retries,
    within,
)


class Flaky:
    """Fails with the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


QUICK = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=2)


async def test_it_retries_an_outage_and_returns_the_success():
    attempt = Flaky(ProviderUnavailable("down"), ProviderRateLimited("slow down"))

    assert await with_retries(attempt, policy=QUICK, provider="test") == "ok"
    assert attempt.calls == 3


async def test_it_stops_after_the_allowed_attempts():
    attempt = Flaky(*[ProviderUnavailable("down")] * 5)

    with pytest.raises(ProviderUnavailable):
        await with_retries(attempt, policy=QUICK, provider="test")
    assert attempt.calls == 3


@pytest.mark.parametrize(
    "error",
    [ProviderNotConfigured("bad key"), ProviderBadResponse("garbage")],
    ids=["not-configured", "bad-response"],
)
async def test_it_does_not_retry_what_would_fail_again(error):
    attempt = Flaky(error)

    with pytest.raises(type(error)):
        await with_retries(attempt, policy=QUICK, provider="test")
    assert attempt.calls == 1


async def test_it_waits_as_long_as_retry_after_asks():
    attempt = Flaky(ProviderRateLimited("slow down", retry_after=0.25))

    started = time.perf_counter()
    await with_retries(attempt, policy=QUICK, provider="test")

    # uvloop keeps its clock in whole milliseconds, so its timers may fire up to 1 ms early by
    # perf_counter (the policy's own backoff here would be a few milliseconds, not 250).
    assert time.perf_counter() - started >= 0.25 - 0.002


async def test_it_gives_up_at_once_when_retry_after_exceeds_the_time_budget():
    attempt = Flaky(ProviderRateLimited("slow down", retry_after=30))

    started = time.perf_counter()
    with pytest.raises(ProviderRateLimited):
        await with_retries(attempt, policy=RetryPolicy(attempts=5, max_seconds=1), provider="test")
    assert time.perf_counter() - started < 0.5
    assert attempt.calls == 1


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(base_seconds=0.5, max_backoff_seconds=4)

    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        waits = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1


def test_retry_after_is_read_as_seconds_or_an_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= parse_retry_after(in_ten) <= 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (401, ProviderNotConfigured, False),
        (403, ProviderNotConfigured, False),
        (429, ProviderRateLimited, True),
        (500, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
        (408, ProviderUnavailable, True),
        (400, ProviderBadResponse, False),
        (422, ProviderBadResponse, False),
    ],
)
def test_http_statuses_map_to_the_error_family(status, expected, retryable):
    error = error_for_status(status, provider="acme", key_setting="ACME_API_KEY", headers={"Retry-After": "3"})

    assert type(error) is expected
    assert error.retryable is retryable
    assert error.provider == "acme"


def test_a_rejected_key_names_the_setting_to_check():
    error = error_for_status(401, provider="acme", key_setting="ACME_API_KEY")

    assert "ACME_API_KEY" in error.message


def test_a_429_carries_its_retry_after():
    error = error_for_status(429, provider="acme", key_setting="K", headers={"retry-after": "7"})

    assert error.retry_after == 7.0


def test_timeouts_and_connection_errors_are_unavailable():
    import httpx
    import httpx2

    for exc in (httpx2.ReadTimeout("slow"), httpx2.ConnectError("refused"), httpx.ConnectError("x"), TimeoutError()):
        assert isinstance(transport_error(exc, provider="acme"), ProviderUnavailable)
    assert transport_error(KeyError("x"), provider="acme") is None


async def test_within_turns_a_missed_deadline_into_unavailable():
    with pytest.raises(ProviderUnavailable, match=r"reply took longer than 0\.05 s"):
        await within(0.05, asyncio.sleep(1), what="reply", provider="acme")


async def _ticks(*delays: float):
    for index, delay in enumerate(delays):
        await asyncio.sleep(delay)
        yield index


async def test_a_stream_within_its_deadlines_passes_through():
    loop = asyncio.get_running_loop()

    items = [
        i
        async for i in iterate_with_deadlines(
            _ticks(0, 0.01, 0.01),
            first_deadline=loop.time() + 1,
            total_deadline=loop.time() + 2,
            provider="p",
            what="w",
        )
    ]

    assert items == [0, 1, 2]


async def test_a_late_first_item_misses_the_first_deadline():
    loop = asyncio.get_running_loop()
    stream = iterate_with_deadlines(
        _ticks(0.5), first_deadline=loop.time() + 0.05, total_deadline=loop.time() + 5, provider="p", what="reply"
    )

    with pytest.raises(ProviderUnavailable, match="first output"):
        await anext(stream)


async def test_a_slow_stream_misses_the_total_deadline():
    loop = asyncio.get_running_loop()
    stream = iterate_with_deadlines(
        _ticks(0, 0.05, 0.05, 0.05),
        first_deadline=loop.time() + 1,
        total_deadline=loop.time() + 0.12,
        provider="p",
        what="reply",
    )
    received = []

    async def consume() -> None:
        async for item in stream:
            received.append(item)

    with pytest.raises(ProviderUnavailable, match="deadline"):
        await consume()
    assert received == [0, 1, 2]


async def test_a_consumer_holding_an_item_past_the_deadline_is_not_interrupted():
    """The deadline cancels only a read in progress: the consumer's own work is never cut, and
    the stream ends at its next read."""
    loop = asyncio.get_running_loop()
    stream = iterate_with_deadlines(
        _ticks(0, 0, 0), first_deadline=loop.time() + 1, total_deadline=loop.time() + 0.05, provider="p", what="w"
    )
    received = []

    async def consume_slowly() -> None:
        async for item in stream:
            await asyncio.sleep(0.1)  # past the deadline, holding the item
            received.append(item)

    with pytest.raises(ProviderUnavailable, match="w missed its deadline"):
        await consume_slowly()

    assert received == [0]  # its work finished; the next read never began


async def test_the_callers_own_cancellation_during_a_read_stays_a_cancellation():
    loop = asyncio.get_running_loop()
    stream = iterate_with_deadlines(
        _ticks(0, 5), first_deadline=loop.time() + 1, total_deadline=loop.time() + 0.05, provider="p", what="w"
    )

    async def consume() -> None:
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()  # before the deadline
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.06)  # the deadline passes with nothing left to interrupt


async def test_a_deadline_missed_mid_read_leaves_the_task_uncancelled():
    loop = asyncio.get_running_loop()
    stream = iterate_with_deadlines(
        _ticks(0, 5), first_deadline=loop.time() + 1, total_deadline=loop.time() + 0.05, provider="p", what="w"
    )

    with pytest.raises(ProviderUnavailable, match="w missed its deadline"):
        async for _ in stream:
            pass

    assert asyncio.current_task().cancelling() == 0
    await asyncio.sleep(0)  # and no cancellation is still pending


async def test_after_the_first_item_one_timer_watches_every_read(monkeypatch):
    loop = asyncio.get_running_loop()
    deadlines = []
    real_call_at = loop.call_at

    def counting_call_at(when, *args, **kwargs):
        deadlines.append(when)
        return real_call_at(when, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counting_call_at)
    total_deadline = loop.time() + 5
    stream = iterate_with_deadlines(
        _ticks(*[0.001] * 50), first_deadline=loop.time() + 1, total_deadline=total_deadline, provider="p", what="w"
    )

    assert len([item async for item in stream]) == 50

    assert deadlines.count(total_deadline) == 1  # not a timeout scheduled and cancelled around each read


def test_per_loop_builds_one_client_per_event_loop():
    built = []
    clients = PerLoop(lambda: built.append(object()) or built[-1])

    async def twice():
        return clients.get(), clients.get()

    first_a, first_b = async_to_sync(twice)()
    second_a, _ = async_to_sync(twice)()

    assert first_a is first_b
    assert second_a is not first_a


class Pooled:
    """A client with a settable count of calls in flight."""

    def __init__(self) -> None:
        self.busy = 0


def shards_of(size: int) -> tuple[Shards[Pooled], list[Pooled]]:
    built: list[Pooled] = []

    def factory() -> tuple[Pooled, Callable[[], int]]:
        built.append(client := Pooled())
        return client, lambda: client.busy

    return Shards(factory, size), built


def test_shards_keep_taking_the_first_client_while_it_is_idle():
    shards, built = shards_of(3)

    taken = [shards.next() for _ in range(5)]

    assert len(built) == 1  # quiet traffic: one pool, its connections kept warm
    assert taken == [built[0]] * 5


def test_shards_make_a_client_only_when_every_one_is_busy_then_take_the_least_busy():
    shards, built = shards_of(3)

    shards.next().busy = 2
    assert shards.next() is built[1]  # the first is busy: a second is made
    built[1].busy = 1
    assert shards.next() is built[2]
    built[2].busy = 1
    assert len(built) == 3

    assert shards.next() is built[1]  # all made and busy: the least busy, the first of a tie
    built[1].busy = 0
    assert shards.next() is built[1]  # an idle one wins at once
    built[0].busy = 0
    assert shards.next() is built[0]
    assert len(shards) == 3


def test_every_client_of_a_process_shares_one_verifying_tls_context():
    import ssl

    import httpx
    import httpx2

    assert tls_context(httpx) is tls_context(httpx)
    assert tls_context(httpx2) is tls_context(httpx2)
    assert tls_context(httpx2).verify_mode == ssl.CERT_REQUIRED


def test_deadlines_and_policy_come_from_settings(settings):
    settings.PROVIDER_TIMEOUTS = {**settings.PROVIDER_TIMEOUTS, "first_token": 2.5, "unknown": 1}
    settings.PROVIDER_RETRY_ATTEMPTS = 4
    settings.PROVIDER_RETRY_MAX_SECONDS = 12.0

    assert Deadlines.from_settings().first_token == 2.5
    policy = RetryPolicy.from_settings()
    assert (policy.attempts, policy.max_seconds) == (4, 12.0)
