"""The SDKs' HTTP transport on plain asyncio: real HTTP/1.1 over real sockets, both httpx flavours."""

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import httpcore
import httpcore2
import httpx
import httpx2
import pytest
import trustme

from futureself.providers.transport import AsyncioBackend, http_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A tiny HTTP/1.1 server: ``handler`` answers each request of each connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await _read_request(reader):
                await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def _hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
    await writer.drain()


@pytest.fixture(params=[(httpx, httpcore), (httpx2, httpcore2)], ids=["httpx", "httpx2"])
def http(request):
    return request.param[0]


def _client(http, **kwargs):
    return http.AsyncClient(transport=http_transport(http), **kwargs)


async def test_the_transport_reads_its_sockets_through_the_asyncio_backend(http):
    transport = http_transport(http)

    assert isinstance(transport._pool._network_backend, AsyncioBackend)


async def test_a_response_and_its_body_arrive_and_the_connection_is_kept_for_the_next_request(http):
    server = Server(_hello)
    async with server as url, _client(http) as client:
        first = await client.get(f"{url}/a")
        second = await client.post(f"{url}/b", json={"x": 1})

    assert (first.status_code, first.text, first.headers["content-type"]) == (200, "hello", "text/plain")
    assert second.text == "hello"
    assert server.connections == 1


async def test_a_chunked_stream_is_handed_on_chunk_by_chunk_as_it_arrives(http):
    release = asyncio.Event()

    async def stream(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()  # the second chunk only once the client has the first
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async with (
        asyncio.timeout(5),  # a transport that waited for more data before handing on would hang here
        Server(stream) as url,
        _client(http) as client,
        client.stream("GET", url) as response,
    ):
        received = []
        async for chunk in response.aiter_bytes():
            received.append(chunk)
            release.set()

    assert received == [b"first", b"second"]


async def test_a_large_body_comes_through_whole(http):
    body = bytes(range(256)) * 16 * 1024  # 4 MiB: more than the read buffer's high-water mark

    async def big(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()

    async with Server(big) as url, _client(http) as client, client.stream("GET", url) as response:
        received = bytearray()
        async for chunk in response.aiter_bytes():
            received += chunk
            await asyncio.sleep(0)  # a consumer slower than the socket: reading pauses and resumes

    assert bytes(received) == body


async def test_a_connection_the_server_closed_while_idle_is_not_reused(http):
    async def close_after_answer(reader, writer):
        await _hello(reader, writer)
        writer.close()

    server = Server(close_after_answer)
    async with server as url, _client(http) as client:
        await client.get(url)
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        again = await client.get(url)

    assert again.text == "hello"
    assert server.connections == 2


async def test_a_stalled_server_gives_the_http_librarys_read_timeout(http):
    async def stall(reader, writer):
        await asyncio.sleep(5)

    async with Server(stall) as url, _client(http, timeout=0.2) as client:
        with pytest.raises(http.ReadTimeout):
            await client.get(url)


async def test_a_refused_connection_gives_the_http_librarys_connect_error(http):
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()

    async with _client(http) as client:
        with pytest.raises(http.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_connection_dropped_mid_body_gives_a_read_error_not_a_short_body(http):
    async def drop(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.transport.abort()

    async with Server(drop) as url, _client(http) as client:
        with pytest.raises((http.RemoteProtocolError, http.ReadError)):
            await client.get(url)


@pytest.mark.parametrize("core", [httpcore, httpcore2], ids=["httpcore", "httpcore2"])
async def test_https_works_through_the_tls_upgrade_and_checks_the_certificate(core):
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    server = await asyncio.start_server(Server(_hello)._serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        async with core.AsyncConnectionPool(ssl_context=trusting, network_backend=AsyncioBackend(core)) as pool:
            response = await pool.request("GET", f"https://localhost:{port}/")
            assert (response.status, response.content) == (200, b"hello")
            assert response.extensions["network_stream"].get_extra_info("ssl_object") is not None

        async with core.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(), network_backend=AsyncioBackend(core)
        ) as pool:
            with pytest.raises(core.ConnectError):  # our own CA is not trusted by default
                await pool.request("GET", f"https://localhost:{port}/")
    finally:
        server.close()
