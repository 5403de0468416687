"""One demo run, start to finish: set up, run the checkouts, tear down, report.

Tear-down order matters: workers first (a call in flight finishes rather than failing
into the SDK's retry backoff), then the webhook endpoint and the Stripe stand-in, then the
telemetry (which exports everything still queued), and only then the report, which reads
the finished spans file.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from stripe_otel.demo import _db
from stripe_otel.demo._errors import DemoError, DemoUsageError
from stripe_otel.demo._progress import Progress
from stripe_otel.demo._report import SUMMARY, Report, build_report
from stripe_otel.demo._stack import API_KEY, LocalStripe, tls_available
from stripe_otel.demo._telemetry import Telemetry
from stripe_otel.demo._webhooks import WebhookReceiver
from stripe_otel.demo._workload import Checkout, Tally, Workload, plan

if TYPE_CHECKING:
    import stripe

__all__ = ["OUTPUT_NAMES", "DemoOptions", "DemoResult", "run_demo", "stripe_key"]

SPANS = "spans.jsonl"
ORDERS = "orders.sqlite"
_CA = ".demo-ca.pem"  # the throwaway CA, only while the run lasts
#: Files a run writes (or may leave from an earlier run) in --out; nothing else is touched.
#: (The two charts are named by stripe-otel report's write_charts.)
OUTPUT_NAMES = (SPANS, ORDERS, f"{ORDERS}-wal", f"{ORDERS}-shm", SUMMARY, "phases.png",
                "slowest-transaction.png", _CA)  # fmt: skip
_WEBHOOK_WAIT_S = 15.0
_WORKER_JOIN_S = 10.0


@dataclass(frozen=True)
class DemoOptions:
    transactions: int = 200
    concurrency: int = 8
    out: Path = Path("stripe-otel-demo")
    seed: int | None = None
    tls: bool = True
    quiet: bool = False


@dataclass
class DemoResult:
    out: Path
    seed: int
    tally: Tally
    seconds: float
    orders: int
    webhooks: int | None  # None: no webhooks in this mode
    mode: str  # "local" (the stand-in) or "stripe" (test mode)
    tls: bool
    report: Report = field(default_factory=Report)
    vendors: list[str] = field(default_factory=list)  # where else the spans went
    notes: list[str] = field(default_factory=list)


def stripe_key(environ: Mapping[str, str]) -> str | None:
    """The Stripe test-mode key to use instead of the local stand-in, if any.

    Live keys are refused: the demo creates and confirms payments.
    """
    key = environ.get("STRIPE_API_KEY", "").strip()
    if not key:
        return None
    if key.startswith(("sk_live_", "rk_live_")):
        raise DemoUsageError(
            "STRIPE_API_KEY is a live key: the demo makes payments, so it only takes a "
            "test-mode key (sk_test_...); unset it to use the local Stripe stand-in"
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise DemoUsageError("STRIPE_API_KEY must be a test-mode secret key (sk_test_...)")
    return key


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        # spans.jsonl is appended to and the orders table must start empty: a rerun
        # starts from a clean slate, but only the demo's own files are removed.
        for name in OUTPUT_NAMES:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
    except OSError as exc:
        raise DemoError(f"cannot write to --out {out}: {exc.strerror or exc}") from None


def _setup(options: DemoOptions, env: Mapping[str, str]) -> tuple[DemoResult, str | None]:
    """Check the options, clear --out, pick the mode: (result so far, Stripe key or None)."""
    if options.transactions < 1:
        raise DemoUsageError("--transactions must be at least 1")
    if not 1 <= options.concurrency <= 64:
        raise DemoUsageError("--concurrency must be between 1 and 64")
    key = stripe_key(env)
    out = options.out.absolute()
    _prepare_out(out)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(10**6)
    local = key is None
    tls = local and options.tls and tls_available()
    result = DemoResult(out, seed, Tally(), 0.0, 0, None, "local" if local else "stripe", tls)
    if local and not tls:
        why = (
            "--no-tls" if not options.tls else 'trustme is missing: pip install "stripe-otel[demo]"'
        )
        result.notes.append(
            f"plain HTTP ({why}): the round trip is learnt from the TLS handshake, so here "
            "it cannot be seen and counts as Stripe processing"
        )
    if not local:
        result.notes.append(
            "Stripe test mode: no injected trouble, and no webhooks (Stripe cannot reach "
            "127.0.0.1; the local stand-in delivers them)"
        )
    return result, key


def run_demo(
    options: DemoOptions, stderr: TextIO, environ: Mapping[str, str] | None = None
) -> DemoResult:
    """Run the demo; raises DemoError (DemoUsageError) with a one-line reason."""
    env = os.environ if environ is None else environ
    result, key = _setup(options, env)
    out = result.out
    db_path = out / ORDERS
    _db.create_schema(db_path)
    telemetry = Telemetry(out / SPANS, env)
    result.notes += telemetry.notes
    result.vendors = telemetry.vendors
    try:
        _run_checkouts(options, result, key, telemetry, stderr)
    finally:
        telemetry.shutdown()  # every span exported and the file closed, even on Ctrl-C
    result.orders = _db.count_orders(db_path)
    if result.tally.ok == 0:
        first = result.tally.errors[0] if result.tally.errors else "no error recorded"
        raise DemoError(f"no checkout succeeded ({first}); spans are in {out / SPANS}")
    result.report = build_report(out / SPANS, out)
    return result


def _run_checkouts(
    options: DemoOptions,
    result: DemoResult,
    key: str | None,
    telemetry: Telemetry,
    stderr: TextIO,
) -> None:
    import stripe  # noqa: PLC0415 - the package imports without stripe installed

    out = result.out
    saved_ca_bundle = stripe.ca_bundle_path
    stack: LocalStripe | None = None
    receiver: WebhookReceiver | None = None
    workload: Workload | None = None
    progress = Progress(options.transactions, stderr, enabled=not options.quiet)
    started = time.monotonic()
    try:
        telemetry.instrument()
        if key is None:
            stack = LocalStripe(out / _CA, tls=result.tls, seed=result.seed).start()
            receiver = WebhookReceiver(out / ORDERS, telemetry.provider).start()
            receiver.secret = stack.server.add_webhook_endpoint(
                receiver.url, events=["payment_intent.succeeded"], delivery_delay_ms=100
            )
            if stack.ca_path is not None:
                # Read by the SDK's HTTP clients on every request; restored below.
                stripe.ca_bundle_path = str(stack.ca_path)
        # StripeClient does not retry unless told to (the global-style API does, twice);
        # retried 500s and 429s are part of what the demo shows.
        client = stripe.StripeClient(
            key or API_KEY,
            base_addresses={"api": stack.url} if stack is not None else None,
            max_network_retries=2,
        )
        checkouts = plan(options.transactions, result.seed, trouble=stack is not None)
        workload = _workload(client, checkouts, options, out / ORDERS, telemetry, stack)
        result.tally = workload.tally
        _watch(workload, receiver, progress)
    except KeyboardInterrupt:
        if workload is not None:
            workload.stop()
            progress.interrupt(f"interrupted after {workload.tally.done} checkouts; stopping")
        raise
    finally:
        result.seconds = time.monotonic() - started
        if workload is not None:
            workload.stop()
            workload.join(_WORKER_JOIN_S)
        if receiver is not None:
            result.webhooks = receiver.handled
            receiver.stop()
        if stack is not None:
            stack.stop()
        stripe.ca_bundle_path = saved_ca_bundle


def _workload(
    client: stripe.StripeClient,
    checkouts: list[Checkout],
    options: DemoOptions,
    db_path: Path,
    telemetry: Telemetry,
    stack: LocalStripe | None,
) -> Workload:
    def arm(checkout: Checkout, intent_id: str) -> None:
        if stack is not None and checkout.trouble is not None:
            stack.make_trouble(checkout.trouble, intent_id)

    return Workload(
        client,
        checkouts,
        options.concurrency,
        db_path,
        telemetry.provider,
        before_confirm=arm if stack is not None else None,
        before_each=stack.jitter if stack is not None else None,
    ).start()


def _watch(workload: Workload, receiver: WebhookReceiver | None, progress: Progress) -> None:
    """Draw progress until the checkouts are done and their webhooks are in."""
    # Short waits, not one long one: the bar moves, and Ctrl-C reaches the main thread.
    while not workload.join(0.1):
        progress.update(*workload.tally.snapshot())
    note = ""
    if receiver is not None:
        paid = workload.tally.paid
        if not receiver.wait(paid, _WEBHOOK_WAIT_S):
            note = f"webhooks {receiver.handled}/{paid} (timed out)"
        else:
            note = f"webhooks {receiver.handled}/{paid}"
    progress.finish(*workload.tally.snapshot(), note=note)
