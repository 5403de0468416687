"""HTTP/1.1 handling, headers, form decoding, TLS and binding rules, over raw sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from stripe_otel.testing import StripeTestServer
from stripe_otel.testing._form import decode_form, mask_key

pytestmark = pytest.mark.integration

AUTH = "Authorization: Bearer sk_test_wire\r\n"
EXPECTED_HEADERS = {
    "server": "nginx",
    "content-type": "application/json",
    "cache-control": "no-cache, no-store",
    "access-control-allow-origin": "*",
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, HEAD, PUT, PATCH, POST, DELETE",
    "access-control-max-age": "300",
    "access-control-expose-headers": "Request-Id, Stripe-Manage-Version, Stripe-Should-Retry, "
    "X-Stripe-External-Auth-Required, X-Stripe-Privileged-Session-Required",
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
    "x-stripe-routing-context-priority-tier": "api-testmode",
    "connection": "keep-alive",
}


class Conn:
    """A raw HTTP/1.1 client that reads Content-Length framed responses."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers["content-length"])
        while len(self.buf) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def conn(server: StripeTestServer) -> Iterator[Conn]:
    c = Conn(server.port)
    yield c
    c.close()


def test_stripe_headers(conn: Conn, server: StripeTestServer) -> None:
    conn.send(b"GET /v1/customers?limit=3 HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n")
    status, headers, body = conn.read_response()
    assert status == 200
    for name, value in EXPECTED_HEADERS.items():
        assert headers[name] == value, name
    assert headers["stripe-version"] == server.api_version
    assert len(headers["request-id"]) == 18 and headers["request-id"].startswith("req_")
    assert headers["date"].endswith(" GMT")
    assert "idempotency-key" not in headers
    assert json.loads(body) == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/customers",
    }
    assert len(headers) >= 15

    conn.send(
        b"POST /v1/customers HTTP/1.1\r\nHost: x\r\n"
        + AUTH.encode()
        + b"Stripe-Version: 2024-06-20\r\nStripe-Account: acct_123\r\nIdempotency-Key: k1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 24\r\n\r\n"
        b"metadata[a]=1&email=a%40"
    )
    status, headers, body = conn.read_response()
    assert status == 200
    assert headers["stripe-version"] == "2024-06-20"
    assert headers["stripe-account"] == "acct_123"
    assert headers["idempotency-key"] == "k1"
    assert headers["original-request"] == headers["request-id"]
    obj = json.loads(body)
    assert obj["metadata"] == {"a": "1"} and obj["email"] == "a@"
    recorded = server.requests[-1]
    assert recorded.headers["authorization"] == "<redacted>"
    assert recorded.body == b"metadata[a]=1&email=a%40"
    assert recorded.request_id == headers["request-id"]


def test_auth_errors(conn: Conn) -> None:
    conn.send(b"GET /v1/customers HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = conn.read_response()
    assert status == 401
    assert "You did not provide an API key" in json.loads(body)["error"]["message"]
    conn.send(
        b"GET /v1/customers HTTP/1.1\r\nAuthorization: Bearer pk_test_abcdefghijklmnop\r\n\r\n"
    )
    status, _, body = conn.read_response()
    err = json.loads(body)["error"]
    assert status == 401
    assert err["type"] == "invalid_request_error"
    assert err["message"] == "Invalid API Key provided: pk_test_****mnop"
    assert mask_key("sk_live_0123456789abcdefghij") == "sk_live_****ghij"
    assert "abcdefgh" not in mask_key("garbage_abcdefgh")


def test_keep_alive_pipelining_and_close(conn: Conn, server: StripeTestServer) -> None:
    req = b"GET /v1/customers/cus_%d HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n"
    conn.send(req % 1 + req % 2 + req % 3)
    messages = [json.loads(conn.read_response()[2])["error"]["message"] for _ in range(3)]
    assert messages == [f"No such customer: 'cus_{i}'" for i in (1, 2, 3)]
    conn.send(b"GET /v1/events HTTP/1.1\r\nConnection: close\r\n" + AUTH.encode() + b"\r\n")
    status, headers, _ = conn.read_response()
    assert status == 200 and headers["connection"] == "close"
    assert conn.closed_by_peer()
    assert server.request_count == 4


def test_chunked_body_and_bad_request(conn: Conn, server: StripeTestServer) -> None:
    conn.send(
        b"POST /v1/products HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        + AUTH.encode()
        + b"\r\n5\r\nname=\r\n4\r\nGold\r\n0\r\n\r\n"
    )
    status, _, body = conn.read_response()
    assert status == 200 and json.loads(body)["name"] == "Gold"
    other = Conn(server.port)
    other.send(b"NONSENSE\r\n\r\n")
    received = b""
    while chunk := other.sock.recv(4096):
        received += chunk
    assert received.startswith(b"HTTP/1.1 400 ")  # and then the server closed

    other.close()


def test_decode_form() -> None:
    raw = (
        "card[number]=4242&card[exp_month]=12&metadata[0]=zero&metadata[k]=v"
        "&expand[0]=customer&expand[1]=latest_charge&items[0][price]=p1&items[1][price]=p2"
        "&payment_method_types[]=card&empty="
    )
    assert decode_form(raw) == {
        "card": {"number": "4242", "exp_month": "12"},
        "metadata": {"0": "zero", "k": "v"},
        "expand": ["customer", "latest_charge"],
        "items": [{"price": "p1"}, {"price": "p2"}],
        "payment_method_types": ["card"],
        "empty": "",
    }


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        StripeTestServer(host=host)


def test_ipv6_loopback_and_stop() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    srv = StripeTestServer(host="::1")
    try:
        srv.start()
    except OSError:
        pytest.skip("::1 not bindable here")
    assert srv.url == f"http://[::1]:{srv.port}"
    sock = socket.create_connection(("::1", srv.port), timeout=5)
    srv.stop()
    srv.stop()  # idempotent
    with contextlib.suppress(ConnectionResetError):
        assert sock.recv(1) == b""
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("::1", srv.port), timeout=1).close()


def test_tls(tmp_path: Path, global_stripe: StripeTestServer) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with StripeTestServer(ssl_context=ctx) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        stripe.api_base = srv.url
        stripe.ca_bundle_path = str(ca_path)
        stripe.default_http_client = stripe.RequestsClient()
        cus = stripe.Customer.create(email="tls@example.com")
        assert stripe.Customer.retrieve(cus.id).email == "tls@example.com"
        httpx_client = stripe.HTTPXClient(allow_sync_methods=True)  # reads ca_bundle_path now
        client = stripe.StripeClient(
            "sk_test_tls", base_addresses={"api": srv.url}, http_client=httpx_client
        )
        assert client.v1.customers.retrieve(cus.id).id == cus.id
        httpx_client.close()
        assert srv.request_count == 3
        stripe.ca_bundle_path = global_stripe_default_bundle()
        untrusted = stripe.StripeClient(
            "sk_test_tls", base_addresses={"api": srv.url}, http_client=stripe.RequestsClient()
        )
        with pytest.raises(stripe.APIConnectionError):
            untrusted.v1.customers.list()


def global_stripe_default_bundle() -> str:
    return str(Path(stripe.__file__).parent / "data" / "ca-certificates.crt")
