"""LatencyProxy: a one-way delay per direction, at the TCP level, on loopback."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_otel.testing import LatencyProxy, StripeTestServer

pytestmark = pytest.mark.integration

# Upper slack on top of the injected delay: loopback, two thread hops and the proxy's
# own work take ~0.3 ms on an idle machine; 5 ms leaves room for a busy CI runner.
SLACK_S = 0.005


def serve(handler: Callable[[socket.socket], None]) -> tuple[int, Callable[[], None]]:
    """A loopback TCP server running ``handler`` per connection in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by the stopper
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1], listener.close


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    port, stop = serve(echo)
    yield port
    stop()


def connect(proxy: LatencyProxy) -> socket.socket:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes) -> float:
    start = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += sock.recv(65536)
    elapsed = time.monotonic() - start
    assert got == payload
    return elapsed


@pytest.mark.parametrize("delay_ms", [0.0, 10.0, 40.0])
def test_echo_round_trip_is_two_one_way_delays(echo_port: int, delay_ms: float) -> None:
    with LatencyProxy("127.0.0.1", echo_port, delay_ms) as proxy, connect(proxy) as sock:
        rtts = [round_trip(sock, b"ping %d" % i) for i in range(10)]
    two_d = 2 * delay_ms / 1000
    assert min(rtts) >= two_d
    assert statistics.median(rtts) < two_d + SLACK_S, rtts


def test_delay_change_applies_to_later_chunks_and_keeps_order(echo_port: int) -> None:
    with LatencyProxy("127.0.0.1", echo_port, 5.0) as proxy, connect(proxy) as sock:
        assert round_trip(sock, b"a") < 0.010 + SLACK_S
        proxy.one_way_delay_ms = 40.0
        assert proxy.one_way_delay_ms == 40.0
        start = time.monotonic()
        sock.sendall(b"first")
        time.sleep(0.005)  # the proxy has read "first" (the new delay applies to later reads)
        # Lowered while "first" is in flight: "second" must not overtake it.
        proxy.one_way_delay_ms = 0.0
        sock.sendall(b"second")
        got = b""
        while len(got) < len(b"firstsecond"):
            got += sock.recv(65536)
        elapsed = time.monotonic() - start
        assert got == b"firstsecond"
        # "first" took 40 ms to the server; the echo came back with no delay.
        assert 0.040 <= elapsed < 0.040 + SLACK_S
        assert round_trip(sock, b"b") < SLACK_S
        assert proxy.connections_opened == 1


def test_half_close_delivers_queued_bytes_then_eof(echo_port: int) -> None:
    with LatencyProxy("127.0.0.1", echo_port, 10.0) as proxy, connect(proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # the echo server sees EOF after the data, then closes
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
        assert got == b"last words"
        assert time.monotonic() - start >= 0.020


def test_server_close_reaches_client_one_delay_later() -> None:
    closed_at: list[float] = []

    def close_on_first_byte(conn: socket.socket) -> None:
        conn.recv(1)
        conn.close()
        closed_at.append(time.monotonic())

    port, stop_server = serve(close_on_first_byte)
    with LatencyProxy("127.0.0.1", port, 20.0) as proxy, connect(proxy) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b""
        eof_at = time.monotonic()
    stop_server()
    assert 0.020 <= eof_at - closed_at[0] < 0.020 + SLACK_S


def test_stop_is_idempotent_and_closes_connections(echo_port: int) -> None:
    proxy = LatencyProxy("localhost", echo_port, 0.0)
    proxy.stop()  # before start: nothing to do
    proxy.start()
    assert proxy.host == "127.0.0.1"
    sock = connect(proxy)
    round_trip(sock, b"hi")
    proxy.stop()
    proxy.stop()
    with contextlib.suppress(ConnectionResetError):  # aborted: as closed as it gets
        assert sock.recv(1) == b""
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    with pytest.raises(RuntimeError):
        proxy.start()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"host": "0.0.0.0"},
        {"host": "10.0.0.1"},
        {"host": "example.com"},
        {"upstream_host": "192.168.1.10"},
        {"upstream_host": "stripe.com"},
        {"upstream_host": "::"},
        {"one_way_delay_ms": -1.0},
        {"one_way_delay_ms": float("nan")},
    ],
)
def test_refuses_non_loopback_and_bad_delays(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"upstream_host": "127.0.0.1", "upstream_port": 1, **kwargs}
    with pytest.raises(ValueError):
        LatencyProxy(**args)


def test_accepts_loopback_spellings() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert LatencyProxy(host, 1, host=host).upstream_host in (host, "127.0.0.1")


def test_stripe_sdk_reuses_connection_and_pays_one_round_trip(server: StripeTestServer) -> None:
    with LatencyProxy("127.0.0.1", server.port, 10.0) as proxy:
        client = stripe.StripeClient(
            "sk_test_x",
            base_addresses={"api": f"http://127.0.0.1:{proxy.port}"},
            http_client=stripe.RequestsClient(),
        )
        first = client.v1.customers.create({"email": "slow@example.com"})
        server.set_delay(50)
        start = time.monotonic()
        again = client.v1.customers.retrieve(first.id)
        elapsed = time.monotonic() - start
        assert again.email == "slow@example.com"
        assert proxy.connections_opened == 1  # kept alive: no second connection
    # One round trip (2 x 10 ms) plus the server's 50 ms; SDK overhead is ~1 ms.
    assert 0.070 <= elapsed < 0.070 + 3 * SLACK_S, elapsed


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[StripeTestServer, Any]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    with StripeTestServer(ssl_context=ctx) as srv:
        yield srv, ca


def test_tls_handshake_takes_one_round_trip(
    tls: tuple[StripeTestServer, Any], caplog: pytest.LogCaptureFixture
) -> None:
    srv, ca = tls
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with LatencyProxy("127.0.0.1", srv.port, 20.0) as proxy:
        with client_ctx.wrap_socket(
            connect(proxy), server_hostname="127.0.0.1", do_handshake_on_connect=False
        ) as tls_sock:
            start = time.monotonic()
            tls_sock.do_handshake()
            elapsed = time.monotonic() - start
            assert tls_sock.version() == "TLSv1.3"
        # Closed before the server's session tickets arrive, so the client's kernel resets
        # the connection that the proxy is about to half-close: no error must escape.
        time.sleep(0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # TLS 1.3: the client's hello and the server's whole flight; < 3 delays = one trip.
    assert 0.040 <= elapsed < 0.060, elapsed


def test_stripe_sdk_over_tls(
    tls: tuple[StripeTestServer, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, ca = tls
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    monkeypatch.setattr(stripe, "ca_bundle_path", str(ca_path))  # restored by monkeypatch
    with LatencyProxy("127.0.0.1", srv.port, 5.0) as proxy:
        client = stripe.StripeClient(
            "sk_test_x",
            base_addresses={"api": f"https://127.0.0.1:{proxy.port}"},
            http_client=stripe.RequestsClient(),
        )
        cus = client.v1.customers.create({"email": "tls@example.com"})
        start = time.monotonic()
        assert client.v1.customers.retrieve(cus.id).email == "tls@example.com"
        assert time.monotonic() - start >= 0.010
        assert proxy.connections_opened == 1
