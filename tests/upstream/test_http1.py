"""The upstream's HTTP/1.1 transport, against a raw socket server that answers as scripted."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import random
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from streaming.upstream.http1 import ChunkedDecoder, Http1Transport

Answer = Callable[[bytes], bytes | list[bytes]]


class RawServer:
    """Reads each request (head and Content-Length body) and writes `answer(request)`; a
    list is written part by part. Counts connections."""

    def __init__(self, answer: Answer, *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                parts = self.answer(request)
                for part in parts if isinstance(parts, list) else [parts]:
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def serve(server: RawServer, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    return listening, listening.sockets[0].getsockname()[1]


def chunked(*parts: bytes, ext: bool = False, trailer: bool = False) -> bytes:
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";name=value" if ext else b"", p) for p in parts)
    return body + b"0\r\n" + (b"X-Trailer: yes\r\n" if trailer else b"") + b"\r\n"


def head(extra: bytes = b"Transfer-Encoding: chunked\r\n", status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\nContent-Type: text/event-stream\r\n" + extra + b"\r\n"


async def collect(
    port: int, mode: str, *, scheme: str = "http", verify: ssl.SSLContext | None = None
) -> tuple[int, list[bytes]]:
    """The status and the body's chunks, read as `mode` says: by iterating (what httpx
    does), or by callback (`ResponseBody.push`, what the relay does, from the response's extensions)."""
    transport = Http1Transport(verify=verify or ssl.create_default_context())
    url = f"{scheme}://localhost:{port}/v1/responses"
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("POST", url, json={}) as response,
    ):
        if mode == "iterate":
            return response.status_code, [chunk async for chunk in response.aiter_bytes()]
        chunks: list[bytes] = []
        await response.extensions["push"](chunks.append, lambda: False)
        return response.status_code, chunks


@pytest.fixture(params=["iterate", "push"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., object]]:
    started: list[asyncio.Server] = []

    async def start(answer: Answer, **kwargs: object) -> tuple[RawServer, int]:
        tls = kwargs.pop("tls", None)
        server = RawServer(answer, **kwargs)  # type: ignore[arg-type]
        listening, port = await serve(server, tls)  # type: ignore[arg-type]
        started.append(listening)
        return server, port

    yield start
    for listening in started:
        listening.close()


def test_the_chunked_decoder_gives_the_same_bytes_however_the_body_is_split() -> None:
    parts = [
        bytes(random.randrange(256) for _ in range(random.randrange(1, 300))) for _ in range(40)
    ]
    body = chunked(*parts, ext=True, trailer=True)
    for _ in range(200):
        decoder, out, at = ChunkedDecoder(), [], 0
        while at < len(body):
            step = random.randrange(1, 40)
            out.append(decoder.feed(body[at : at + step]))
            at += step
        assert b"".join(out) == b"".join(parts) and decoder.done


def test_reads_of_whole_chunks_give_the_same_bytes_as_reads_split_anywhere() -> None:
    """Whole chunks per read (the one-pass way) and any other split (the general way) agree,
    with upper- and lower-case sizes, extensions and padded sizes among them."""
    for _ in range(100):
        parts = [os.urandom(random.randrange(1, 200)) for _ in range(random.randrange(1, 30))]
        chunks = []
        for part in parts:
            size = random.choice([b"%x", b"%X", b"%x;ext=1", b"%x  ", b"0%x"]) % len(part)
            chunks.append(size + b"\r\n" + part + b"\r\n")
        chunks.append(b"0\r\n\r\n")
        reads, at = [], 0
        while at < len(chunks):  # each read one or more whole chunks
            step = random.randrange(1, 4)
            reads.append(b"".join(chunks[at : at + step]))
            at += step
        decoder = ChunkedDecoder()
        assert b"".join(decoder.feed(read) for read in reads) == b"".join(parts)
        assert decoder.done


@pytest.mark.parametrize(
    "bad",
    [
        b"zz\r\nab\r\n",
        b"2\r\nabc\r\n",
        b"\r\n",
        b"-1\r\n",
        b"2\r\nab\r\n2\r\nabc\r\n",
        b"+1\r\na\r\n",
    ],
)
def test_a_malformed_chunked_body_is_a_protocol_error(bad: bytes) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        ChunkedDecoder().feed(bad)


async def test_a_chunked_stream_arrives_chunk_by_chunk(raw, mode: str) -> None:
    frames = [b"data: %d\n\n" % i for i in range(3)]
    _, port = await raw(
        lambda _: [head(), *(b"%x\r\n%s\r\n" % (len(f), f) for f in frames), b"0\r\n\r\n"]
    )
    status, chunks = await collect(port, mode)
    assert status == 200 and chunks == frames


async def test_sized_and_unframed_bodies_and_an_informational_response(raw, mode: str) -> None:
    _, port = await raw(
        lambda _: [b"HTTP/1.1 100 Continue\r\n\r\n", head(b"Content-Length: 5\r\n") + b"hel", b"lo"]
    )
    assert b"".join((await collect(port, mode))[1]) == b"hello"
    _, port = await raw(lambda _: [head(b""), b"to the ", b"end"], close_after=True)
    assert b"".join((await collect(port, mode))[1]) == b"to the end"


