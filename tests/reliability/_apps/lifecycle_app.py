"""An app the fork/exit/SIGTERM tests run in a child Python process.

``python lifecycle_app.py MODE``; env: ``RECEIVER`` (OTLP/HTTP endpoint), ``STRIPE_TEST_BASE``,
``CALLS`` (calls per process), ``WORKERS``. It sets up the SDK the way an app does
(``stripe_otel.exporters.configure("honeycomb")`` and ``StripeInstrumentor().instrument()``)
with a batch processor that would hold spans for a minute, so only a flush at exit (or
on SIGTERM) can deliver them. It never flushes by itself. Each process's calls run under
an ``app.worker`` span carrying its pid. Lines on stdout tell the test what happened.

Modes:
  workers             queue a span, fork WORKERS workers that each make CALLS calls and
                      exit through SystemExit (as gunicorn's do); then the parent calls too
  exit                make CALLS calls and return from main
  sigterm             make CALLS calls, say "ready", block until killed
  sigterm-app-handler install the app's own SIGTERM handler first, then as sigterm
  sigterm-fork        queue a span, fork one worker that calls and blocks until SIGTERM;
                      the parent reports the worker's exit status and exits normally
"""

from __future__ import annotations

import os
import signal
import sys
import threading

MODE = sys.argv[1]
CALLS = int(os.environ.get("CALLS", "5"))
WORKERS = int(os.environ.get("WORKERS", "3"))
PID_ATTRIBUTE = "app.pid"


def say(*words: object) -> None:
    print(*words, flush=True)


def app_handler(signum: int, frame: object) -> None:
    say("app-handler", signum)
    sys.exit(7)  # a server's way out: SystemExit, so atexit flushes


if MODE == "sigterm-app-handler":
    signal.signal(signal.SIGTERM, app_handler)

import stripe
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider

from stripe_otel import StripeInstrumentor
from stripe_otel.exporters.configure import configure

provider, _ = configure(
    "honeycomb",
    service="lifecycle-app",
    endpoint=os.environ["RECEIVER"],
    protocol="http/protobuf",
    meter_provider=MeterProvider(),  # no metric export: the receiver takes traces
)
StripeInstrumentor().instrument(phases=False)
stripe.api_key = "sk_test_51LifecycleAppKey000000000000000000000000000000"
stripe.api_base = os.environ["STRIPE_TEST_BASE"]
tracer = trace.get_tracer("app")
if MODE == "sigterm-app-handler":
    say("handler-kept", signal.getsignal(signal.SIGTERM) is app_handler)


def work(label: str) -> None:
    with tracer.start_as_current_span("app.worker") as span:
        span.set_attribute(PID_ATTRIBUTE, os.getpid())
        for i in range(CALLS):
            stripe.Customer.create(description=f"{label} {i}")


def block() -> None:
    say("ready", os.getpid())
    threading.Event().wait()  # until a signal ends the process


def main() -> int:
    if MODE == "exit":
        work("exit")
        return 0
    if MODE in ("sigterm", "sigterm-app-handler"):
        work(MODE)
        block()
    if MODE == "workers":
        tracer.start_span("before-fork").end()  # held in the parent's queue
        children = []
        for n in range(WORKERS):
            pid = os.fork()
            if pid == 0:
                work(f"worker {n}")
                sys.exit(0)  # SystemExit in the worker: its atexit flush runs
            children.append(pid)
        say("workers", *children)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        say("statuses", *statuses)
        work("parent")
        return 0
    if MODE == "sigterm-fork":
        tracer.start_span("before-fork").end()
        pid = os.fork()
        if pid == 0:
            work("forked")
            block()
        _, status = os.waitpid(pid, 0)
        say("child-status", os.waitstatus_to_exitcode(status))
        return 0
    raise SystemExit(f"unknown mode {MODE}")


if __name__ == "__main__":
    sys.exit(main())
