"""Processes end and fork; spans survive.

A preforked worker (``os.fork`` after instrumenting, as ``gunicorn --preload`` does)
exports its own spans, and the parent's queue is not duplicated; a normal interpreter
exit flushes every finished span; so does SIGTERM (stripe-otel's handler, when the
process still has the default one), and the process still dies by SIGTERM. The app runs
in a child Python process (``_apps/lifecycle_app.py``) exporting through our Honeycomb
exporter to an :class:`OtlpReceiver` here. The app's batch processor would hold spans for
a minute and the app never flushes: only exit/SIGTERM handling can deliver them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_otel import StripeInstrumentor, _shutdown, semconv
from stripe_otel.testing import OtlpReceiver, StripeTestServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
APP = Path(__file__).parent / "_apps" / "lifecycle_app.py"
PID_ATTRIBUTE = "app.pid"  # the app's own attribute on its app.worker span
OPERATION = "POST /v1/customers"
CALLS = 4


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


def _env(server: StripeTestServer, receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "STRIPE_OTEL_"))}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "STRIPE_TEST_BASE": server.url,
        "RECEIVER": receiver.http_endpoint,
        "CALLS": str(CALLS),
        # Nothing leaves before the end unless something flushes.
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        **extra,
    }


def _start(mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APP), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], before: list[str] | None = None) -> int:
    """The pid of the process that said "ready"; what it said first goes to *before*."""
    assert proc.stdout is not None
    for line in proc.stdout:
        words = line.split()
        if words and words[0] == "ready":
            return int(words[1])
        if before is not None:
            before.append(line)
    proc.wait(timeout=30)
    raise AssertionError(f"the app never got ready: {proc.stderr.read() if proc.stderr else ''}")


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _by_pid(spans: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each process's app.worker span, by the pid it recorded."""
    workers = [s for s in spans if s["name"] == "app.worker"]
    found = {int(s["attributes"][PID_ATTRIBUTE]): s for s in workers}
    assert len(found) == len(workers), "two app.worker spans from one process"
    return found


def _operations_under(spans: list[dict[str, Any]], worker: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in spans
        if s["name"] == OPERATION
        and s["trace_id"] == worker["trace_id"]
        and s["parent_span_id"] == worker["span_id"]
    ]


def _assert_each_once(spans: list[dict[str, Any]]) -> None:
    ids = Counter(s["span_id"] for s in spans)
    assert not [i for i, n in ids.items() if n > 1], "a span arrived twice"


def test_preforked_workers_export_their_own_spans_once(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    workers = 3
    proc = _start("workers", _env(server, receiver, WORKERS=str(workers)))
    code, out, err = _finish(proc)
    assert code == 0, err
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    worker_pids = {int(p) for p in lines["workers"]}
    assert lines["statuses"] == ["0"] * workers, err
    # Per process: one app.worker span, CALLS operations and their attempts.
    expected = (workers + 1) * (1 + 2 * CALLS) + 1
    spans = receiver.wait_for_spans(expected, timeout=30)
    _assert_each_once(spans)
    names = Counter(s["name"] for s in spans)
    assert names["before-fork"] == 1  # the parent's queued span: once, not once per worker
    by_pid = _by_pid(spans)
    assert set(by_pid) == worker_pids | {proc.pid}
    for worker in by_pid.values():
        operations = _operations_under(spans, worker)
        assert len(operations) == CALLS  # each process's calls, under its own span
        for operation in operations:
            attempts = [
                s
                for s in spans
                if s["name"] == semconv.SPAN_ATTEMPT and s["parent_span_id"] == operation["span_id"]
            ]
            assert len(attempts) == 1
            assert attempts[0]["trace_id"] == worker["trace_id"]
    assert names[OPERATION] == (workers + 1) * CALLS
    assert len(spans) == expected


def test_normal_exit_flushes_every_finished_span(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    code, _, err = _finish(_start("exit", _env(server, receiver, CALLS="20")))
    assert code == 0, err
    spans = receiver.wait_for_spans(1 + 2 * 20, timeout=30)
    _assert_each_once(spans)
    (worker,) = _by_pid(spans).values()
    assert len(_operations_under(spans, worker)) == 20


def test_sigterm_flushes_then_dies_by_sigterm(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    proc = _start("sigterm", _env(server, receiver))
    _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc)
    assert code == -signal.SIGTERM, err  # still killed by the signal, as without us
    spans = receiver.wait_for_spans(1 + 2 * CALLS, timeout=30)
    _assert_each_once(spans)
    (worker,) = _by_pid(spans).values()
    assert len(_operations_under(spans, worker)) == CALLS


def test_sigterm_without_the_flush_loses_the_spans(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    # What the handler is for: with it turned off, SIGTERM's default action loses them.
    proc = _start("sigterm", _env(server, receiver, STRIPE_OTEL_FLUSH_ON_SIGTERM="false"))
    _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc)
    assert code == -signal.SIGTERM, err
    assert not [s for s in receiver.spans if s["name"] == OPERATION]


def test_an_apps_own_sigterm_handler_is_left_alone(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    proc = _start("sigterm-app-handler", _env(server, receiver))
    said: list[str] = []
    _wait_ready(proc, said)
    proc.send_signal(signal.SIGTERM)
    code, out, err = _finish(proc)
    assert "handler-kept True\n" in said  # instrumenting did not replace it
    assert f"app-handler {int(signal.SIGTERM)}" in out  # and it is what ran
    assert code == 7, err  # the app's own exit status
    # It exits through SystemExit, so the SDK's atexit flush delivers the spans.
    spans = receiver.wait_for_spans(1 + 2 * CALLS, timeout=30)
    (worker,) = _by_pid(spans).values()
    assert len(_operations_under(spans, worker)) == CALLS


def test_sigterm_in_a_forked_worker_flushes_its_own_spans(
    receiver: OtlpReceiver, server: StripeTestServer
) -> None:
    proc = _start("sigterm-fork", _env(server, receiver))
    child = _wait_ready(proc)
    assert child != proc.pid
    os.kill(child, signal.SIGTERM)
    code, out, err = _finish(proc)
    assert code == 0, err
    assert f"child-status {-int(signal.SIGTERM)}" in out  # the worker died by SIGTERM
    spans = receiver.wait_for_spans(1 + 2 * CALLS + 1, timeout=30)
    _assert_each_once(spans)
    assert Counter(s["name"] for s in spans)["before-fork"] == 1  # from the parent only
    by_pid = _by_pid(spans)
    assert set(by_pid) == {child}
    assert len(_operations_under(spans, by_pid[child])) == CALLS


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_handler_replaces_only_the_default_and_only_from_the_main_thread(
    default_sigterm: None,
) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    assert not _shutdown.install()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from_thread: list[bool] = []
    thread = threading.Thread(target=lambda: from_thread.append(_shutdown.install()))
    thread.start()
    thread.join()
    assert from_thread == [False]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert _shutdown.install() and _shutdown.installed()
    _shutdown.uninstall()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_instrument_installs_it_per_the_knob_and_uninstrument_removes_it(
    default_sigterm: None, telemetry: Any
) -> None:
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.provider, flush_on_sigterm=False)
    try:
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=telemetry.provider)
    try:
        assert _shutdown.installed()
    finally:
        instrumentor.uninstrument()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
