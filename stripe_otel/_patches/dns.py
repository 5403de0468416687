"""DNS: ``socket.getaddrinfo``, timed only while a Stripe attempt is being timed.

Synchronous transports resolve in the calling thread, so the attempt's timeline is seen.
asyncio resolves in an executor thread, where it is not: for async calls, DNS time stays
inside ``stripe.network.connect_ms``.
"""

from __future__ import annotations

from stripe_otel._patches.urllib3_transport import _around
from stripe_otel._patching import Patch


def patches() -> list[Patch]:
    return [Patch("socket", "", "getaddrinfo", _around("dns_start", "dns_end"))]
