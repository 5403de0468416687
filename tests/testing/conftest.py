"""Fixtures for the Stripe test server's own tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from stripe_otel.testing import StripeTestServer

_GLOBALS = (
    "api_base",
    "api_key",
    "default_http_client",
    "max_network_retries",
    "ca_bundle_path",
    "enable_telemetry",
)


# `server` (the shared test server, emptied before each test) comes from tests/conftest.py.


@pytest.fixture
def global_stripe(server: StripeTestServer) -> Iterator[StripeTestServer]:
    """Global-style SDK state pointed at the server, restored afterwards."""
    saved: dict[str, Any] = {name: getattr(stripe, name) for name in _GLOBALS}
    stripe.api_base = server.url
    stripe.api_key = "sk_test_global"
    stripe.default_http_client = None
    stripe.enable_telemetry = False
    try:
        yield server
    finally:
        client = stripe.default_http_client
        for name, value in saved.items():
            setattr(stripe, name, value)
        if client is not None:
            client.close()


@pytest.fixture(autouse=True)
def _close_http_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every SDK HTTP client a test creates, so no socket outlives its test."""
    created: list[stripe.HTTPClient] = []
    original = stripe.HTTPClient.__init__

    def init(self: stripe.HTTPClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(stripe.HTTPClient, "__init__", init)
    yield
    for client in created:
        with contextlib.suppress(Exception):
            client.close()


@pytest.fixture
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the SDK's 0.5 s+ backoff."""
    monkeypatch.setattr(stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda self, n: 0.0)
