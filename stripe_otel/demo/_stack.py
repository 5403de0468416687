"""Where the demo's payments go: a local stand-in for Stripe, or Stripe's own test mode.

The local stand-in is the Stripe test server behind TLS (a throwaway CA from ``trustme``)
and a :class:`~stripe_otel.testing.LatencyProxy`, with per-endpoint processing times, so
that each phase has something realistic to measure: the proxy's delay is the network,
the server's delay is Stripe's processing. TLS matters: a userspace proxy cannot delay
the TCP handshake, so only the TLS handshake carries the round trip the instrumentation
learns the RTT from. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stripe_otel.testing import Fault, LatencyProxy, StripeTestServer

__all__ = [
    "API_KEY",
    "ONE_WAY_MS",
    "PROCESSING_MS",
    "LocalStripe",
    "Trouble",
    "tls_available",
]

#: The key the local server sees; it accepts any test key.
API_KEY = "sk_test_stripe_otel_demo"
#: One-way network delay range, ms: an RTT of about 40 ms, a nearby region's.
ONE_WAY_MS = (15.0, 25.0)
#: Stripe's processing per endpoint, ms: (label, path regex, method, ms). Rules are added in
#: this order and the last matching one wins, so the catch-all comes first.
PROCESSING_MS: tuple[tuple[str, str | None, str | None, float], ...] = (
    ("others", None, None, 40.0),
    ("PaymentIntent create", r"^/v1/payment_intents$", "POST", 60.0),
    ("PaymentIntent confirm", r"^/v1/payment_intents/[^/]+/confirm$", "POST", 250.0),
)
#: The occasional trouble: an error the SDK retries (500; 429 with Stripe-Should-Retry),
#: or a slow answer.
Trouble = Literal["500", "429", "slow"]
_SLOW_EXTRA_MS = 700.0


def tls_available() -> bool:
    return importlib.util.find_spec("trustme") is not None


@dataclass(frozen=True)
class _Tls:
    server: ssl.SSLContext
    ca_pem: bytes


def _make_tls() -> _Tls:
    import trustme  # noqa: PLC0415 - optional: the demo runs without it, over plain HTTP

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return _Tls(context, ca.cert_pem.bytes())


class LocalStripe:
    """The test server (TLS unless ``tls=False``) behind a latency proxy, on 127.0.0.1.

    ``ca_path``: where the throwaway CA is written for the SDK to trust (removed by
    :meth:`stop`). Use as a context manager, or :meth:`start` then :meth:`stop`.
    """

    def __init__(self, ca_path: Path, *, tls: bool, seed: int | None = None) -> None:
        self.tls = tls
        self.ca_path = ca_path if tls else None
        self._rng = random.Random(seed)
        self._server: StripeTestServer | None = None
        self._proxy: LatencyProxy | None = None

    @property
    def server(self) -> StripeTestServer:
        if self._server is None:
            raise RuntimeError("LocalStripe is not started")
        return self._server

    @property
    def url(self) -> str:
        if self._proxy is None:
            raise RuntimeError("LocalStripe is not started")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._proxy.port}"

    def start(self) -> LocalStripe:
        context = None
        if self.tls:
            tls = _make_tls()
            assert self.ca_path is not None
            self.ca_path.write_bytes(tls.ca_pem)
            context = tls.server
        try:
            self._server = StripeTestServer("127.0.0.1", 0, context).start()
            for _, path_regex, method, ms in PROCESSING_MS:
                self._server.set_delay(ms, path_regex, method)
            self._proxy = LatencyProxy(
                "127.0.0.1", self._server.port, one_way_delay_ms=sum(ONE_WAY_MS) / 2
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def jitter(self) -> None:
        """Pick a new one-way delay in :data:`ONE_WAY_MS`, as a real path wanders.

        It applies to every connection from now on (one link for all); the proxy keeps
        each direction in order, so bytes already in flight are not overtaken.
        """
        if self._proxy is not None:
            self._proxy.one_way_delay_ms = self._rng.uniform(*ONE_WAY_MS)

    def make_trouble(self, trouble: Trouble, intent_id: str) -> None:
        """The next confirm of *intent_id* fails once (the SDK retries it) or is slow.

        Aimed at one intent's path, so that under concurrency it is the planned
        transaction that meets it and not whichever request comes next.
        """
        path = rf"^/v1/payment_intents/{re.escape(intent_id)}/confirm$"
        if trouble == "500":
            fault = Fault(status=500, path_regex=path, method="POST")
        elif trouble == "429":
            fault = Fault(status=429, should_retry=True, path_regex=path, method="POST")
        else:
            fault = Fault(action="delay", delay_ms=_SLOW_EXTRA_MS, path_regex=path)
        self.server.add_fault(fault)

    def stop(self) -> None:
        # Proxy first: nothing new reaches the server while it shuts down.
        if self._proxy is not None:
            self._proxy.stop()
        if self._server is not None:
            self._server.stop()
        if self.ca_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.ca_path.unlink()

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
