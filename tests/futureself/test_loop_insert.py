"""Inserts sent from the event loop: the row ``objects.create`` would write, without a worker thread
on PostgreSQL; the ORM path elsewhere and when the loop's connection breaks."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection

from conversations.models import Message
from futureself.db import loop_insert
from tests.builders import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(alice):
    return make_conversation(owner=alice)


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (the second pass of .ci/run)")


@pytest.fixture
def no_worker_thread(monkeypatch):
    def refuse(func):
        raise AssertionError(f"{func.__name__} went to a worker thread")

    monkeypatch.setattr(loop_insert, "database_sync_to_async", refuse)


def _only_connection():
    """The psycopg connection of this loop's pool, which one insert at a time never grows past one."""
    (holder,) = loop_insert._pool_for("default").connections
    return holder._connection


def _stored(pk) -> dict:
    return Message.objects.filter(pk=pk).values().get()


async def test_the_row_is_the_one_objects_create_writes(conversation):
    message = await loop_insert.acreate(
        Message, conversation_id=conversation.pk, position=0, role=Message.Role.USER, text="Should I go?"
    )

    stored = await database_sync_to_async(_stored)(message.pk)
    assert stored["text"] == "Should I go?"
    assert stored["conversation_id"] == conversation.pk
    assert (stored["position"], stored["role"], stored["input_mode"]) == (0, "user", "text")
    assert stored["timings"] == {}  # the field's default, stored as JSON
    assert stored["created_at"] == message.created_at  # auto_now_add filled in on the instance too
    assert stored["updated_at"] == message.updated_at
    assert not message._state.adding  # a saved instance: a later save() updates it


async def test_on_postgresql_it_is_sent_from_the_loop(conversation, on_postgresql, no_worker_thread):
    first = await loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="a")
    second = await loop_insert.acreate(
        Message, conversation_id=conversation.pk, position=1, role="future_self", text="b", timings={"stt_ms": 301}
    )

    rows = await database_sync_to_async(lambda: list(Message.objects.order_by("position").values("pk", "timings")))()
    assert rows == [{"pk": first.pk, "timings": {}}, {"pk": second.pk, "timings": {"stt_ms": 301}}]


async def test_a_taken_position_raises_djangos_integrity_error_and_the_connection_stays_usable(
    conversation, on_postgresql, no_worker_thread
):
    await loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="first")

    with pytest.raises(IntegrityError):
        await loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="second")

    third = await loop_insert.acreate(Message, conversation_id=conversation.pk, position=1, role="user", text="third")
    assert await database_sync_to_async(_stored)(third.pk)


async def test_a_broken_connection_saves_through_the_orm_then_reconnects(conversation, on_postgresql):
    await loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="first")
    backend_pid = _only_connection().info.backend_pid

    def terminate():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])

    await database_sync_to_async(terminate)()

    saved = await loop_insert.acreate(Message, conversation_id=conversation.pk, position=1, role="user", text="second")
    assert (await database_sync_to_async(_stored)(saved.pk))["text"] == "second"
    again = await loop_insert.acreate(Message, conversation_id=conversation.pk, position=2, role="user", text="third")
    assert _only_connection().info.backend_pid != backend_pid
    assert (await database_sync_to_async(_stored)(again.pk))["text"] == "third"


async def test_a_model_whose_key_the_database_assigns_takes_the_orm_path():
    user = await loop_insert.acreate(get_user_model(), username="carol")

    assert user.pk is not None
    assert await sync_to_async(get_user_model().objects.filter(pk=user.pk, username="carol").exists)()


async def test_close_all_closes_the_loops_connections(conversation, on_postgresql):
    await loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="a")
    opened = _only_connection()

    loop_insert.close_all()

    assert opened.closed


async def test_a_caller_that_stops_waiting_does_not_stop_the_insert(conversation):
    waiting = asyncio.ensure_future(
        loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="Still stored")
    )
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    for _ in range(100):
        if await database_sync_to_async(Message.objects.filter(text="Still stored").exists)():
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the insert stopped with its caller")


async def test_an_insert_does_not_queue_behind_a_blocked_one(conversation, on_postgresql, no_worker_thread):
    """Another session holds position 0 uncommitted: an insert there waits on the unique index, and
    an insert elsewhere goes out on a second connection instead of queueing behind it."""
    other = await loop_insert._LoopConnection._connect(connection)  # the loop's own kind of connection
    try:
        async with other.transaction(force_rollback=True):
            held = Message(conversation_id=conversation.pk, position=0, role="user", text="held")
            await other.execute(*loop_insert._insert_statement(held, connection))  # uncommitted until the end
            blocked = asyncio.ensure_future(
                loop_insert.acreate(Message, conversation_id=conversation.pk, position=0, role="user", text="waits")
            )
            await asyncio.sleep(0.2)
            assert not blocked.done()

            elsewhere = await asyncio.wait_for(
                loop_insert.acreate(Message, conversation_id=conversation.pk, position=1, role="user", text="goes on"),
                timeout=5,
            )

            assert not blocked.done()
            assert len(loop_insert._pool_for("default").connections) == 2
    finally:
        await other.close()
    saved = await asyncio.wait_for(blocked, timeout=5)
    texts = await database_sync_to_async(lambda: dict(Message.objects.values_list("position", "text")))()
    assert texts == {0: "waits", 1: "goes on"}
    assert (saved.position, elsewhere.position) == (0, 1)


async def test_the_pool_opens_no_more_than_its_size(conversation, on_postgresql):
    await asyncio.gather(
        *(
            loop_insert.acreate(Message, conversation_id=conversation.pk, position=n, role="user", text=str(n))
            for n in range(loop_insert.CONNECTIONS_PER_LOOP * 3)
        )
    )

    pool = loop_insert._pool_for("default")
    assert 1 <= len(pool.connections) <= loop_insert.CONNECTIONS_PER_LOOP
    assert all(holder.in_flight == 0 for holder in pool.connections)
    count = await database_sync_to_async(Message.objects.filter(conversation=conversation).count)()
    assert count == loop_insert.CONNECTIONS_PER_LOOP * 3
