"""Instrument, end a span the batch processor still holds, then fork (as gunicorn --preload
does). The child makes its own call; both exit normally, which must flush what they hold."""

import os
import sys

import stripe
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from stripe_otel import StripeInstrumentor
from stripe_otel.exporters.honeycomb import honeycomb_exporter

provider = TracerProvider(resource=Resource.create({"service.name": "fork-app"}))
# A long schedule delay: nothing is exported before the fork unless something flushes.
provider.add_span_processor(
    BatchSpanProcessor(
        honeycomb_exporter(endpoint=os.environ["RECEIVER"]), schedule_delay_millis=60_000
    )
)
trace.set_tracer_provider(provider)
StripeInstrumentor().instrument(tracer_provider=provider, phases=False)
stripe.api_key = "sk_test_51ForkAppKey0000000000000000000000000000000000"
stripe.api_base = os.environ["STRIPE_TEST_BASE"]

trace.get_tracer("app").start_span("before-fork").end()  # held in the parent's queue
pid = os.fork()
if pid == 0:
    stripe.Customer.create(description="child")
    provider.shutdown()  # what the SDK's atexit hook does in a normal exit
    os._exit(0)
stripe.Customer.create(description="parent")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))  # the parent's atexit shutdown flushes
