"""A live turn's counters in one trip: the same answers on the local-memory cache (one call at a
time) and on Redis (one pipeline), and the same stored counts either way."""

import socket
import uuid

import pytest
from django.core.cache import caches

from futureself import limits
from futureself.limits import (
    BudgetExceeded,
    RateLimited,
    budget_charge,
    budget_charge_all,
    budget_used,
    rate_limit_owner,
    turn_counters,
)
from futureself.ownership import Owner

ALICE = Owner(user_id=1)
BOB = Owner(user_id=2)


def _redis_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture(params=["locmem", "redis"])
def counters(request, settings):
    if request.param == "redis":
        if not _redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379 (the PostgreSQL + Redis pass of .ci/run has one)")
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/13",
            "KEY_PREFIX": f"futureself-tests-{uuid.uuid4().hex[:8]}",
        }
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    settings.CACHES = {**settings.CACHES, "default": backend}
    settings.RATE_LIMITS = {"ws_turn_user": (2, 60), "ws_turn_ip": (3, 60)}
    settings.RATE_LIMITS_ENABLED = True
    settings.DAILY_BUDGETS = {"llm_tokens": 1000, "tts_characters": 500}
    limits._shared_caches.clear()
    yield request.param
    caches["default"].clear()
    limits._shared_caches.clear()


def test_a_turn_is_counted_against_the_persons_limit(counters):
    assert turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn") == 500
    turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn")

    with pytest.raises(RateLimited) as refused:
        turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn")
    assert 1 <= refused.value.retry_after <= 61
    turn_counters(owner=BOB, ip="10.0.0.2", scope="ws_turn")  # someone else is not touched


def test_the_ip_limit_counts_across_people(counters):
    turn_counters(owner=ALICE, ip="10.0.0.9", scope="ws_turn")
    turn_counters(owner=BOB, ip="10.0.0.9", scope="ws_turn")
    turn_counters(owner=Owner(user_id=3), ip="10.0.0.9", scope="ws_turn")

    with pytest.raises(RateLimited):
        turn_counters(owner=Owner(user_id=4), ip="10.0.0.9", scope="ws_turn")


def test_turns_and_single_requests_share_one_count(counters):
    rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="ws_turn")
    turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn")

    with pytest.raises(RateLimited):
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="ws_turn")


def test_a_spent_llm_budget_refuses_the_turn_and_the_voice_left_is_reported(counters):
    budget_charge_all(owner=ALICE, amounts={"llm_tokens": 600, "tts_characters": 120})
    budget_charge(owner=ALICE, kind="tts_characters", amount=30)

    assert turn_counters(owner=ALICE, ip=None, scope="ws_turn") == 350
    assert budget_used(owner=ALICE, kind="llm_tokens") == 600  # what the pipeline wrote, read through the cache

    budget_charge_all(owner=ALICE, amounts={"llm_tokens": 400, "tts_characters": 0})
    with pytest.raises(BudgetExceeded) as refused:
        turn_counters(owner=ALICE, ip=None, scope="ws_turn")
    assert refused.value.kind == "llm_tokens"


def test_without_limits_nothing_is_counted_but_the_voice_left_still_comes_back(counters):
    budget_charge_all(owner=ALICE, amounts={"llm_tokens": 5000, "tts_characters": 500})

    for _ in range(5):
        assert turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn", limits=False) == 0
    turn_counters(owner=BOB, ip="10.0.0.1", scope="ws_turn")  # the IP was not counted either


def test_an_unlimited_voice_budget_is_none_and_guests_without_a_key_are_not_counted(counters, settings):
    settings.DAILY_BUDGETS = {"llm_tokens": 1000, "tts_characters": 0}

    assert turn_counters(owner=ALICE, ip=None, scope="ws_turn") is None
    for _ in range(5):
        assert turn_counters(owner=Owner(), ip=None, scope="ws_turn") is None


@pytest.mark.parametrize("counters", ["redis"], indirect=True)  # the local-memory cache has no client
def test_the_redis_client_is_made_once_not_per_turn(counters, monkeypatch):
    cache = limits._counter_cache()
    made = []
    real_get_client = cache._cache.get_client
    monkeypatch.setattr(cache._cache, "get_client", lambda *a, **kw: made.append(kw) or real_get_client(*a, **kw))

    for _ in range(3):
        turn_counters(owner=ALICE, ip="10.0.0.1", scope="ws_turn", limits=False)
        budget_charge_all(owner=ALICE, amounts={"llm_tokens": 5})

    assert len(made) <= 1
    monkeypatch.undo()
    assert budget_used(owner=ALICE, kind="llm_tokens") == 15
