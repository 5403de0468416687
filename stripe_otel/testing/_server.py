"""StripeTestServer: the app and the protocol on an asyncio loop in a daemon thread."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
import time
from types import TracebackType

from ._app import App, RecordedRequest
from ._faults import Fault
from ._http import HttpProtocol

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
        app = self._app

        def factory() -> HttpProtocol:
            return HttpProtocol(app.handle, self._connections, time.time)

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
    def reset(self) -> None:
        """Forget objects, faults, delays, recorded requests and idempotency keys."""
        self._app.reset()

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
