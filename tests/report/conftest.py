"""Fixtures for the report tests: real spans from the instrumented SDK, written to OTLP/JSON
lines files; a TLS Stripe test server for the handshake-dependent findings."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stripe

from stripe_otel import _rtt
from stripe_otel.testing import StripeTestServer
from tests.conftest import Telemetry
from tests.report._otlp import write_otlp

Record = Callable[[str], Path]


@pytest.fixture
def record(instrument: Telemetry, tmp_path: Path) -> Record:
    """``record(name)`` writes the spans finished so far to ``<tmp>/<name>.jsonl`` and
    starts afresh, so one test can build a workload and its control."""

    def write(name: str) -> Path:
        path = write_otlp(instrument.spans(), tmp_path / f"{name}.jsonl")
        instrument.exporter.clear()
        return path

    instrument.exporter.clear()
    return write


@pytest.fixture(scope="module")
def _tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StripeTestServer, str]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with StripeTestServer(ssl_context=context) as server:
        yield server, str(ca_path)


@pytest.fixture
def tls_server(
    _tls_server: tuple[StripeTestServer, str], monkeypatch: pytest.MonkeyPatch
) -> StripeTestServer:
    """An HTTPS Stripe test server the SDK trusts; RTT memory cleared (a new "host")."""
    server, ca_path = _tls_server
    server.reset()
    monkeypatch.setattr(stripe, "ca_bundle_path", ca_path)
    _rtt.forget()
    return server
