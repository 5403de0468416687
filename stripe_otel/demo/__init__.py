"""``stripe-otel demo``: see where a payment's time goes, with nothing to sign up for.

Runs a checkout workload (create a PaymentIntent, confirm it, write the order to SQLite,
receive the signed ``payment_intent.succeeded`` webhook) against a local Stripe stand-in
with realistic latency and occasional trouble, or against Stripe's test mode when
``STRIPE_API_KEY=sk_test_...`` is set. Spans go to ``spans.jsonl`` (and to Honeycomb or
Datadog when configured); the run ends with the ``stripe-otel report`` table, findings and
charts. Everything it writes is in the output directory; everything it serves is on
127.0.0.1.

>>> from stripe_otel.demo import DemoOptions, run_demo, render_result   # doctest: +SKIP
>>> result = run_demo(DemoOptions(transactions=20, out=Path("out")), sys.stderr)
>>> print(render_result(result))
"""

from stripe_otel.demo._errors import DemoError, DemoUsageError
from stripe_otel.demo._output import render_result
from stripe_otel.demo._run import OUTPUT_NAMES, DemoOptions, DemoResult, run_demo, stripe_key

__all__ = [
    "OUTPUT_NAMES",
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "DemoUsageError",
    "render_result",
    "run_demo",
    "stripe_key",
]
