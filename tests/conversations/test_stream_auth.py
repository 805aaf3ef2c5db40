"""The socket through the whole ASGI stack: Origin check, session cookie and handshake token."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from futureself.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(conversation, headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(
        application, f"/conversation/stream?conversation_id={conversation.pk}", headers=headers
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_a_bearer_token_in_the_handshake_authenticates_a_client_without_origin(alice_token, conversation):
    communicator, connected = await open_socket(conversation, [(b"authorization", f"Bearer {alice_token}".encode())])
    assert connected
    await communicator.send_json_to({"type": "start"})
    assert (await communicator.receive_json_from(3))["type"] == "ready"
    await communicator.disconnect()


async def test_frames_skip_the_session_middleware_but_the_handshake_goes_through_it(
    alice_token, conversation, monkeypatch
):
    from channels.sessions import InstanceSessionWrapper

    seen = []
    original = InstanceSessionWrapper.send

    async def counting_send(self, message):
        seen.append(message["type"])
        await original(self, message)

    monkeypatch.setattr(InstanceSessionWrapper, "send", counting_send)
    communicator, connected = await open_socket(conversation, [(b"authorization", f"Bearer {alice_token}".encode())])
    assert connected
    await communicator.send_json_to({"type": "start"})
    assert (await communicator.receive_json_from(3))["type"] == "ready"
    await communicator.send_json_to({"type": "text", "text": "Hello?"})
    assert (await communicator.receive_json_from(5))["type"] == "reply.start"
    await communicator.disconnect()

    assert seen == ["websocket.accept"]


async def test_another_users_token_in_the_handshake_gets_4404(bob_token, conversation):
    communicator, connected = await open_socket(conversation, [(b"authorization", f"Bearer {bob_token}".encode())])
    assert connected
    await communicator.send_json_to({"type": "start"})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()


async def test_no_credentials_at_all_gets_4401(conversation):
    communicator, connected = await open_socket(conversation, [])
    assert connected
    await communicator.send_json_to({"type": "start"})
    assert await communicator.receive_output(3) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


async def test_a_browser_from_another_site_is_refused(alice_token, conversation):
    communicator, connected = await open_socket(
        conversation,
        [(b"origin", b"https://evil.example"), (b"authorization", f"Bearer {alice_token}".encode())],
    )
    assert not connected
    await communicator.disconnect()


async def test_the_web_session_of_a_same_origin_browser_authenticates(alice_client, conversation):
    session_cookie = alice_client.cookies[settings.SESSION_COOKIE_NAME].value
    communicator, connected = await open_socket(
        conversation,
        [
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_cookie}".encode()),
        ],
    )
    assert connected
    await communicator.send_json_to({"type": "start"})
    ready = await communicator.receive_json_from(3)
    assert ready["type"] == "ready"
    await communicator.disconnect()


async def test_the_handshake_token_marks_the_token_used(alice, alice_token, conversation):
    from futureself.models import ApiToken

    communicator, connected = await open_socket(conversation, [(b"authorization", f"Bearer {alice_token}".encode())])
    assert connected
    await communicator.disconnect()
    token = await database_sync_to_async(ApiToken.objects.get)(user=alice)
    assert token.last_used_at is not None


def test_the_conversation_socket_does_not_hold_a_channel_layer_subscription():
    from channels.layers import get_channel_layer

    from conversations.consumers import ConversationConsumer

    assert get_channel_layer(ConversationConsumer.channel_layer_alias) is None
