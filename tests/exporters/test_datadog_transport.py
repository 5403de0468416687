"""AgentTransport: keep-alive, a stale connection retried once, errors as None, and the
Agent's Unix socket."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_otel.exporters.datadog._transport import AgentTransport


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append((self.path, body, dict(self.headers)))  # type: ignore[attr-defined]
        time.sleep(self.server.delay)  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def _serve(server: Any) -> Iterator[Any]:
    server.connections, server.bodies, server.status, server.delay = 0, [], 200, 0.0
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tcp() -> Iterator[Any]:
    yield from _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def unix(tmp_path: Path) -> Iterator[Any]:
    yield from _serve(UnixServer(str(tmp_path / "apm.socket"), Handler))


def test_keeps_the_connection_alive(tcp: Any) -> None:
    transport = AgentTransport(f"http://127.0.0.1:{tcp.server_address[1]}", timeout=2)
    assert transport.put("/v0.5/traces", b"abc", {"X-A": "1"}) == 200
    tcp.status = 413
    assert transport.put("/v0.5/traces", b"de", {}) == 413
    assert tcp.connections == 1
    assert [(path, body) for path, body, _ in tcp.bodies] == [
        ("/v0.5/traces", b"abc"),
        ("/v0.5/traces", b"de"),
    ]
    assert tcp.bodies[0][2]["X-A"] == "1"
    transport.close()


def test_a_connection_closed_while_idle_is_retried_once(tcp: Any) -> None:
    transport = AgentTransport(f"http://127.0.0.1:{tcp.server_address[1]}", timeout=2)
    assert transport.put("/x", b"1", {}) == 200
    assert transport._conn is not None and transport._conn.sock is not None
    transport._conn.sock.close()  # as if the Agent had closed it
    assert transport.put("/x", b"2", {}) == 200
    assert tcp.connections == 2


def test_errors_are_none_not_exceptions(tcp: Any) -> None:
    port = tcp.server_address[1]
    tcp.delay = 0.5
    assert AgentTransport(f"http://127.0.0.1:{port}", timeout=0.1).put("/x", b"", {}) is None
    tcp.shutdown()
    tcp.server_close()
    assert AgentTransport(f"http://127.0.0.1:{port}", timeout=0.5).put("/x", b"", {}) is None
    with pytest.raises(ValueError, match="scheme"):
        AgentTransport("ftp://x", timeout=1)


def test_unix_socket(unix: Any) -> None:
    transport = AgentTransport(f"unix://{unix.server_address}", timeout=2)
    assert transport.put("/v0.4/traces", b"xyz", {}) == 200
    assert unix.bodies[0][:2] == ("/v0.4/traces", b"xyz")
    transport.close()
