"""The demo's webhook endpoint: an HTTP server on 127.0.0.1 that verifies Stripe's events.

Verified with ``stripe.Webhook.construct_event``, which stripe-otel traces as a
``stripe.webhook`` span (verify, decode) linked to the API call that caused the event.
Each ``payment_intent.succeeded`` is recorded in the ``webhook_events`` table, through
the same instrumented SQLite as the orders, so its write is a ``db_write`` span too.
"""

from __future__ import annotations

import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from stripe_otel import semconv
from stripe_otel.demo import _db

__all__ = ["WebhookReceiver"]

PATH = "/webhooks/stripe"


class WebhookReceiver:
    """Receives, verifies and records events; :meth:`wait` for the ones expected."""

    def __init__(self, db_path: Path, tracer_provider: TracerProvider) -> None:
        self.secret = ""  # set once the endpoint is registered (the server makes it)
        self._tracer = tracer_provider.get_tracer("stripe_otel.demo")
        self._db = _db.connect(db_path, tracer_provider)
        self._db_lock = threading.Lock()  # one connection, many handler threads
        self._cond = threading.Condition()
        self._seen: set[str] = set()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="demo-webhooks", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{PATH}"

    @property
    def handled(self) -> int:
        with self._cond:
            return len(self._seen)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def wait(self, count: int, timeout: float) -> bool:
        """Whether *count* distinct events arrived within *timeout* seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._seen) >= count, timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        with self._db_lock:
            self._db.close()

    def _handle(self, body: bytes, signature: str | None) -> int:
        # A web framework's instrumentation would make this SERVER span; http.server has
        # none. The stripe.webhook span is its child.
        with self._tracer.start_as_current_span(f"POST {PATH}", kind=SpanKind.SERVER) as span:
            span.set_attribute(semconv.HTTP_REQUEST_METHOD, "POST")
            span.set_attribute("http.route", PATH)
            status = self._verify_and_record(body, signature)
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
            if status != 200:
                span.set_status(Status(StatusCode.ERROR))
            return status

    def _verify_and_record(self, body: bytes, signature: str | None) -> int:
        import stripe  # noqa: PLC0415 - the package imports without stripe installed

        try:
            event = stripe.Webhook.construct_event(body, signature or "", self.secret)
        except (ValueError, stripe.SignatureVerificationError):
            return 400
        if event.type == "payment_intent.succeeded":
            intent = event.data.object
            try:
                with self._db_lock:
                    _db.record_event(self._db, event.id, event.type, str(intent["id"]))
            except sqlite3.Error:
                return 500  # not handled: Stripe delivers the event again later
        with self._cond:
            self._seen.add(event.id)
            self._cond.notify_all()
        return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != PATH:
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver._handle(body, self.headers.get("Stripe-Signature"))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per delivery would drown the progress bar

        return Handler
