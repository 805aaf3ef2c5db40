from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from conversations.consumers import ConversationConsumer
from tests.builders import make_conversation, make_future_self
from tests.vendor_fakes.fixtures import vendor_fake, vendor_fake_server  # noqa: F401


@pytest.fixture
def alice_self(alice):
    return make_future_self(owner=alice)


@pytest.fixture
def conversation(alice_self):
    return make_conversation(future_self=alice_self)


@pytest.fixture
def connect_as():
    """Open the consumer alone (no auth middleware) as ``user``; the test must ``disconnect()``."""

    async def connect(user=None, path: str = "/conversation/stream") -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(ConversationConsumer.as_asgi(), path)
        if user is not None:
            communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    return connect


async def drain_reply(communicator: WebsocketCommunicator, timeout: float = 3) -> tuple[dict, list[str], dict]:
    """Receive one reply: its reply.start, the delta texts and its reply.end."""
    start = await communicator.receive_json_from(timeout)
    assert start["type"] == "reply.start"
    deltas: list[str] = []
    while True:
        event = await communicator.receive_json_from(timeout)
        if event["type"] == "reply.delta":
            deltas.append(event["text"])
            continue
        assert event["type"] == "reply.end", event
        return start, deltas, event


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Rate-limit and budget counters live in the cache: each test starts with none used."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
