"""Webhook delivery: signed POSTs of recorded events to loopback endpoints, as Stripe does.

Snapshot (v1) events go to ordinary endpoints with the body ``GET /v1/events/{id}``
returns; thin (v2) event notifications go to ``thin=True`` endpoints. Deliveries run on
the server's loop and start only after the reply to the API call that caused them has
been written, so a slow or broken endpoint never delays the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
import string
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._http import Handler, Reply, Request

__all__ = ["USER_AGENT", "WebhookDelivery", "WebhookDispatcher", "sign"]

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
_BASE62 = string.ascii_letters + string.digits
# A thin notification carries no data; the receiver fetches the event if it wants it.
_THIN_FIELDS = ("id", "object", "type", "created", "livemode", "context", "related_object",
                "reason")  # fmt: skip


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery attempt. ``status`` is None when no HTTP answer came back."""

    url: str
    event_id: str
    event_type: str
    status: int | None
    attempt: int
    sent_at: float
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    netloc: str
    path: str


@dataclass(slots=True)
class _Endpoint:
    url: str
    target: _Target
    secret: str
    events: frozenset[str] | None
    thin: bool
    delay: float
    max_attempts: int
    backoff: float
    active: bool = True

    def wants(self, event_type: str, thin: bool) -> bool:
        wanted = self.events is None or bool({"*", event_type} & self.events)
        return self.active and self.thin == thin and wanted


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` value: HMAC-SHA256 of ``f"{t}.{body}"`` with the secret."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def _target(url: str) -> _Target:
    # Loopback only: the test server must never become a way to POST to other hosts.
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise ValueError(f"webhook endpoints must be http:// URLs, not {url!r}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"webhook endpoints must be on a loopback address, not {url!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(host, parts.port or 80, parts.netloc, path)


def _headers(signature: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json; charset=utf-8"),
        ("User-Agent", USER_AGENT),
        ("Stripe-Signature", signature),
    ]


async def _post(target: _Target, body: bytes, headers: list[tuple[str, str]],
                timeout: float) -> int:  # fmt: skip
    """POST with a fresh connection and answer the status code; raises on transport errors."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.netloc}"]
            lines += [f"{k}: {v}" for k, v in headers]
            lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1") + body)
            await writer.drain()
            status_line = (await reader.readline()).split(None, 2)
            if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
                raise ValueError(f"not an HTTP response: {b' '.join(status_line)!r}")
            status = int(status_line[1])
            # Read the whole answer so that duration_ms covers the endpoint's full reply.
            length = 0
            while (line := await reader.readline()).strip():
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(min(length, 64 * 1024))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return status


class WebhookDispatcher:
    """Endpoints, the deliveries made to them, and the store listener that feeds them."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._endpoints: list[_Endpoint] = []
        self._deliveries: list[WebhookDelivery] = []
        # Events of the request being handled; touched on the loop thread only.
        self._pending: list[tuple[_Endpoint, str, str, bytes]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- configuration (any thread) ----------------------------------------------------
    def add_endpoint(
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
        target = _target(url)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if secret is None:
            secret = "whsec_" + "".join(secrets.choice(_BASE62) for _ in range(32))
        wanted = None if events is None else frozenset([events] if isinstance(events, str)
                                                       else events)  # fmt: skip
        ep = _Endpoint(url, target, secret, wanted, thin, delivery_delay_ms / 1000.0,
                       max_attempts, retry_backoff)  # fmt: skip
        with self._cond:
            self._endpoints.append(ep)
        return secret

    def remove_endpoints(self, url: str | None = None) -> None:
        with self._cond:
            for ep in self._endpoints:
                if url is None or ep.url == url:
                    # Deliveries in flight check this and stop, unrecorded.
                    ep.active = False
            self._endpoints = [ep for ep in self._endpoints if ep.active]

    def reset(self) -> None:
        with self._cond:
            self.remove_endpoints()
            self._deliveries.clear()

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._cond:
            return list(self._deliveries)

    def wait(self, n: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._deliveries) >= n, timeout):
                raise TimeoutError(
                    f"{len(self._deliveries)} of {n} webhook deliveries after {timeout} s"
                )
            return list(self._deliveries)

    def send(
        self,
        loop: asyncio.AbstractEventLoop | None,
        url: str,
        payload: dict[str, Any] | bytes,
        secret: str,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> int:
        """Deliver a hand-made event once, unrecorded, and answer the status code.

        ``signature`` replaces the ``v1`` value (or, starting with ``t=``, the whole
        header), so that tests can send bad signatures.
        """
        target = _target(url)
        if loop is None:
            raise RuntimeError("StripeTestServer is not started")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("send_webhook blocks; do not call it on the server loop")
        body = payload if isinstance(payload, bytes) else _dumps(payload)
        t = int(time.time()) if timestamp is None else timestamp
        if signature is None:
            header = sign(body, secret, t)
        else:
            header = signature if signature.startswith("t=") else f"t={t},v1={signature}"
        coro = _post(target, body, _headers(header), self.timeout)
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    # -- loop thread -------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        """Store listener: queue the event for the endpoints that want it."""
        thin = event.get("object") == "v2.core.event"
        with self._cond:
            targets = [ep for ep in self._endpoints if ep.wants(event["type"], thin)]
        if not thin:
            # As on Stripe, the event says how many endpoints it is still going to.
            event["pending_webhooks"] = len(targets)
        if not targets:
            return
        # Serialised now, as the app would render it, so later changes do not leak in.
        payload = {k: event[k] for k in _THIN_FIELDS if event.get(k) is not None} if thin else event
        body = _dumps(payload)
        self._pending += [(ep, event["id"], event["type"], body) for ep in targets]

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` plus delivery of the events it recorded, after its reply is written."""

        def handle(req: Request) -> Reply:
            self._pending = []
            reply = handler(req)
            if self._pending:
                batch, self._pending = self._pending, []
                loop = asyncio.get_running_loop()
                # HttpProtocol writes the reply when we return, or from a timer it sets up
                # after we return; a timer set from the next callback fires after that one.
                loop.call_soon(loop.call_later, reply.delay, self._start, batch)
            return reply

        return handle

    def _start(self, batch: list[tuple[_Endpoint, str, str, bytes]]) -> None:
        for item in batch:
            task = asyncio.get_running_loop().create_task(self._deliver(*item))
            self._tasks.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, ep: _Endpoint, event_id: str, event_type: str, body: bytes) -> None:
        if ep.delay > 0:
            await asyncio.sleep(ep.delay)
        for attempt in range(1, ep.max_attempts + 1):
            if not ep.active:
                return
            sent_at, start = time.time(), time.perf_counter()
            status: int | None = None
            error: str | None = None
            try:
                # Signed per attempt: a retry carries a fresh timestamp, as on Stripe.
                status = await _post(ep.target, body, _headers(sign(body, ep.secret)),
                                     self.timeout)  # fmt: skip
            except (OSError, EOFError, ValueError) as exc:  # TimeoutError is an OSError
                error = f"{type(exc).__name__}: {exc}"
            duration = (time.perf_counter() - start) * 1000.0
            record = WebhookDelivery(ep.url, event_id, event_type, status, attempt, sent_at,
                                     duration, error)  # fmt: skip
            with self._cond:
                if not ep.active:
                    return
                self._deliveries.append(record)
                self._cond.notify_all()
            if status is not None and 200 <= status < 300:
                return
            if attempt < ep.max_attempts:
                await asyncio.sleep(ep.backoff * 2 ** (attempt - 1))


def _dumps(obj: Any) -> bytes:
    # Byte for byte what App renders for GET /v1/events/{id}.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
