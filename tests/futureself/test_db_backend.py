"""The PostgreSQL backend pings a reused connection only when it has sat idle (see its docstring)."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from futureself.db.postgresql import base

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pings(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (the second pass of .ci/run)")
    seen = []
    is_usable = base.DatabaseWrapper.is_usable

    def counting(self):
        seen.append(True)
        return is_usable(self)

    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", counting)
    return seen


def _query() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        return cursor.fetchone()[0]


async def test_back_to_back_database_trips_of_a_socket_skip_the_ping(pings, settings):
    assert settings.DATABASES["default"]["ENGINE"] == "futureself.db.postgresql"
    for _ in range(5):  # each call is a "request" to Django: close_old_connections, then the query
        assert await database_sync_to_async(_query)() == 2

    assert pings == []


async def test_a_connection_idle_for_a_while_is_pinged_before_reuse(pings, monkeypatch):
    await database_sync_to_async(_query)()
    monkeypatch.setattr(base, "HEALTH_CHECK_IDLE_SECONDS", 0.05)
    await asyncio.sleep(0.1)

    assert await database_sync_to_async(_query)() == 2
    assert pings == [True]
