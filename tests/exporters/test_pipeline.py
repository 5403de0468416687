"""The export pipeline as an app meets it: chosen by OTEL_TRACES_EXPORTER, flushed at exit,
and correct across fork."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_otel.testing import OtlpReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
APPS = Path(__file__).parent / "apps"
PLAIN_APP = ROOT / "tests" / "integration" / "apps" / "plain_app.py"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


def _env(server: Any, **extra: str) -> dict[str, str]:
    return {**os.environ, "STRIPE_TEST_BASE": server.url, "PYTHONPATH": str(ROOT), **extra}


def test_otel_traces_exporter_honeycomb(receiver: OtlpReceiver, server: Any) -> None:
    env = _env(
        server,
        OTEL_TRACES_EXPORTER="honeycomb",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="checkout-service",
        HONEYCOMB_API_KEY="Zx9QvTqL2mTestEnvKey01",
        HONEYCOMB_API_ENDPOINT=receiver.http_endpoint,
        # opentelemetry-distro defaults this to grpc; our receiver's endpoint here is HTTP.
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    command = [
        str(Path(sys.executable).parent / "opentelemetry-instrument"),
        sys.executable,
        str(PLAIN_APP),
    ]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    spans = receiver.wait_for_spans(6, timeout=10)
    names = Counter(s["name"] for s in spans)
    assert names["POST /v1/customers"] == 1
    assert names["stripe.attempt"] == 1
    assert {s["resource"]["service.name"] for s in spans} == {"checkout-service"}
    headers = receiver.requests[0].headers
    assert headers["x-honeycomb-team"] == "Zx9QvTqL2mTestEnvKey01"
    assert "x-honeycomb-dataset" not in headers  # an environment key
    assert "Zx9QvTqL2mTestEnvKey01" not in proc.stderr + proc.stdout  # never logged


def test_fork_exports_each_process_spans_once(receiver: OtlpReceiver, server: Any) -> None:
    env = _env(server, RECEIVER=receiver.http_endpoint)
    proc = subprocess.run(
        [sys.executable, str(APPS / "fork_app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    spans = receiver.wait_for_spans(5, timeout=10)
    names = Counter(s["name"] for s in spans)
    # The span the parent held at fork time is exported by the parent only, once.
    assert names["before-fork"] == 1
    assert names["POST /v1/customers"] == 2  # one from each process
    assert names["stripe.attempt"] == 2
    assert len({s["trace_id"] for s in spans if s["name"] == "POST /v1/customers"}) == 2
