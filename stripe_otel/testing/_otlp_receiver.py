"""OtlpReceiver: a loopback stand-in for an OTLP trace intake (Honeycomb, a Collector).

>>> from stripe_otel.testing import OtlpReceiver
>>> with OtlpReceiver() as rx:                               # doctest: +SKIP
...     exporter = OTLPSpanExporter(endpoint=rx.http_endpoint + "/v1/traces")
...     rx.fail_next(503)                                    # first attempt is refused
...     exporter.export(spans)
...     rx.wait_for_spans(len(spans))

It decodes OTLP/HTTP (protobuf or JSON, gzip/deflate) and OTLP/gRPC export requests into
plain dicts and can answer with scripted failures, delays, malformed replies, size limits
and outages, so exporter behaviour can be tested without a real backend.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ._otlp_grpc import GrpcIntake
from ._otlp_http import HttpIntake

__all__ = ["OtlpReceiver", "ReceivedRequest"]

Transport = Literal["http", "grpc"]


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One export request as the receiver saw it, accepted or not."""

    transport: Transport
    path: str
    #: Lower-cased names. For gRPC the invocation metadata; ``-bin`` values are base64.
    headers: dict[str, str]
    #: HTTP: body bytes as sent (compressed if it was). gRPC: the decompressed message
    #: size, because grpc-python decompresses before application code sees anything.
    body_size: int
    #: HTTP ``Content-Encoding``; None for gRPC (grpc-python hides ``grpc-encoding``).
    content_encoding: str | None
    spans: list[dict[str, Any]]
    received_at: float
    #: The HTTP status the request was refused with (also for gRPC, where the client saw
    #: the matching gRPC code); None when its spans were accepted.
    rejected_status: int | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    status: int
    retry_after: float | None = None
    body: bytes | None = None
    delay_s: float = 0.0
    garbage: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a transport should answer; ``status`` < 300 means accepted."""

    status: int
    message: str = ""
    retry_after: float | None = None
    body: bytes | None = None
    garbage: bool = False


@dataclass(frozen=True, slots=True)
class _Seen:
    transport: Transport
    path: str
    headers: dict[str, str]
    body_size: int
    content_encoding: str | None
    received_at: float


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    if addr is None or not addr.is_loopback:
        # The receiver accepts anything from anyone and echoes what it got; it must
        # never be reachable from another machine.
        raise ValueError(f"OtlpReceiver binds loopback addresses only, not {host!r}")
    return host


class OtlpReceiver:
    """OTLP/HTTP + OTLP/gRPC trace intake on loopback that records what it receives."""

    def __init__(self, host: str = "127.0.0.1", http_port: int = 0, grpc_port: int = 0) -> None:
        self._host = _loopback_host(host)
        self._http = HttpIntake(self, self._host, http_port)
        self._grpc = GrpcIntake(self, self._host, grpc_port)
        #: Bodies larger than this (bytes as received) are answered 413 / INVALID_ARGUMENT.
        self.max_request_bytes: int | None = None
        self._cond = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._spans: list[dict[str, Any]] = []
        self._plans: deque[_Plan] = deque()
        # Set while down or stopped, so scripted delays end instead of outliving the server.
        self._halt = threading.Event()
        self._state: Literal["new", "up", "down", "stopped"] = "new"
        self._lifecycle = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> OtlpReceiver:
        """Bind both listeners; returns once both accept connections."""
        with self._lifecycle:
            if self._state != "new":
                raise RuntimeError(f"OtlpReceiver cannot start from state {self._state!r}")
            self._bring_up()
        return self

    def stop(self) -> None:
        """Close both listeners and all connections. Idempotent."""
        with self._lifecycle:
            if self._state in ("new", "stopped"):
                self._state = "stopped"
                return
            self._halt.set()
            self._http.stop()
            self._grpc.stop()
            self._state = "stopped"

    def down(self) -> None:
        """Simulate an outage: close listeners and connections; clients get ECONNREFUSED."""
        with self._lifecycle:
            if self._state == "down":
                return
            if self._state != "up":
                raise RuntimeError(f"OtlpReceiver cannot go down from state {self._state!r}")
            self._halt.set()
            self._http.stop()
            self._grpc.stop()
            self._state = "down"

    def up(self) -> None:
        """End an outage: listen again on the same ports."""
        with self._lifecycle:
            if self._state == "up":
                return
            if self._state != "down":
                raise RuntimeError(f"OtlpReceiver cannot come up from state {self._state!r}")
            self._bring_up()

    def _bring_up(self) -> None:
        self._halt.clear()
        self._http.start()
        try:
            self._grpc.start()
        except BaseException:
            self._http.stop()
            raise
        self._state = "up"

    def __enter__(self) -> OtlpReceiver:
        if self._state in ("new", "stopped"):
            self.start()  # raises for "stopped": a receiver is not restartable
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def http_endpoint(self) -> str:
        """``http://HOST:PORT``; exporters append ``/v1/traces``."""
        return f"http://{self._hostport(self._http.port)}"

    @property
    def grpc_endpoint(self) -> str:
        """``HOST:PORT`` for an insecure gRPC channel."""
        return self._hostport(self._grpc.port)

    def _hostport(self, port: int | None) -> str:
        if port is None:
            raise RuntimeError("OtlpReceiver is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{port}"

    # -- inspection & scripting --------------------------------------------------------
    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._spans)

    def wait_for_spans(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` spans were accepted; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._spans) >= n, timeout):
                raise TimeoutError(f"received {len(self._spans)} spans, wanted {n}")
            return list(self._spans)

    def reset(self) -> None:
        """Forget recorded requests and spans, pending faults and ``max_request_bytes``."""
        with self._cond:
            self._requests.clear()
            self._spans.clear()
            self._plans.clear()
            self.max_request_bytes = None

    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        body: bytes | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next ``count`` export requests (either transport) with ``status``.

        A 2xx status accepts normally, which with ``delay_s`` makes a slow success.
        """
        if not 200 <= status <= 599:
            raise ValueError(f"status must be 200..599, not {status}")
        if count < 1 or delay_s < 0 or (retry_after is not None and retry_after < 0):
            raise ValueError("count must be >= 1, delay_s and retry_after >= 0")
        with self._cond:
            self._plans.extend([_Plan(status, retry_after, body, delay_s)] * count)

    def garbage_next(self, count: int = 1) -> None:
        """Accept the next ``count`` requests but answer with a body that is not protobuf."""
        with self._cond:
            self._plans.extend([_Plan(200, garbage=True)] * count)

    # -- called by _otlp_http / _otlp_grpc ------------------------------------------
    def _handle(
        self,
        transport: Transport,
        path: str,
        headers: Mapping[str, str],
        body_size: int,
        content_encoding: str | None,
        decode: Callable[[], ExportTraceServiceRequest],
        refuse: tuple[int, str] | None = None,
    ) -> Outcome:
        """Apply size limit, scripted plan and decoding to one export request.

        ``refuse`` is a transport-level refusal (404, 415, ...) that is only recorded.
        """
        seen = _Seen(transport, path, dict(headers), body_size, content_encoding, time.time())
        if refuse is not None:
            self._record(seen, [], refuse[0])
            return Outcome(*refuse)
        with self._cond:
            limit = self.max_request_bytes
            if limit is not None and seen.body_size > limit:
                plan = _Plan(413, body=None)
                message = f"request body {seen.body_size} bytes exceeds {limit}"
            else:
                plan = self._plans.popleft() if self._plans else _Plan(200)
                message = "scripted failure"
        if plan.delay_s:
            self._halt.wait(plan.delay_s)
        if plan.status >= 300:
            self._record(seen, [], plan.status)
            return Outcome(plan.status, message, plan.retry_after, plan.body)
        try:
            spans = decode_spans(decode())
        except Exception as exc:  # noqa: BLE001 - any decode failure is the client's 400
            self._record(seen, [], 400)
            return Outcome(400, f"cannot decode export request: {exc}")
        self._record(seen, spans, None)
        return Outcome(200, garbage=plan.garbage)

    def _record(self, seen: _Seen, spans: list[dict[str, Any]], rejected: int | None) -> None:
        request = ReceivedRequest(
            seen.transport, seen.path, seen.headers, seen.body_size, seen.content_encoding,
            spans, seen.received_at, rejected,
        )  # fmt: skip
        with self._cond:
            self._requests.append(request)
            self._spans.extend(spans)
            self._cond.notify_all()


# -- decoding ------------------------------------------------------------------------------
def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {kv.key: _value(kv.value) for kv in items}


def decode_spans(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """Flatten an export request into one dict per span, resource and scope inlined."""
    out: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append({
                    "name": span.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "kind": int(span.kind),
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "attributes": _attributes(span.attributes),
                    "status_code": int(span.status.code),
                    "status_message": span.status.message,
                    "events": [
                        {
                            "name": e.name,
                            "time_unix_nano": e.time_unix_nano,
                            "attributes": _attributes(e.attributes),
                        }
                        for e in span.events
                    ],
                    "links": [
                        {
                            "trace_id": link.trace_id.hex(),
                            "span_id": link.span_id.hex(),
                            "attributes": _attributes(link.attributes),
                        }
                        for link in span.links
                    ],
                    "resource": dict(resource),
                    "scope": scope_spans.scope.name,
                })  # fmt: skip
    return out
