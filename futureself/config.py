"""Pure functions that turn configuration values into Django settings.

Kept apart from ``settings.py`` so the switching rules (SQLite or PostgreSQL,
in-memory or Redis channel layer, offline or vendor providers) are unit-tested
directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url


def database_config(database_url: str, *, sqlite_path: Path) -> dict[str, Any]:
    if not database_url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    # Persistent connections, health-checked before reuse; kept ten minutes (a reconnect costs a
    # spoken turn several milliseconds, and at 60 s every sixth turn of a conversation paid one).
    config = dj_database_url.parse(database_url, conn_max_age=600, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "futureself.db.postgresql"  # health checks only after idle: see its docstring
    return config


CHANNEL_LAYER_SOCKET_TIMEOUT = 15  # seconds; must outlast channels_redis' 5 s blocking receive


def channel_layers_config(redis_url: str) -> dict[str, Any]:
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, exactly the layer's blocking receive
            # (BZPOPMIN, 5 s): every socket idle for 5 s then died with "Timeout reading" (close 1011).
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}],
                "prefix": "futureself:channels",
            },
        }
    }


def cache_config(redis_url: str) -> dict[str, Any]:
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "futureself"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "futureself",
        }
    }


def provider_choice(explicit: str, *, vendor: str, vendor_key: str, allowed: set[str]) -> str:
    """The provider serving one interface: what was asked for, else the vendor
    when its key is set, else offline."""
    choice = explicit.strip().lower()
    if choice:
        if choice not in allowed:
            raise ValueError(f"unknown provider {choice!r}; choose one of {sorted(allowed)}")
        return choice
    return vendor if vendor_key else "offline"


def image_provider_choice(explicit: str, *, gemini_key: str, mistral_key: str) -> str:
    choice = explicit.strip().lower()
    if choice:
        if choice not in {"gemini", "mistral", "offline"}:
            raise ValueError(f"unknown image provider {choice!r}; choose gemini, mistral or offline")
        return choice
    if gemini_key:
        return "gemini"
    if mistral_key:
        return "mistral"
    return "offline"


def crisis_resources_config(defaults: dict[str, list[dict]], extra: dict[str, Any]) -> dict[str, list[dict]]:
    """The crisis resources by country: the built-in table with ``CRISIS_RESOURCES_JSON``'s countries
    added or replaced. Each entry must be what ``CrisisResource`` describes; anything else stops
    the start with the country at fault (a crisis reply must never fail on a typo in the table)."""
    from django.core.exceptions import ImproperlyConfigured
    from pydantic import TypeAdapter, ValidationError

    from futureself.safety.schemas import CrisisResource

    entries = TypeAdapter(list[CrisisResource])
    table = dict(defaults)
    for country, resources in extra.items():
        code = str(country).strip().upper()
        if not (code == "INTL" or (len(code) == 2 and code.isalpha())):
            raise ImproperlyConfigured(
                f"CRISIS_RESOURCES_JSON: {country!r} is not a country code (two letters, e.g. DE, or INTL)."
            )
        try:
            table[code] = [resource.model_dump() for resource in entries.validate_python(resources)]
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ImproperlyConfigured(
                f'CRISIS_RESOURCES_JSON["{country}"] must be a list of {{"name": ..., "contact": ...}} '
                f"objects: {problem['msg']} at {where or 'the top'}."
            ) from None
    return table
