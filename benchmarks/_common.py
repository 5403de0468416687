"""Pieces every benchmark shares: the Stripe test server in a subprocess, a discarding
exporter, telemetry providers, RSS, and a description of the machine."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

REPO = Path(__file__).resolve().parent.parent


class DiscardingExporter(SpanExporter):
    """Takes every batch and keeps only a count: the cost measured is the instrumentation's."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


class Configuration(NamedTuple):
    """One way of running the same call: how to turn it on and off between blocks."""

    on: Callable[[], None]
    off: Callable[[], None]
    #: Spans (for ddtrace: traces) produced so far, after a flush; None when not counted.
    produced: Callable[[], int | None] = lambda: None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stripe_server(delay_ms: float = 0.0) -> Iterator[str]:
    """The Stripe test server in its own process (its CPU is not under our GIL)."""
    port = free_port()
    command = [sys.executable, "-m", "stripe_otel.testing", "--port", str(port)]
    if delay_ms:
        command += ["--delay-ms", str(delay_ms)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def telemetry(
    sampled: bool = True, processor: str = "batch"
) -> tuple[dict[str, Any], Callable[[], int]]:
    """tracer_provider and meter_provider keyword arguments for an instrumentor, and a
    function returning how many spans reached the (discarding) exporter so far."""
    tracer_provider = TracerProvider(sampler=None if sampled else ALWAYS_OFF)
    exporter = DiscardingExporter()
    if processor == "batch":
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def produced() -> int:
        tracer_provider.force_flush()
        return exporter.spans

    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}, produced


def providers(sampled: bool = True, processor: str = "batch") -> dict[str, Any]:
    """tracer_provider and meter_provider keyword arguments for StripeInstrumentor."""
    return telemetry(sampled, processor)[0]


def rss_mib() -> float:
    """This process's resident set size now (not the peak), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of *values* (fraction in 0..1)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return round(int(found.group(1)) / 1024 / 1024, 1) if found else None


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        found = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.MULTILINE)
        if found:
            return f"{found.group(1)} (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{out}{' (with uncommitted changes)' if dirty else ''}"


_PACKAGES = (
    "stripe-otel",
    "stripe",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-exporter-otlp-proto-http",
    "ddtrace",
    "httpx",
    "requests",
)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": _ram_gib(),
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": _git_commit(),
        "load_average_at_start": load,
    }


def timed(seconds_since: float) -> float:
    return round(time.perf_counter() - seconds_since, 1)


def report_out(
    summary: dict[str, Any], render: Callable[[dict[str, Any]], str], path: str | None
) -> None:
    """Print a benchmark's Markdown and, if asked (``--json``), write its summary."""
    print(render(summary))
    if path:
        with open(path, "w") as fh:
            json.dump(summary, fh, indent=2)
