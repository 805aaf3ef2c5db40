"""Single-row inserts sent from the event loop itself, for the live turn's critical path.

Django's ORM is synchronous, so async code runs every query in a worker thread
(``database_sync_to_async``). Saving the person's words before the model is asked is one such
query on every spoken turn, and the hop adds to the insert: the thread must be woken, win the
GIL from the loop and hand the result back. Measured on PostgreSQL 15 here (uvloop, the
``conversations_message`` insert, 100 in a row): 2.97 ms p50 through the thread, 2.05 ms from the
loop, of which ~1.4 ms is the server's (foreign-key check, four indexes, the commit's flush) and
~0.4 ms Django's field preparation. Under load the thread also competes with the loop for the GIL.

On PostgreSQL, ``acreate`` sends the INSERT over a psycopg ``AsyncConnection`` that belongs to
the running loop, so the loop awaits the row like any other socket. Each loop keeps a few such
connections (``CONNECTIONS_PER_LOOP``) and sends an insert on the first idle one, so that one slow
insert (a lock, a server busy elsewhere) does not hold up every other conversation's. The row is the one
``Model.objects.create`` writes: Django's own defaults, ``auto_now`` stamps and field
preparation, with a constraint violation raised as Django's ``IntegrityError``. Other backends
(SQLite), models the fast path does not cover, and a connection that broke take the ORM path in
the worker thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from channels.db import database_sync_to_async
from django.db import DatabaseError, InterfaceError, OperationalError, connections, models

logger = logging.getLogger(__name__)

# Connections per event loop and database alias: psycopg's async connections are bound to the loop
# they were opened on, and statements on one connection queue behind each other (psycopg locks it).
# With one connection, 200 voice conversations' inserts queued: saving the person's words took
# 36-64 / 167-363 ms (p50 / p95) on a loaded 2-core machine, 33-35 / 82-106 ms over four, back to
# back (docs/performance.md, 2026-12-06). A second connection opens only when the first is busy.
CONNECTIONS_PER_LOOP = 4
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _LoopPool]] = weakref.WeakKeyDictionary()


async def acreate[M: models.Model](model: type[M], *, using: str = "default", **fields: Any) -> M:
    """``model.objects.create(**fields)`` for async code, without a thread on PostgreSQL.

    The insert runs to its end even if the caller stops waiting, as a query in a worker thread
    does: a turn cancelled mid-save (a barge-in, a disconnect) still stores what was said.
    """
    instance = model(**fields)
    insert = asyncio.ensure_future(_insert(instance, using))
    insert.add_done_callback(_retrieve)
    await asyncio.shield(insert)
    return instance


async def _insert(instance: models.Model, using: str) -> None:
    connection = connections[using]
    statement = _insert_statement(instance, connection) if connection.vendor == "postgresql" else None
    if statement is None:
        await database_sync_to_async(_save_new)(instance, using)
        return
    try:
        await _pool_for(using).execute(connection, *statement)
    except (OperationalError, InterfaceError):
        # The connection broke (the server restarted, a network blip): it is dropped and this
        # insert goes through Django's own connection handling, which reconnects. Had the row
        # landed before the break, the primary key makes this raise IntegrityError: the caller's
        # answer to "someone wrote first".
        logger.warning("the event loop's database connection failed; saving through the ORM instead")
        await database_sync_to_async(_save_new)(instance, using)
        return
    instance._state.adding = False
    instance._state.db = using


def _retrieve(insert: asyncio.Future) -> None:
    """Read a shielded insert's outcome, so one whose caller left does not log "never retrieved"."""
    if not insert.cancelled():
        insert.exception()


def close_all() -> None:
    """Close every loop's connection (tests, before their loop goes; a server never needs it)."""
    for pools in list(_by_loop.values()):
        for pool in pools.values():
            pool.close_now()
    _by_loop.clear()


def _save_new(instance: models.Model, using: str) -> None:
    instance.save(force_insert=True, using=using)


def _insert_statement(instance: models.Model, connection) -> tuple[str, list[Any]] | None:
    """The INSERT of every local column, values prepared by the fields; None outside the fast path."""
    meta = instance._meta
    if meta.parents or instance.pk is None:
        return None  # multi-table inheritance, or a key the database assigns: the ORM knows how
    fields = meta.local_concrete_fields
    if any(field.generated or field.has_db_default() or hasattr(field, "get_placeholder") for field in fields):
        return None
    raw = [field.pre_save(instance, True) for field in fields]
    if any(hasattr(value, "resolve_expression") for value in raw):
        return None  # an expression (F(), Now()...): the ORM compiles it
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(value, connection) for field, value in zip(fields, raw, strict=True)]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})", values


def _pool_for(using: str) -> _LoopPool:
    pools = _by_loop.setdefault(asyncio.get_running_loop(), {})
    if using not in pools:
        pools[using] = _LoopPool(using)
    return pools[using]


class _LoopPool:
    """Up to ``CONNECTIONS_PER_LOOP`` connections of one loop to one database, the first idle one
    taken (so a quiet server keeps using one warm connection), else the least busy."""

    def __init__(self, using: str, size: int = CONNECTIONS_PER_LOOP) -> None:
        self.using = using
        self.size = size
        self.connections: list[_LoopConnection] = []

    async def execute(self, django_connection, sql: str, params: list[Any]) -> None:
        await self._pick().execute(django_connection, sql, params)

    def _pick(self) -> _LoopConnection:
        for holder in self.connections:
            if not holder.in_flight:
                return holder
        if len(self.connections) < self.size:
            self.connections.append(_LoopConnection(self.using))
            return self.connections[-1]
        return min(self.connections, key=lambda holder: holder.in_flight)

    def close_now(self) -> None:
        for holder in self.connections:
            holder.close_now()


class _LoopConnection:
    """A psycopg async connection, opened on first use in autocommit, reopened after a failure."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.in_flight = 0  # statements sent or waiting for this connection
        self._connection = None
        self._opening = asyncio.Lock()

    async def execute(self, django_connection, sql: str, params: list[Any]) -> None:
        self.in_flight += 1
        try:
            await self._execute(django_connection, sql, params)
        finally:
            self.in_flight -= 1

    async def _execute(self, django_connection, sql: str, params: list[Any]) -> None:
        connection = await self._open(django_connection)
        try:
            # Maps psycopg's errors to Django's (IntegrityError, DataError, OperationalError...).
            with django_connection.wrap_database_errors:
                await connection.execute(sql, params)
        except DatabaseError:
            if connection.broken or connection.closed:
                self.close_now()
            raise

    async def _open(self, django_connection):
        if self._connection is not None and not self._connection.closed:
            return self._connection
        async with self._opening:
            if self._connection is None or self._connection.closed:
                self._connection = await self._connect(django_connection)
        return self._connection

    @staticmethod
    async def _connect(django_connection):
        import psycopg

        params = django_connection.get_connection_params()
        params.pop("cursor_factory", None)  # Django's is a sync cursor class
        role = django_connection.settings_dict["OPTIONS"].get("assume_role")
        with django_connection.wrap_database_errors:
            connection = await psycopg.AsyncConnection.connect(autocommit=True, **params)
            if role:
                await connection.execute("SELECT set_config('role', %s, false)", [role])
        return connection

    def close_now(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            connection.pgconn.finish()  # synchronous: the loop it belongs to may be gone
