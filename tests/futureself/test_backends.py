"""The suite runs on whatever DATABASE_URL / REDIS_URL point at: prove it."""

import os

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_the_suite_runs_on_the_configured_database():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_the_suite_runs_on_the_configured_channel_layer_and_cache():
    redis = bool(os.environ.get("REDIS_URL"))
    layer = type(get_channel_layer()).__name__
    assert layer == ("RedisChannelLayer" if redis else "InMemoryChannelLayer")
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache" if redis else "LocMemCache")
