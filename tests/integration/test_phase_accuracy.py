"""How close is the api_processing estimate to the truth? Measured through a proxy that
injects one-way delay D between the SDK and the Stripe test server (which adds delay S).

Stripe is always HTTPS, so the main matrix runs over TLS: the TLS handshake crosses the
proxy and so carries the 2D round trip. A userspace proxy cannot delay the TCP handshake
itself (the kernel answers it), so over plain HTTP the RTT is invisible to any client-side
method; that case runs with D = 0 only.

Run as a script to print the error table quoted in docs/phases.md:
    .venv/bin/python -m tests.integration.test_phase_accuracy
"""

from __future__ import annotations

import json
import socket
import ssl
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_otel import StripeInstrumentor, _rtt
from stripe_otel import semconv as sc
from stripe_otel.testing import LatencyProxy
from tests.conftest import TEST_KEY, Telemetry

trustme = pytest.importorskip("trustme")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DELAYS_MS = (0.0, 10.0, 40.0)
SERVER_MS = (0.0, 50.0, 200.0)
TRANSPORTS = ("requests", "httpx")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Case:
    transport: str
    one_way_ms: float
    server_ms: float
    reused: bool
    api_ms: float
    network_ms: float
    attempt_ms: float

    @property
    def api_error_ms(self) -> float:
        return self.api_ms - self.server_ms

    @property
    def true_network_ms(self) -> float:
        # What is not Stripe's processing in the attempt is the network's (and the client's).
        return self.attempt_ms - self.server_ms

    @property
    def network_error_ms(self) -> float:
        return self.network_ms - self.true_network_ms


class Rig:
    """A Stripe test server in its own process (as Stripe is another machine: sharing our
    GIL would distort both sides), optionally over TLS, and a way to run calls to it
    through a latency proxy."""

    def __init__(self, tmp: Path, tls: bool) -> None:
        self.tls = tls
        ca = trustme.CA()
        self.ca_path = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self.port = _free_port()
        command = [sys.executable, "-m", "stripe_otel.testing", "--port", str(self.port)]
        if tls:
            cert = ca.issue_cert("127.0.0.1", "localhost")
            cert.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
            cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
            command += ["--tls-cert", str(tmp / "cert.pem"), "--tls-key", str(tmp / "key.pem")]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert "listening" in self.process.stdout.readline()
        self.control = ssl.create_default_context(cafile=str(self.ca_path)) if tls else None

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def set_delay(self, ms: float) -> None:
        scheme = "https" if self.tls else "http"
        request = urllib.request.Request(
            f"{scheme}://localhost:{self.port}/_control/delay",
            data=json.dumps({"ms": ms}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5, context=self.control).close()

    def run(
        self, telemetry: Telemetry, transport: str, one_way_ms: float, server_ms: float
    ) -> list[Case]:
        """Two calls on one fresh client: the first opens a connection, the second reuses it."""
        self.set_delay(server_ms)
        scheme = "https" if self.tls else "http"
        with LatencyProxy("127.0.0.1", self.port, one_way_delay_ms=one_way_ms) as proxy:
            _rtt.forget()  # a new "host": learn its RTT from scratch
            http_client = (
                stripe.RequestsClient()
                if transport == "requests"
                else stripe.HTTPXClient(allow_sync_methods=True)
            )
            client = stripe.StripeClient(
                TEST_KEY,
                base_addresses={"api": f"{scheme}://localhost:{proxy.port}"},
                http_client=http_client,
            )
            cases = []
            for reused in (False, True):
                telemetry.exporter.clear()
                client.v1.customers.create()
                [op] = telemetry.operations()
                [attempt] = telemetry.attempts(op)
                attrs = op.attributes or {}
                cases.append(
                    Case(
                        transport,
                        one_way_ms,
                        server_ms,
                        reused,
                        attrs[sc.STRIPE_PHASE_API_PROCESSING_MS],
                        attrs[sc.STRIPE_PHASE_NETWORK_MS],
                        (attempt.end_time - attempt.start_time) / 1e6,  # type: ignore[operator]
                    )
                )
            assert proxy.connections_opened == 1, "the second call did not reuse the connection"
            return cases


@pytest.fixture(scope="module")
def tls_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("tls"), tls=True)
    previous = stripe.ca_bundle_path
    stripe.ca_bundle_path = str(rig.ca_path)
    yield rig
    stripe.ca_bundle_path = previous
    rig.close()


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    yield telemetry
    StripeInstrumentor().uninstrument()


#: Measurements per case; the median is held to the bound. One sample is at the mercy of
#: whatever else the test process does at that instant (another test's daemon thread taking
#: the GIL between the response arriving and its timestamp): once in CI a single sample
#: was 3.4 ms off where the quiet-machine maximum over 50 runs was 1.2 ms.
REPEATS = 3


def _check(runs: list[list[Case]]) -> None:
    """*runs*: REPEATS results of Rig.run (a new-connection and a reused-connection case)."""
    for cases in zip(*runs, strict=True):  # the new cases together, then the reused ones
        case = cases[0]
        api_error = statistics.median(c.api_error_ms for c in cases)
        network_error = statistics.median(c.network_error_ms for c in cases)
        api_tolerance = max(3.0, 0.1 * case.server_ms)
        net_tolerance = max(3.0, 0.1 * case.true_network_ms)
        assert abs(api_error) <= api_tolerance, cases
        assert abs(network_error) <= net_tolerance, cases


@pytest.mark.parametrize("server_ms", SERVER_MS)
@pytest.mark.parametrize("one_way_ms", DELAYS_MS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_estimate_within_bounds_over_tls(
    transport: str, one_way_ms: float, server_ms: float, tls_rig: Rig, instrumented: Telemetry
) -> None:
    _check([tls_rig.run(instrumented, transport, one_way_ms, server_ms) for _ in range(REPEATS)])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_estimate_over_plain_http_without_delay(
    transport: str, tmp_path: Path, instrumented: Telemetry
) -> None:
    rig = Rig(tmp_path, tls=False)
    try:
        _check([rig.run(instrumented, transport, 0.0, 50.0) for _ in range(REPEATS)])
    finally:
        rig.close()


def _table(cases: list[Case]) -> str:
    lines = [
        "| transport | D one-way ms | S server ms | connection "
        "| api_processing error ms | network error ms |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(
            f"| {c.transport} | {c.one_way_ms:.0f} | {c.server_ms:.0f} | "
            f"{'reused' if c.reused else 'new'} | "
            f"{c.api_error_ms:+.2f} | {c.network_error_ms:+.2f} |"
        )
    errors = [abs(c.api_error_ms) for c in cases]
    lines.append(
        f"\napi_processing |error|: median {statistics.median(errors):.2f} ms, "
        f"max {max(errors):.2f} ms over {len(cases)} calls"
    )
    return "\n".join(lines)


def main() -> None:
    import tempfile

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(provider, exporter, None, None)  # type: ignore[arg-type]
    StripeInstrumentor().instrument(tracer_provider=provider)
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(Path(tmp), tls=True)
        stripe.ca_bundle_path = str(rig.ca_path)
        cases: list[Any] = []
        try:
            for transport in TRANSPORTS:
                for d in DELAYS_MS:
                    for s in SERVER_MS:
                        cases += rig.run(telemetry, transport, d, s)
        finally:
            rig.close()
    print(_table(cases))


if __name__ == "__main__":
    main()
