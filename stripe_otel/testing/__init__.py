"""A Stripe-compatible HTTP server on 127.0.0.1 for tests, demos and benchmarks.

>>> from stripe_otel.testing import StripeTestServer, Fault
>>> with StripeTestServer() as srv:          # doctest: +SKIP
...     stripe.api_base = srv.url
...     srv.add_fault(Fault(status=500))
...     srv.set_delay(25, path_regex=r"^/v1/payment_intents")

It speaks Stripe's wire format (form-encoded v1, JSON v2, Stripe's headers and error
bodies, idempotent replay, list cursors) well enough for the real ``stripe`` SDK on every
transport. A JSON control API under ``/_control/`` drives a server in another process:
``POST /_control/reset``, ``POST /_control/delay``, ``POST /_control/faults``,
``GET /_control/requests``, ``GET /_control/health``. :meth:`StripeTestServer.add_webhook_endpoint`
delivers the events it records as signed webhooks to a loopback URL.
"""

from ._app import RecordedRequest
from ._faults import Fault
from ._latency_proxy import LatencyProxy
from ._otlp_receiver import OtlpReceiver, ReceivedRequest
from ._server import DEFAULT_API_VERSION, StripeTestServer
from ._webhooks import WebhookDelivery

__all__ = [
    "DEFAULT_API_VERSION",
    "Fault",
    "LatencyProxy",
    "OtlpReceiver",
    "ReceivedRequest",
    "RecordedRequest",
    "StripeTestServer",
    "WebhookDelivery",
]
