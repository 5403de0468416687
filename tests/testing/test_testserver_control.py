"""The cross-process control API and the command line."""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_otel.testing import StripeTestServer

pytestmark = pytest.mark.integration


def control(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_control_api(server: StripeTestServer) -> None:
    client = stripe.StripeClient(
        "sk_test_ctl", base_addresses={"api": server.url}, http_client=stripe.RequestsClient()
    )
    assert control(
        server.port,
        "POST",
        "/_control/faults",
        {
            "status": 503,
            "path_regex": "^/v1/customers$",
            "method": "POST",
            "headers": {"X-From": "control"},
            "should_retry": False,
        },
    ) == (200, {"ok": True})
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create({"email": "c@example.com"})
    assert info.value.http_status == 503
    assert (info.value.headers or {}).get("X-From") == "control"

    assert control(server.port, "POST", "/_control/delay", {"ms": 120, "method": "GET"})[0] == 200
    t0 = time.perf_counter()
    client.v1.customers.list()
    assert time.perf_counter() - t0 >= 0.12

    status, recorded = control(server.port, "GET", "/_control/requests")
    assert status == 200
    assert recorded["request_count"] == 2
    first, second = recorded["data"]
    assert (first["method"], first["path"], first["status"]) == ("POST", "/v1/customers", 503)
    assert first["body"] == "email=c%40example.com"
    assert first["headers"]["authorization"] == "<redacted>"
    assert (second["method"], second["status"]) == ("GET", 200)
    assert second["received_at"] >= first["received_at"]

    status, err = control(server.port, "POST", "/_control/faults", {"action": "explode"})
    assert status == 400 and "unknown fault action" in err["error"]
    status, err = control(server.port, "POST", "/_control/faults", {"nope": 1})
    assert status == 400 and "unknown fault fields" in err["error"]
    assert control(server.port, "GET", "/_control/nothing")[0] == 404

    assert control(server.port, "POST", "/_control/reset") == (200, {"ok": True})
    assert server.request_count == 0 and server.requests == []
    t0 = time.perf_counter()
    assert client.v1.customers.list().data == []
    assert time.perf_counter() - t0 < 0.1  # the delay rule is gone


@pytest.fixture
def cli_env() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()


def start_cli(procs: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_otel.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on "), (line, proc.stderr.read() if proc.stderr else "")
    return proc, line.split()[-1]


def test_cli_serves_until_sigterm(cli_env: list[subprocess.Popen[str]]) -> None:
    proc, url = start_cli(cli_env, "--delay-ms", "60")
    assert url.startswith("http://127.0.0.1:")
    client = stripe.StripeClient(
        "sk_test_cli", base_addresses={"api": url}, http_client=stripe.RequestsClient()
    )
    t0 = time.perf_counter()
    cus = client.v1.customers.create({"email": "cli@example.com"})
    assert time.perf_counter() - t0 >= 0.06
    assert client.v1.customers.retrieve(cus.id).email == "cli@example.com"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_cli_tls(cli_env: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    proc, url = start_cli(cli_env, "--tls-cert", str(cert_path), "--tls-key", str(key_path))
    assert url.startswith("https://127.0.0.1:")
    ctx = ssl.create_default_context(cafile=str(ca_path))
    host, port = url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=5)
    conn.request("GET", "/v1/customers", headers={"Authorization": "Bearer sk_test_tls"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["object"] == "list"
    conn.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_cli_refuses_public_bind() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_otel.testing", "--host", "0.0.0.0", "--port", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr
