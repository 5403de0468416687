"""The ways an app calls Stripe, as small functions the tests can run in every combination.

Each style creates a PaymentIntent and confirms it; the transports are the SDK's own
HTTP clients. Keeping them here lets the call-style, fail-open and PCI tests share one
definition of "every call style".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import stripe

from stripe_otel._headers import header
from tests.conftest import TEST_KEY

SYNC_TRANSPORTS = ("requests", "httpx", "urllib")
ASYNC_TRANSPORTS = ("httpx", "aiohttp", "default")
STYLES = ("global", "instance", "client")

# The name stripe-otel must report in `stripe.http_client` for each configured transport.
EFFECTIVE_NAME = {
    "requests": "requests",
    "httpx": "httpx",
    "urllib": "urllib.request",
    "aiohttp": "aiohttp",
    # The default client is RequestsClient, whose async calls go to an internal HTTPXClient.
    "default": "httpx",
}


def http_client(transport: str) -> stripe.HTTPClient | None:
    if transport == "requests":
        return stripe.RequestsClient()
    if transport == "httpx":
        return stripe.HTTPXClient(allow_sync_methods=True)
    if transport == "urllib":
        return stripe.UrllibClient()
    if transport == "aiohttp":
        return stripe.AIOHTTPClient()
    return None  # the SDK's default


def stripe_client(base_url: str, transport: str, **kwargs: Any) -> stripe.StripeClient:
    return stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": base_url, "files": base_url},
        http_client=http_client(transport),
        **kwargs,
    )


def use_global_transport(transport: str) -> None:
    stripe.default_http_client = http_client(transport)


@dataclass(frozen=True)
class Facts:
    """What the app saw of one response (taken at once: instance methods update in place)."""

    id: str
    status: str
    request_id: str | None
    idempotency_key: str | None
    api_version: str | None


def facts(obj: Any) -> Facts:
    response = obj.last_response
    return Facts(
        obj.id,
        obj.status,
        response.request_id,
        response.idempotency_key,
        header(response.headers, "Stripe-Version"),
    )


PI_PARAMS: dict[str, Any] = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}


def create_and_confirm(
    style: str, base_url: str, transport: str, payment_method: str = "pm_card_visa", **params: Any
) -> tuple[Facts, Facts]:
    """Create and confirm a PaymentIntent in *style*; return both objects."""
    if style == "client":
        client = stripe_client(base_url, transport)
        pi = client.v1.payment_intents.create(params={**PI_PARAMS, **params})
        created = facts(pi)
        return created, facts(
            client.v1.payment_intents.confirm(pi.id, params={"payment_method": payment_method})
        )
    use_global_transport(transport)
    pi = stripe.PaymentIntent.create(**PI_PARAMS, **params)
    created = facts(pi)
    if style == "instance":
        return created, facts(pi.confirm(payment_method=payment_method))
    return created, facts(stripe.PaymentIntent.confirm(pi.id, payment_method=payment_method))


async def create_and_confirm_async(
    style: str, base_url: str, transport: str, payment_method: str = "pm_card_visa", **params: Any
) -> tuple[Facts, Facts]:
    if style == "client":
        client = stripe_client(base_url, transport)
        pi = await client.v1.payment_intents.create_async(params={**PI_PARAMS, **params})
        created = facts(pi)
        confirmed = await client.v1.payment_intents.confirm_async(
            pi.id, params={"payment_method": payment_method}
        )
        return created, facts(confirmed)
    use_global_transport(transport)
    pi = await stripe.PaymentIntent.create_async(**PI_PARAMS, **params)
    created = facts(pi)
    if style == "instance":
        return created, facts(await pi.confirm_async(payment_method=payment_method))
    confirmed = await stripe.PaymentIntent.confirm_async(pi.id, payment_method=payment_method)
    return created, facts(confirmed)


SyncCall = Callable[[], Any]
AsyncCall = Callable[[], Awaitable[Any]]