async def test_a_body_cut_short_is_a_protocol_error(raw, mode: str) -> None:
    _, port = await raw(lambda _: [head(), b"5\r\nhello\r\n", b"5\r\nwor"], close_after=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await collect(port, mode)


async def test_the_request_goes_out_as_httpx_built_it(raw) -> None:
    server, port = await raw(lambda _: head(b"Content-Length: 0\r\n"))
    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(
            f"http://localhost:{port}/v1/responses?x=1", json={"a": "é"}, headers={"X-Key": "k"}
        )
    assert response.status_code == 200
    request = server.requests[0]
    assert request.startswith(b"POST /v1/responses?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: localhost:%d\r\n" % port in request and b"\r\nX-Key: k\r\n" in request
    assert request.endswith(b'\r\n\r\n{"a":"\xc3\xa9"}') and b"Content-Length: 10\r\n" in request


async def test_a_finished_connection_is_reused_and_a_closed_one_is_not(raw) -> None:
    answer = lambda _: head(b"Content-Length: 2\r\n") + b"ok"  # noqa: E731
    server, port = await raw(answer)
    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            assert (await client.post(f"http://localhost:{port}/", json={})).text == "ok"
    assert server.connections == 1 and len(server.requests) == 3
    server, port = await raw(answer, close_after=True)  # closes after each answer
    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(2):
            assert (await client.post(f"http://localhost:{port}/", json={})).text == "ok"
            await asyncio.sleep(0.05)
    assert server.connections == 2


async def test_closing_a_stream_early_closes_its_connection(raw) -> None:
    _, port = await raw(lambda _: [head(), *[b"3\r\nabc\r\n"] * 50, b"0\r\n\r\n"])
    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("POST", f"http://localhost:{port}/", json={}) as response:
            async for _ in response.aiter_bytes():
                break
        assert transport._idle is None  # not kept: the rest of the body was never read


async def pushed(port: int, deliver: Callable, stop: Callable[[], bool] = lambda: False) -> bool:
    """Push one response's body to `deliver`; True if its connection was kept for reuse."""
    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("POST", f"http://localhost:{port}/", json={}) as response:
            await response.extensions["push"](deliver, stop)
        return transport._idle is not None


async def test_push_waits_for_what_the_callback_returns_and_keeps_the_order(raw) -> None:
    """A callback that returns an awaitable (the relay flushing a full batch) holds the next
    chunks until it is done; what arrived meanwhile comes after, in order."""
    parts = [b"part %d;" % i for i in range(8)]
    _, port = await raw(
        lambda _: [head(), *(b"%x\r\n%s\r\n" % (len(p), p) for p in parts), b"0\r\n\r\n"]
    )
    got: list[bytes] = []
    waits: list[float] = []

    async def slow() -> None:
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.05)  # the server writes a part every 10 ms meanwhile
        waits.append(asyncio.get_running_loop().time() - started)
        got.append(b"(waited)")

    def deliver(chunk: bytes):
        got.append(chunk)
        return slow() if len(got) == 1 else None

    kept = await pushed(port, deliver)
    assert got[0] == parts[0] and got[1] == b"(waited)" and waits
    assert b"".join(got[2:]) == b"".join(parts[1:])
    assert kept  # the whole body was read: the connection is kept


async def test_push_raises_what_the_callback_raises_and_drops_the_connection(raw) -> None:
    _, port = await raw(lambda _: [head(), *[b"3\r\nabc\r\n"] * 20, b"0\r\n\r\n"])
    seen: list[bytes] = []

    def deliver(chunk: bytes):
        seen.append(chunk)
        if len(seen) == 2:
            raise ValueError("the relay could not take it")

    transport = Http1Transport(verify=ssl.create_default_context())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(ValueError, match="could not take"):
            async with client.stream("POST", f"http://localhost:{port}/", json={}) as response:
                await response.extensions["push"](deliver, lambda: False)
        assert transport._idle is None
    assert len(seen) == 2  # nothing was handed on after the error


async def test_push_stops_when_told_and_the_unread_rest_is_not_kept(raw) -> None:
    _, port = await raw(lambda _: [head(), *[b"3\r\nabc\r\n"] * 20, b"0\r\n\r\n"])
    seen: list[bytes] = []
    kept = await pushed(port, seen.append, stop=lambda: len(seen) >= 3)
    assert seen == [b"abc"] * 3
    assert not kept


async def test_a_refused_connection_is_a_connect_error(mode: str) -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    with pytest.raises(httpx.ConnectError):
        await collect(port, mode)


async def test_tls_with_a_certificate_the_client_trusts(raw, mode: str, tmp_path: Path) -> None:
    server_context, client_context = tls_pair(tmp_path)
    _, port = await raw(lambda _: [head(), b"5\r\nhello\r\n0\r\n\r\n"], tls=server_context)
    assert await collect(port, mode, scheme="https", verify=client_context) == (200, [b"hello"])
    with pytest.raises(httpx.ConnectError):  # the default trust store does not know it
        await collect(port, mode, scheme="https")


def tls_pair(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for localhost: the server's context and a client's that
    trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
