"""Fixtures shared by the whole suite.

Three people, as in every permission test: ``alice`` (the owner), ``bob``
(another user) and an anonymous visitor. Outbound network access other than
loopback fails loudly.
"""

from __future__ import annotations

import socket

import pytest
from django.core.cache import cache
from django.test import Client

from futureself import eventloop
from futureself.db import loop_insert
from futureself.models import ApiToken
from futureself.providers import registry
from tests.fakes.providers import FakeChat, FakeImageGenerator, FakeSpeechToText, FakeTextToSpeech

# The local vendor fake (vendor_fake, vendor_fake_server) for every test that wants it.
pytest_plugins = ["tests.vendor_fakes.fixtures"]

_real_connect = socket.socket.connect
_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith(_LOOPBACK) or host.startswith("/") or host == ""):
        raise RuntimeError(f"Tests must not reach the network (tried {host!r}).")
    return _real_connect(self, address)


def pytest_asyncio_loop_factories(config, item):
    # The server's loop (uvloop unless FUTURESELF_EVENT_LOOP says asyncio), so the suite runs on it.
    name = eventloop.configured()
    return {name: eventloop.factory(name)}


def pytest_collection_modifyitems(items):
    # Playwright's sync API leaves its event loop marked as running until the
    # session ends, which breaks every pytest-asyncio test collected after it:
    # run the browser tests last (a stable sort keeps the rest in order).
    items.sort(key=lambda item: "e2e" in item.path.parts)


@pytest.fixture(autouse=True, scope="session")
def _close_database_thread_connections(django_db_setup, django_db_blocker):
    """Close the connections of the thread async code runs its queries in (asgiref's single
    thread for ``database_sync_to_async``) before the test database is dropped: left open, they
    kept PostgreSQL from dropping it ("being accessed by other users")."""
    yield
    import asyncio
    import threading

    from channels.db import database_sync_to_async
    from django.db import connections

    # On a thread of its own: the browser tests leave an event loop marked running on this one.
    closer = threading.Thread(target=lambda: asyncio.run(database_sync_to_async(connections.close_all)()))
    with django_db_blocker.unblock():
        closer.start()
        closer.join(timeout=30)


@pytest.fixture(autouse=True)
def _close_loop_connections():
    """Each test's event loop goes with the test: so does the database connection opened on it
    (``futureself.db.loop_insert``), or the suite would keep one per test open."""
    yield
    loop_insert.close_all()


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def _fresh_limits():
    # Rate-limit and budget counters live in the cache: each test starts with none used.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_providers():
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "correct horse battery")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "another long password")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("staff", "staff@example.com", "staff password 123")


@pytest.fixture
def alice_token(alice) -> str:
    return ApiToken.objects.issue(user=alice, name="tests")[1]


@pytest.fixture
def bob_token(bob) -> str:
    return ApiToken.objects.issue(user=bob, name="tests")[1]


class ApiClient(Client):
    """A Django test client that talks JSON and sends a bearer token."""

    def __init__(self, token: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.token = token

    def _auth(self, extra):
        if self.token:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        return extra

    def get(self, path, data=None, **extra):
        return super().get(path, data, **self._auth(extra))

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data, content_type=content_type, **self._auth(extra))

    def patch(self, path, data=None, content_type="application/json", **extra):
        return super().patch(path, data, content_type=content_type, **self._auth(extra))

    def delete(self, path, data=None, content_type="application/json", **extra):
        return super().delete(path, data, content_type=content_type, **self._auth(extra))


@pytest.fixture
def alice_api(alice_token) -> ApiClient:
    return ApiClient(alice_token)


@pytest.fixture
def bob_api(bob_token) -> ApiClient:
    return ApiClient(bob_token)


@pytest.fixture
def anon_api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def fake_chat():
    chat = FakeChat()
    with registry.use_providers(chat=chat):
        yield chat


@pytest.fixture
def fake_stt():
    stt = FakeSpeechToText()
    with registry.use_providers(stt=stt):
        yield stt


@pytest.fixture
def fake_tts():
    tts = FakeTextToSpeech()
    with registry.use_providers(tts=tts):
        yield tts


@pytest.fixture
def fake_image():
    image = FakeImageGenerator()
    with registry.use_providers(image=image):
        yield image
