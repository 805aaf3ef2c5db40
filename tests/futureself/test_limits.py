import asyncio
import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory
from ninja import NinjaAPI

from futureself.api import on_limit
from futureself.limits import (
    BudgetExceeded,
    RateLimited,
    budget_charge,
    budget_check,
    budget_used,
    rate_limit_owner,
    rate_limited,
    rate_limited_view,
)
from futureself.ownership import Owner

ALICE = Owner(user_id=1)
BOB = Owner(user_id=2)


@pytest.fixture(autouse=True)
def _clean_cache(settings):
    settings.RATE_LIMITS = {
        "provider_user": (3, 60),
        "provider_ip": (5, 60),
        "ws_turn_user": (2, 60),
        "ws_turn_ip": (100, 60),
    }
    settings.RATE_LIMITS_ENABLED = True
    settings.DAILY_BUDGETS = {"llm_tokens": 1000, "tts_characters": 500}
    cache.clear()
    yield
    cache.clear()


def test_a_person_is_refused_past_their_limit_with_a_retry_delay():
    for _ in range(3):
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="provider")
    with pytest.raises(RateLimited) as refused:
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="provider")
    assert 1 <= refused.value.retry_after <= 60
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (429, "rate_limited", True)


def test_one_persons_limit_does_not_touch_another():
    for _ in range(3):
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="provider")
    rate_limit_owner(owner=BOB, ip="10.0.0.2", scope="provider")


def test_an_ip_is_limited_across_people_and_guests():
    for index in range(5):
        rate_limit_owner(owner=Owner(guest_key=f"guest-{index}"), ip="10.0.0.9", scope="provider")
    with pytest.raises(RateLimited):
        rate_limit_owner(owner=Owner(guest_key="guest-new"), ip="10.0.0.9", scope="provider")


def test_a_new_window_opens_after_the_old_one(monkeypatch):
    import futureself.limits as limits

    clock = [1_000_000.0]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    for _ in range(3):
        rate_limit_owner(owner=ALICE, ip=None, scope="provider")
    with pytest.raises(RateLimited):
        rate_limit_owner(owner=ALICE, ip=None, scope="provider")
    clock[0] += 60
    rate_limit_owner(owner=ALICE, ip=None, scope="provider")


def test_limits_can_be_switched_off(settings):
    settings.RATE_LIMITS_ENABLED = False
    for _ in range(10):
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="provider")


def test_websocket_turns_are_limited():
    rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="ws_turn")
    rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="ws_turn")
    with pytest.raises(RateLimited) as refused:
        rate_limit_owner(owner=ALICE, ip="10.0.0.1", scope="ws_turn")
    assert (refused.value.code, refused.value.retryable) == ("rate_limited", True)
    assert refused.value.retry_after >= 1


def test_a_decorated_view_answers_429_with_retry_after():
    @rate_limited_view("provider")
    def view(request):
        return HttpResponse("ok")

    factory = RequestFactory()
    request = factory.post("/generate", REMOTE_ADDR="10.0.0.5")
    request.user = type("Anon", (), {"is_authenticated": False})()
    request.session = {"futureself_guest_key": "guest-view"}
    assert [view(request).status_code for _ in range(3)] == [200, 200, 200]
    refused = view(request)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


def test_a_decorated_ninja_endpoint_answers_the_api_error_shape(alice_api, settings):
    api = NinjaAPI(urls_namespace="limits-test")
    api.add_exception_handler(RateLimited, on_limit)

    @api.post("/work", auth=None)
    @rate_limited("provider")
    def work(request):
        return {"ok": True}

    from django.test import Client
    from django.urls import clear_url_caches, path

    urlpatterns = [path("limits-test/", api.urls)]
    module = type("Urls", (), {"urlpatterns": urlpatterns})
    settings.ROOT_URLCONF = module
    clear_url_caches()
    client = Client()
    statuses = [client.post("/limits-test/work", REMOTE_ADDR="10.1.1.1").status_code for _ in range(5)]
    refused = client.post("/limits-test/work", REMOTE_ADDR="10.1.1.1")
    clear_url_caches()
    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "Too many requests: please wait a moment and try again.",
        "code": "rate_limited",
        "retryable": True,
    }
    assert int(refused["Retry-After"]) >= 1


def test_the_api_maps_a_budget_error_to_429_budget_exceeded(rf):
    response = on_limit(rf.get("/api/x"), BudgetExceeded("llm_tokens", retry_after=120))
    assert response.status_code == 429
    assert response["Retry-After"] == "120"
    body = json.loads(response.content)
    assert (body["code"], body["retryable"]) == ("budget_exceeded", False)


def test_a_budget_is_checked_before_and_charged_after():
    budget_check(owner=ALICE, kind="llm_tokens")
    assert budget_charge(owner=ALICE, kind="llm_tokens", amount=600) == 600
    assert budget_charge(owner=ALICE, kind="llm_tokens", amount=300) == 900
    budget_check(owner=ALICE, kind="llm_tokens", amount=100)
    with pytest.raises(BudgetExceeded):
        budget_check(owner=ALICE, kind="llm_tokens", amount=101)
    budget_charge(owner=ALICE, kind="llm_tokens", amount=100)
    with pytest.raises(BudgetExceeded) as refused:
        budget_check(owner=ALICE, kind="llm_tokens")
    assert (refused.value.status, refused.value.code) == (429, "budget_exceeded")
    assert "allowance" in refused.value.detail
    budget_check(owner=BOB, kind="llm_tokens")
    budget_check(owner=ALICE, kind="tts_characters")


def test_a_budget_resets_with_the_utc_day():
    today = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    tomorrow = datetime(2026, 11, 25, 0, 1, tzinfo=UTC)
    budget_charge(owner=ALICE, kind="tts_characters", amount=500, now=today)
    with pytest.raises(BudgetExceeded) as refused:
        budget_check(owner=ALICE, kind="tts_characters", now=today)
    assert refused.value.retry_after == 60
    budget_check(owner=ALICE, kind="tts_characters", now=tomorrow)
    assert budget_used(owner=ALICE, kind="tts_characters", now=tomorrow) == 0


def test_a_zero_budget_means_unlimited(settings):
    settings.DAILY_BUDGETS = {"llm_tokens": 0}
    budget_charge(owner=ALICE, kind="llm_tokens", amount=10**9)
    budget_check(owner=ALICE, kind="llm_tokens")


async def test_counting_from_many_tasks_shares_one_cache_client():
    from asgiref.sync import sync_to_async

    from futureself.limits import _counter_cache

    clients = await asyncio.gather(*(sync_to_async(_counter_cache, thread_sensitive=False)() for _ in range(5)))

    assert len({id(client) for client in clients}) == 1
