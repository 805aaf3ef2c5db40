"""Rate limits and daily budgets, counted in the cache (local memory or Redis).

Rate limits are fixed windows per person and per IP: the first request of a
window ``add``s its counter with the window as expiry, every request ``incr``s
it (atomic on Redis and, under its lock, on local memory). Budgets count LLM
tokens and TTS characters per person per UTC day: ``budget_check`` before a
provider call, ``budget_charge`` after it with what it really used.

Entry points:
- ``@rate_limited("provider")`` on a ninja endpoint, ``@rate_limited_view("provider")`` on a Django/HTMX view;
- ``rate_limit_request(request, "provider")`` inside a view;
- ``rate_limit_owner(owner=..., ip=..., scope="ws_turn")`` for a WebSocket turn (the socket calls it
  through ``conversations.services.turn_admit``, with the budgets, in one trip);
- ``budget_check`` / ``budget_charge`` and their async twins;
- ``@provider_backed("generation")`` (ninja) and ``@provider_backed_view("generation")`` (Django/HTMX):
  the rate limit, then the LLM token budget checked before the view and charged after it
  with the tokens its provider calls recorded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from futureself.errors import ServiceError
from futureself.ownership import Owner, owner_from_request


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"
    retryable = True

    def __init__(self, detail: str = "Too many requests: please wait a moment and try again.", *, retry_after: int):
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class BudgetExceeded(ServiceError):
    status = 429
    code = "budget_exceeded"
    retryable = False

    def __init__(self, kind: str, *, retry_after: int):
        label = {"llm_tokens": "conversation", "tts_characters": "voice"}.get(kind, kind)
        super().__init__(f"You have reached today's {label} allowance. It resets at midnight UTC.")
        self.kind = kind
        self.retry_after = max(1, int(retry_after))


# --- who is counted --------------------------------------------------------------------


_shared_caches: dict[str, BaseCache] = {}


def _counter_cache() -> BaseCache:
    """One cache client per process (per cache configuration).

    ``django.core.cache.cache`` is kept per async context: every task that
    counted a turn or charged a sentence built its own Redis client, and with it
    a new TCP connection (5% of daphne's samples at 200 voice conversations).
    Redis clients are thread-safe, and a local-memory cache with the same
    location shares its store, so one instance serves every thread and task.
    """
    config = settings.CACHES["default"]
    key = repr(sorted(config.items()))
    shared = _shared_caches.get(key)
    if shared is None:
        shared = _shared_caches[key] = caches.create_connection("default")
    return shared


def _redis_counters() -> tuple[Any, Any] | None:
    """The counters' cache and its redis-py client when the cache is Django's Redis backend (whose
    integers are stored as plain Redis integers, so ``INCR`` and ``cache.get`` agree); else None,
    and the counters go through the cache API one call at a time.

    The client is made once per cache: Django's ``get_client()`` builds a new ``redis.Redis``
    around the shared pool on every call, and that constructor (and its ``__del__``) was ~1% of
    daphne's CPU at 200 voice conversations (it ran twice a turn).
    """
    cache = _counter_cache()
    if not isinstance(cache, RedisCache):
        return None
    client = getattr(cache, "_counter_client", None)
    if client is None:
        client = cache._counter_client = cache._cache.get_client(write=True)
    return cache, client


def owner_key(owner: Owner) -> str | None:
    """A stable cache key part for a person; guests' keys are hashed, never stored raw."""
    if owner.user_id is not None:
        return f"u{owner.user_id}"
    if owner.guest_key:
        return "g" + hashlib.sha256(owner.guest_key.encode()).hexdigest()[:24]
    return None


def client_ip(request: HttpRequest) -> str:
    """The client address as the ASGI server saw it (run daphne with --proxy-headers behind a proxy)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _ip_key(ip: str) -> str:
    return "ip" + hashlib.sha256(ip.encode()).hexdigest()[:24]


# --- fixed-window counters ------------------------------------------------------------------


def _rate_key(scope: str, who: str, slot: int) -> str:
    return f"rl:{scope}:{who}:{slot}"


def _window_refusal(*, slot: int, window: int, now: float) -> RateLimited:
    """The error for a count over its limit in window ``slot``: retry when the window ends."""
    return RateLimited(retry_after=math.ceil((slot + 1) * window - now))


def _hit(scope: str, who: str, *, limit: int, window: int, now: float | None = None) -> None:
    now = time.time() if now is None else now
    slot = int(now // window)
    key = _rate_key(scope, who, slot)
    if _counter_cache().add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = _counter_cache().incr(key)
        except ValueError:  # expired between add and incr: this request opens a new window
            _counter_cache().add(key, 1, timeout=window + 1)
            count = 1
    if count > limit:
        raise _window_refusal(slot=slot, window=window, now=now)


def _limit_for(name: str) -> tuple[int, int] | None:
    value = settings.RATE_LIMITS.get(name)
    if not value or not settings.RATE_LIMITS_ENABLED:
        return None
    limit, window = value
    return (int(limit), int(window)) if limit > 0 else None


def rate_limit_owner(*, owner: Owner | None, ip: str | None, scope: str) -> None:
    """Count one request of ``scope`` for the person and for the IP; raise ``RateLimited`` past either limit.

    Uses the settings ``RATE_LIMITS["<scope>_user"]`` and ``RATE_LIMITS["<scope>_ip"]``.
    """
    person = owner_key(owner) if owner is not None else None
    user_limit = _limit_for(f"{scope}_user")
    if person and user_limit:
        _hit(f"{scope}_user", person, limit=user_limit[0], window=user_limit[1])
    ip_limit = _limit_for(f"{scope}_ip")
    if ip and ip_limit:
        _hit(f"{scope}_ip", _ip_key(ip), limit=ip_limit[0], window=ip_limit[1])


def _request_owner(request: HttpRequest) -> Owner:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, Owner) else owner_from_request(request)


def rate_limit_request(request: HttpRequest, scope: str) -> None:
    rate_limit_owner(owner=_request_owner(request), ip=client_ip(request), scope=scope)


def limit_response(
    exc: RateLimited | BudgetExceeded, *, text: str | None = None, request: HttpRequest | None = None
) -> HttpResponse:
    """A 429 for HTML/HTMX views, with ``Retry-After``: plain text for htmx (shown inline by
    ``static/js/errors.js``) and scripts, a page for a browser's own form post."""
    if (
        request is not None
        and not request.headers.get("HX-Request")
        and "text/html" in request.headers.get("Accept", "")
    ):
        response = render(request, "limits.html", {"detail": text or exc.detail}, status=429)
    else:
        response = HttpResponse(text or exc.detail, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(exc.retry_after)
    return response


def rate_limited(scope: str) -> Callable:
    """Decorate a ninja operation so each call counts against ``scope``; past the limit the
    API's handler answers 429 ``{"detail", "code": "rate_limited", "retryable": true}`` with ``Retry-After``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            rate_limit_request(request, scope)
            return view(request, *args, **kwargs)

        return _keep_signature(wrapper, view)

    return decorator


def rate_limited_view(scope: str) -> Callable:
    """Decorate a Django/HTMX view: past the limit it answers a 429 text response with ``Retry-After``
    (htmx leaves the page as it is and can show the text through ``htmx:responseError``)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            try:
                rate_limit_request(request, scope)
            except RateLimited as exc:
                return limit_response(exc, request=request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- daily budgets ------------------------------------------------------------------------------


def _budget_key(kind: str, person: str, day: datetime) -> str:
    return f"budget:{kind}:{person}:{day:%Y%m%d}"


def _seconds_to_midnight(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return math.ceil((tomorrow - now).total_seconds())


def _budget_ttl(now: datetime) -> int:
    """How long a day's budget counter is kept: past midnight UTC, with an hour's margin."""
    return _seconds_to_midnight(now) + 3600


def budget_used(*, owner: Owner, kind: str, now: datetime | None = None) -> int:
    person = owner_key(owner)
    if person is None:
        return 0
    now = now or datetime.now(UTC)
    return int(_counter_cache().get(_budget_key(kind, person, now)) or 0)


def budget_check(*, owner: Owner, kind: str, amount: int = 0, now: datetime | None = None) -> None:
    """Raise ``BudgetExceeded`` if ``owner`` has no ``kind`` left today (``amount`` more would overrun)."""
    budget = settings.DAILY_BUDGETS.get(kind, 0)
    if budget <= 0 or owner_key(owner) is None:
        return
    now = now or datetime.now(UTC)
    used = budget_used(owner=owner, kind=kind, now=now)
    if used >= budget or (amount and used + amount > budget):
        raise BudgetExceeded(kind, retry_after=_seconds_to_midnight(now))


def budget_charge(*, owner: Owner, kind: str, amount: int, now: datetime | None = None) -> int:
    """Add what a provider call really used; returns today's total."""
    person = owner_key(owner)
    if person is None or amount <= 0:
        return 0
    now = now or datetime.now(UTC)
    key = _budget_key(kind, person, now)
    if _counter_cache().add(key, amount, timeout=_budget_ttl(now)):
        return amount
    try:
        return _counter_cache().incr(key, amount)
    except ValueError:
        _counter_cache().add(key, amount, timeout=_budget_ttl(now))
        return amount


def budget_remaining(*, owner: Owner, kind: str, now: datetime | None = None) -> int | None:
    """What ``owner`` may still use of ``kind`` today; None when nothing limits it."""
    budget = settings.DAILY_BUDGETS.get(kind, 0)
    if budget <= 0 or owner_key(owner) is None:
        return None
    return max(0, budget - budget_used(owner=owner, kind=kind, now=now))


def budget_exceeded(kind: str, *, now: datetime | None = None) -> BudgetExceeded:
    """The error for a budget found spent (e.g. against a ``budget_remaining`` read earlier)."""
    return BudgetExceeded(kind, retry_after=_seconds_to_midnight(now or datetime.now(UTC)))


def budget_charge_all(*, owner: Owner, amounts: dict[str, int], now: datetime | None = None) -> None:
    """Charge several budgets (what a spoken reply used, say): one round trip on Redis."""
    person = owner_key(owner)
    charges = {kind: amount for kind, amount in amounts.items() if amount > 0}
    if person is None or not charges:
        return
    now = now or datetime.now(UTC)
    redis = _redis_counters()
    if redis is None:
        for kind, amount in charges.items():
            budget_charge(owner=owner, kind=kind, amount=amount, now=now)
        return
    cache, client = redis
    pipe = client.pipeline(transaction=False)
    for kind, amount in charges.items():
        key = cache.make_and_validate_key(_budget_key(kind, person, now))
        pipe.set(key, 0, ex=_budget_ttl(now), nx=True)
        pipe.incrby(key, amount)
    pipe.execute()


async def abudget_charge_all(*, owner: Owner, amounts: dict[str, int]) -> None:
    """``budget_charge_all`` for async code."""
    if any(amount > 0 for amount in amounts.values()):
        await sync_to_async(budget_charge_all, thread_sensitive=False)(owner=owner, amounts=amounts)


def turn_counters(*, owner: Owner, ip: str | None, scope: str, limits: bool = True) -> int | None:
    """What a live turn checks first, in one round trip on Redis: with ``limits``, count the turn
    against the ``scope`` rate limits (``rate_limit_owner``) and check today's LLM budget
    (``budget_check``); return the voice characters left today (``budget_remaining``, None: unlimited).
    Raises ``RateLimited`` or ``BudgetExceeded`` as those do, in that order."""
    redis = _redis_counters()
    if redis is None:
        if limits:
            rate_limit_owner(owner=owner, ip=ip, scope=scope)
            budget_check(owner=owner, kind="llm_tokens")
        return budget_remaining(owner=owner, kind="tts_characters")
    cache, client = redis
    now_ts = time.time()
    now = datetime.fromtimestamp(now_ts, UTC)
    person = owner_key(owner)
    hits: list[tuple[int, int, int]] = []  # (limit, window, slot) per counted key, in checking order
    pipe = client.pipeline(transaction=False)
    if limits:
        for kind, who in ((f"{scope}_user", person), (f"{scope}_ip", _ip_key(ip) if ip else None)):
            limit = _limit_for(kind)
            if who and limit:
                slot = int(now_ts // limit[1])
                key = cache.make_and_validate_key(_rate_key(kind, who, slot))
                pipe.set(key, 0, ex=limit[1] + 1, nx=True)
                pipe.incr(key)
                hits.append((limit[0], limit[1], slot))
    budgets = ["llm_tokens", "tts_characters"] if limits else ["tts_characters"]
    budgets = [kind for kind in budgets if settings.DAILY_BUDGETS.get(kind, 0) > 0 and person is not None]
    for kind in budgets:
        pipe.get(cache.make_and_validate_key(_budget_key(kind, person, now)))
    results = pipe.execute()
    counts, used = results[1 : 2 * len(hits) : 2], dict(zip(budgets, results[2 * len(hits) :], strict=True))
    for (limit, window, slot), count in zip(hits, counts, strict=True):
        if count > limit:
            raise _window_refusal(slot=slot, window=window, now=now_ts)
    spent = {kind: int(value or 0) for kind, value in used.items()}
    if "llm_tokens" in spent and spent["llm_tokens"] >= settings.DAILY_BUDGETS["llm_tokens"]:
        raise BudgetExceeded("llm_tokens", retry_after=_seconds_to_midnight(now))
    if "tts_characters" not in spent:
        return None
    return max(0, settings.DAILY_BUDGETS["tts_characters"] - spent["tts_characters"])


# --- provider-backed endpoints: rate limit + LLM budget ------------------------------------------


def llm_tokens_since(*, owner: Owner, since: datetime) -> int:
    """The chat tokens (input + output) the provider calls of ``owner``'s items recorded since ``since``."""
    from futureself.models import ProviderCall
    from interviews.models import Interview

    if owner.is_anonymous:
        return 0
    mine = Interview.objects.filter(**owner.filter_kwargs())
    calls = ProviderCall.objects.filter(interface="chat", created_at__gte=since).filter(
        Q(interview__in=mine) | Q(conversation__future_self__profile__interview__in=mine)
    )
    return int(calls.aggregate(total=Sum(F("input_tokens") + F("output_tokens")))["total"] or 0)


@contextlib.contextmanager
def llm_charged(*, owner: Owner) -> Iterator[None]:
    """Charge ``owner`` what the provider calls made inside the block really used (read from the
    recorded ``ProviderCall`` rows, failed calls included)."""
    since = timezone.now()
    try:
        yield
    finally:
        used = llm_tokens_since(owner=owner, since=since)
        if used:
            budget_charge(owner=owner, kind="llm_tokens", amount=used)


@contextlib.contextmanager
def llm_budget(*, owner: Owner) -> Iterator[None]:
    """Refuse the block when ``owner`` has no LLM tokens left today; afterwards charge what it used."""
    budget_check(owner=owner, kind="llm_tokens")
    with llm_charged(owner=owner):
        yield


def _keep_signature(wrapper: Callable, view: Callable) -> Callable:
    # ninja resolves string annotations against the function's own module globals: give the
    # wrapper the view's evaluated signature, or `from __future__ import annotations` breaks it.
    wrapper.__signature__ = inspect.signature(view, eval_str=True)
    return wrapper


# What the person typed in a request, for the crisis bypass below.
CrisisText = Callable[[HttpRequest, dict[str, Any]], str]


def _is_crisis(text_of: CrisisText | None, request: HttpRequest, kwargs: dict[str, Any]) -> bool:
    """Whether the request carries a message the deterministic crisis check flags.

    A person in crisis must get the crisis answer even past a limit: the flagged path
    never calls a provider (the services stop before the interviewer or the writer),
    so letting it through costs nothing.
    """
    if text_of is None:
        return False
    from futureself.safety.checker import check_text

    try:
        text = text_of(request, kwargs) or ""
    except (AttributeError, KeyError, TypeError):
        return False
    return bool(text.strip()) and check_text(text[: settings.MESSAGE_MAX_CHARS]).flagged


def _gate(request: HttpRequest, scope: str, text_of: CrisisText | None, kwargs: dict[str, Any]) -> Owner:
    owner = _request_owner(request)
    try:
        rate_limit_request(request, scope)
        budget_check(owner=owner, kind="llm_tokens")
    except (RateLimited, BudgetExceeded):
        if not _is_crisis(text_of, request, kwargs):
            raise
    return owner


def provider_backed(scope: str, *, crisis_text: CrisisText | None = None) -> Callable:
    """Decorate a ninja operation that calls a provider: ``scope``'s rate limit, then the daily
    LLM budget (429 ``rate_limited`` / ``budget_exceeded`` with ``Retry-After``, no provider call).

    ``crisis_text(request, kwargs)`` returns the person's text: when the crisis check flags it
    the request goes through even past a limit, so the crisis answer is never refused.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            owner = _gate(request, scope, crisis_text, kwargs)
            with llm_charged(owner=owner):
                return view(request, *args, **kwargs)

        return _keep_signature(wrapper, view)

    return decorator


def provider_backed_view(
    scope: str,
    *,
    methods: tuple[str, ...] | None = None,
    crisis_text: CrisisText | None = None,
    on_limit: Callable[..., HttpResponse] | None = None,
) -> Callable:
    """``provider_backed`` for a Django/HTMX view: a refused request gets ``limit_response``, or
    ``on_limit(request, exc, *args, **kwargs)`` when the view shows the refusal in its own place.
    With ``methods``, only requests of those methods are counted (e.g. a form's POST, not its GET)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            if methods is not None and request.method not in methods:
                return view(request, *args, **kwargs)
            try:
                owner = _gate(request, scope, crisis_text, kwargs)
            except (RateLimited, BudgetExceeded) as exc:
                if on_limit is not None:
                    return on_limit(request, exc, *args, **kwargs)
                return limit_response(exc, request=request)
            with llm_charged(owner=owner):
                return view(request, *args, **kwargs)

        return wrapper

    return decorator


def posted(*names: str) -> CrisisText:
    """``crisis_text`` for a form view: the posted fields ``names`` (every value of each)."""
    return lambda request, kwargs: "\n".join(v for name in names for v in request.POST.getlist(name))


def payload_text(*names: str) -> CrisisText:
    """``crisis_text`` for a ninja operation: the fields ``names`` of its ``payload``."""

    def text(request: HttpRequest, kwargs: dict[str, Any]) -> str:
        payload = kwargs.get("payload")
        values = [getattr(payload, name, None) for name in names]
        flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
        return "\n".join(str(v) for v in flat if v)

    return text
