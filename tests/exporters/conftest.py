"""Fixtures for the exporter tests: Datadog's real test agent (``ddapm-test-agent``).

The test agent lives in its own venv (it pins ``opentelemetry-proto<1.37``); ``make test``
installs it and passes its path in ``DDAPM_TEST_AGENT``. When it is missing the tests
*fail*: CI must run them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
DDAGENT_BIN = Path(
    os.environ.get("DDAPM_TEST_AGENT") or ROOT / ".venvs" / "ddagent" / "bin" / "ddapm-test-agent"
)
DATADOG_SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
# Checks the agent applies to every payload; a failure answers 400 naming the check.
DATADOG_CHECKS = (
    "trace_count_header,meta_tracer_version_header,trace_content_length,meta_events_is_valid_json"
)
# Snapshots are compared, never silently (re)written, unless this is set to 1.
UPDATE_SNAPSHOTS = os.environ.get("STRIPE_OTEL_UPDATE_SNAPSHOTS") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DatadogTestAgent:
    url: str
    otlp_http_url: str
    log_path: Path

    @staticmethod
    def new_token(label: str) -> str:
        """One session token per test: a bad payload poisons its whole session."""
        return f"{label}-{uuid.uuid4().hex[:8]}"

    def get(self, path: str, base: str | None = None, **query: str) -> tuple[int, str]:
        url = f"{base or self.url}{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def get_json(self, path: str, base: str | None = None, **query: str) -> Any:
        status, body = self.get(path, base, **query)
        assert status == 200, f"GET {path} -> {status}: {body[-3000:]}"
        return json.loads(body)

    def start_session(self, token: str) -> None:
        status, body = self.get("/test/session/start", test_session_token=token)
        assert status == 200, f"session start -> {status}: {body}"

    def traces(self, token: str) -> list[list[dict[str, Any]]]:
        """Traces received in the session (spans grouped by trace id)."""
        result: list[list[dict[str, Any]]] = self.get_json(
            "/test/session/traces", test_session_token=token
        )
        return result

    def requests(self, token: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get_json(
            "/test/session/requests", test_session_token=token
        )
        return result

    def otlp_traces(self, token: str) -> list[dict[str, Any]]:
        """OTLP export requests received in the session, decoded (stored raw, unmapped)."""
        result: list[dict[str, Any]] = self.get_json(
            "/test/session/traces", base=self.otlp_http_url, test_session_token=token
        )
        return result


@pytest.fixture(scope="session")
def datadog_test_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatadogTestAgent]:
    """A ddapm-test-agent on free loopback ports, for the whole session."""
    if not DDAGENT_BIN.exists():
        pytest.fail(
            f"ddapm-test-agent not found at {DDAGENT_BIN}. Install it in its own venv "
            "(`make .venvs/ddagent/bin/ddapm-test-agent`, or `python -m venv .venvs/ddagent && "
            ".venvs/ddagent/bin/pip install ddapm-test-agent==1.69.1`) or set "
            "DDAPM_TEST_AGENT to its path.",
            pytrace=False,
        )
    port, otlp_http, otlp_grpc = _free_port(), _free_port(), _free_port()
    log_path = tmp_path_factory.mktemp("ddagent") / "agent.log"
    env = {
        **os.environ,
        # --enabled-checks is broken in 1.69.1: the variable is what works.
        "ENABLED_CHECKS": DATADOG_CHECKS,
        "SNAPSHOT_DIR": str(DATADOG_SNAPSHOT_DIR),
        "SNAPSHOT_CI": "0" if UPDATE_SNAPSHOTS else "1",
    }
    command = [
        str(DDAGENT_BIN),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--otlp-http-port", str(otlp_http),
        "--otlp-grpc-port", str(otlp_grpc),
        "--snapshot-dir", str(DATADOG_SNAPSHOT_DIR),
        "--snapshot-ci-mode", "0" if UPDATE_SNAPSHOTS else "1",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    agent = DatadogTestAgent(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{otlp_http}", log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"ddapm-test-agent exited ({process.returncode}):\n"
                    f"{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            # The OTLP receiver is a second server, started after the main one.
            if _listening(otlp_http) and _listening(port) and agent.get("/info")[0] == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"ddapm-test-agent did not answer /info:\n{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.05)
        yield agent
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
