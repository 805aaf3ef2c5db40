"""External frontends listed in CORS_ALLOWED_ORIGINS may call the API and open the socket; others may not."""

from __future__ import annotations

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from futureself.channels_auth import websocket_application
from futureself.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

FRONTEND = "https://app.example.org"


@pytest.fixture
def with_frontend(settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    return websocket_application(URLRouter(websocket_urlpatterns))


async def _open(app, conversation, origin: str, token: str):
    communicator = WebsocketCommunicator(
        app,
        f"/conversation/stream?conversation_id={conversation.pk}",
        headers=[(b"origin", origin.encode()), (b"authorization", f"Bearer {token}".encode())],
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_a_configured_external_frontend_opens_the_socket(with_frontend, alice_token, conversation):
    communicator, connected = await _open(with_frontend, conversation, FRONTEND, alice_token)
    assert connected
    await communicator.send_json_to({"type": "start"})
    assert (await communicator.receive_json_from(3))["type"] == "ready"
    await communicator.disconnect()


async def test_an_unlisted_origin_is_still_refused_when_a_frontend_is_configured(
    with_frontend, alice_token, conversation
):
    communicator, connected = await _open(with_frontend, conversation, "https://evil.example", alice_token)
    assert not connected
    await communicator.disconnect()


def test_the_api_preflight_allows_a_configured_frontend(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    response = client.options(
        "/api/interview/respond",
        HTTP_ORIGIN=FRONTEND,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == FRONTEND
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "idempotency-key" in allowed


def test_the_api_preflight_ignores_an_unlisted_origin(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    response = client.options(
        "/api/interview/respond", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in response


def test_cors_never_reaches_the_html_pages(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    response = client.get("/", HTTP_ORIGIN=FRONTEND)
    assert "Access-Control-Allow-Origin" not in response
