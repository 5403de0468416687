"""StripeTestServer: the app and the protocol on an asyncio loop in a daemon thread."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ._app import App, RecordedRequest
from ._faults import Fault
from ._http import HttpProtocol
from ._webhooks import WebhookDelivery, WebhookDispatcher

__all__ = ["DEFAULT_API_VERSION", "StripeTestServer"]

#: What stripe 16.1.0 pins (``stripe._api_version._ApiVersion.CURRENT``); the SDK sends
#: its own ``Stripe-Version`` on every request, which the server echoes.
DEFAULT_API_VERSION = "2026-10-28.endive"


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"StripeTestServer binds loopback addresses only, not {host!r}") from None
    if not addr.is_loopback:
        raise ValueError(f"StripeTestServer binds loopback addresses only, not {host!r}")
    return host


class StripeTestServer:
    """A Stripe-compatible HTTP(S) server on 127.0.0.1 for tests and benchmarks.

    Point the SDK at :attr:`url` (``stripe.api_base`` or ``StripeClient(base_addresses=
    {"api": url})``). Objects live in memory; :meth:`reset` clears everything.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        api_version: str = DEFAULT_API_VERSION,
        *,
        max_recorded_requests: int = 100_000,
    ) -> None:
        self._host = _loopback_host(host)
        self._requested_port = port
        self._ssl = ssl_context
        self._app = App(api_version, max_recorded=max_recorded_requests)
        self._webhooks = WebhookDispatcher()
        self._app.store.event_listeners.append(self._webhooks.on_event)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[HttpProtocol] = set()
        self._port: int | None = None
        self._stopped = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> StripeTestServer:
        """Start listening; returns once the socket is bound. Raises if binding fails."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("StripeTestServer already started")
            ready = threading.Event()
            errors: list[BaseException] = []
            self._thread = threading.Thread(
                target=self._run, args=(ready, errors), name="stripe-test-server", daemon=True
            )
            self._thread.start()
            ready.wait()
            if errors:
                self._thread.join()
                self._thread = None
                raise errors[0]
        return self

    def _run(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        handle = self._webhooks.wrap(self._app.handle)

        def factory() -> HttpProtocol:
            return HttpProtocol(handle, self._connections, time.time)

        try:
            server = loop.run_until_complete(
                loop.create_server(
                    factory, self._host, self._requested_port, ssl=self._ssl, backlog=1024
                )
            )
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            errors.append(exc)
            loop.close()
            self._loop = None
            ready.set()
            return
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown(server))
            loop.close()

    async def _shutdown(self, server: asyncio.Server) -> None:
        # Let the selector hand over connections the kernel has already accepted, so
        # that they are closed rather than left hanging in the listen backlog.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        server.close()
        # Connections still being accepted show up a callback or two later.
        me = asyncio.current_task()
        for _ in range(3):
            for conn in list(self._connections):
                conn.close()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)
        await server.wait_closed()

    def stop(self) -> None:
        """Close the listener and every connection. Safe to call more than once."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None or self._stopped:
                return
            self._stopped = True
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def __enter__(self) -> StripeTestServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("StripeTestServer is not started")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}"

    @property
    def api_version(self) -> str:
        return self._app.api_version

    # -- control -----------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Forget objects, faults, delays, recorded requests, idempotency keys, webhook
        endpoints and deliveries.

        With ``seed``, ids, request ids and other random values are drawn from that seed
        from now on, so the same requests get the same answers (timestamps aside). The
        generator is shared by every server in the process.
        """
        self._app.reset(seed)
        self._webhooks.reset()

    def set_delay(
        self, ms: float, path_regex: str | None = None, method: str | None = None
    ) -> None:
        """Delay responses to matching requests by ``ms`` after reading them.

        Rules accumulate; the most recently added matching rule wins, so
        ``set_delay(0)`` turns delays off for everything.
        """
        self._app.delays_add(ms, path_regex, method)

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults are matched in the order they were added."""
        self._app.add_fault(fault)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received (control API excluded), oldest first."""
        with self._app.lock:
            return list(self._app.recorded)

    @property
    def request_count(self) -> int:
        return self._app.request_count

    @property
    def pending_faults(self) -> int:
        with self._app.lock:
            return len(self._app.faults)

    # -- webhooks ----------------------------------------------------------------------
    def add_webhook_endpoint(
        self,
        url: str,
        secret: str | None = None,
        events: Iterable[str] | None = None,
        thin: bool = False,
        *,
        delivery_delay_ms: float = 0.0,
        max_attempts: int = 3,
        retry_backoff: float = 0.2,
    ) -> str:
        """POST signed events to ``url`` (loopback ``http://`` only); returns the secret.

        ``events``: types to send (None or ``"*"``: all). ``thin``: receive v2 thin event
        notifications instead of v1 snapshot events. A non-2xx answer or a connection
        error is retried up to ``max_attempts`` times, ``retry_backoff`` seconds apart,
        doubling. ``delivery_delay_ms`` holds each first attempt back, as Stripe does.
        """
        return self._webhooks.add_endpoint(
            url, secret, events, thin, delivery_delay_ms=delivery_delay_ms,
            max_attempts=max_attempts, retry_backoff=retry_backoff,
        )  # fmt: skip

    def remove_webhook_endpoints(self, url: str | None = None) -> None:
        """Remove every endpoint (or those for ``url``); their pending retries are dropped."""
        self._webhooks.remove_endpoints(url)

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Delivery attempts, in the order they completed."""
        return self._webhooks.deliveries

    def wait_for_deliveries(self, n: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Block until ``n`` attempts are recorded; raises TimeoutError otherwise."""
        return self._webhooks.wait(n, timeout)

    def send_webhook(
        self,
        url: str,
        payload: dict[str, Any] | bytes,
        secret: str,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> int:
        """POST one hand-made event, signed with ``timestamp`` (default: now) unless
        ``signature`` (the ``v1`` value, or a whole header starting ``t=``) is given.
        Returns the status code; not retried nor recorded."""
        return self._webhooks.send(self._loop, url, payload, secret, timestamp, signature)
