"""The SDK's OTLP span exporters (HTTP and gRPC), made to report ``last_status``.

:class:`~stripe_otel.exporters._resilience.ResilientExporter` needs to know what the
backend answered (413: split; 401/403: drop) and the SDK's exporters only say
success or failure, so these subclasses observe the HTTP response or gRPC status of each
export. They also pin the headers to exactly the resolved ones (the SDK would merge in
the ``OTEL_EXPORTER_OTLP_*HEADERS`` variables again). Shared by Honeycomb and Datadog's
OTLP intake.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Final, Protocol

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_logger = logging.getLogger("stripe_otel.exporters")


class OtlpTarget(Protocol):
    """Where and how to send: what the exporters below read from a vendor's settings."""

    @property
    def endpoint(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def timeout(self) -> float: ...
    @property
    def compression(self) -> str: ...
    @property
    def insecure(self) -> bool: ...


# --- last_status: what the backend answered to the last export ------------------------
def _recorded(call: Callable[..., Any], record: Callable[[int | None], None]) -> Any:
    """*call*, recording the ``status_code`` of what it returns (an SDK result or a
    ``requests.Response``), or None if it has none or raises."""

    def recorded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = call(*args, **kwargs)
        except BaseException:
            record(None)
            raise
        status = getattr(result, "status_code", None)
        record(status if isinstance(status, int) else None)
        return result

    return recorded


# gRPC has no HTTP status; ResilientExporter speaks HTTP, so translate the few that matter.
_GRPC_TO_HTTP: Final = {
    "OK": 200,
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# OTLP/gRPC has no "too large" code: receivers say it in the message of INVALID_ARGUMENT
# or RESOURCE_EXHAUSTED. Recognising it lets the batch be split instead of dropped.
_TOO_LARGE_RE: Final = re.compile(r"too large|larger than|exceeds", re.IGNORECASE)


def _grpc_status(error: BaseException) -> int | None:
    code = getattr(error, "code", None)
    status = _GRPC_TO_HTTP.get(getattr(code() if callable(code) else None, "name", ""))
    if status in (400, 429):
        details = getattr(error, "details", None)
        text = details() if callable(details) else None
        if isinstance(text, str) and _TOO_LARGE_RE.search(text):
            return 413
    return status


class _RecordingStub:
    """Wraps the gRPC TraceService stub to see the status of each Export call."""

    def __init__(self, stub: Any, record: Callable[[int | None], None]) -> None:
        self._wrapped = stub
        self._record = record

    def Export(self, *args: Any, **kwargs: Any) -> Any:  # the stub's method name
        try:
            response = self._wrapped.Export(*args, **kwargs)
        except BaseException as error:
            self._record(_grpc_status(error))
            raise
        self._record(200)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_wrapped"], name)


class _StatusTracking:
    """``last_status`` for ResilientExporter: the HTTP(-ish) status of the last export."""

    last_status: int | None = None
    _attempted = False

    def _record(self, status: int | None) -> None:
        self.last_status, self._attempted = status, True

    def _begin(self) -> None:
        self.last_status, self._attempted = None, False

    def _finish(self, result: SpanExportResult) -> SpanExportResult:
        unsent = result is not SpanExportResult.SUCCESS and not self._attempted
        if unsent and not getattr(self, "_shutdown", False):
            # Nothing was sent: the batch could not be encoded or is over the SDK's
            # max_request_size. A retry would fail the same way; 413 makes
            # ResilientExporter split it (and drop a lone span) instead.
            self.last_status = 413
        return result


def http_compression(name: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http import Compression  # noqa: PLC0415

    return {"gzip": Compression.Gzip, "deflate": Compression.Deflate}.get(
        name, Compression.NoCompression
    )


_SDK_HEADERS: Final = frozenset({"content-type", "user-agent", "content-encoding"})


def pin_http_headers(client: Any, headers: Mapping[str, str]) -> None:
    # The SDK HTTP exporter merges OTEL_EXPORTER_OTLP_*HEADERS into the headers it is
    # given; the settings already applied their precedence, so send exactly those.
    sent = getattr(client, "_headers", None)
    if isinstance(sent, dict):
        kept = {k: v for k, v in sent.items() if k.lower() in _SDK_HEADERS}
        sent.clear()
        sent.update(kept)
        sent.update(headers)


# --- one try per export: ResilientExporter does the retrying -------------------------
# The SDK's exporters retry a failed export themselves, backing off 1, 2, 4... seconds
# until their timeout. Inside ResilientExporter that is wrong twice over: the batch
# processor's worker is held for most of the timeout (a 5 s outage then overflows the
# SDK's queue, where drops are neither ours to count nor visible), and the failure reaches
# the bounded, counted backlog only after it. So each export makes one try, and a failure
# goes to the backlog at once. Over HTTP the SDK still makes its immediate reconnect on a
# stale connection and waits a 429's Retry-After if it fits the timeout; over gRPC the
# first failure ends the export (the SDK re-creates its channel for the next one).


def _try_once(client: Any) -> None:
    # SDK 1.45's HTTP client: a backoff longer than the time left ends its retry loop.
    if callable(getattr(client, "_compute_backoff", None)):
        client._compute_backoff = lambda _retry: math.inf


class _NoRetryWait(threading.Event):
    """Stands in for the SDK gRPC exporter's shutdown event, on which it sleeps between
    its own retries: returning at once ends them."""

    def wait(self, timeout: float | None = None) -> bool:
        return True


# Ending the gRPC exporter's retries that way makes it log two warnings that are not true
# of our exporters ("retrying in 1.1s", "Shutdown in progress"); they are dropped while one
# of ours is exporting on this thread. The failure itself is ours to report (the backlog
# counts and logs what it drops); the same messages from an app's own exporters pass.
_exporting = threading.local()
_UNTRUE_FOR_ONE_TRY = ("Transient error", "Shutdown in progress, aborting retry")


class _OneTryLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(_exporting, "one_try", False):
            return True
        return not (isinstance(record.msg, str) and record.msg.startswith(_UNTRUE_FOR_ONE_TRY))


@cache
def _http_span_exporter_class() -> Callable[[OtlpTarget], SpanExporter]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    class HTTPExporter(_StatusTracking, OTLPSpanExporter):
        def __init__(self, settings: OtlpTarget) -> None:
            super().__init__(
                endpoint=settings.endpoint,
                headers=dict(settings.headers),
                timeout=settings.timeout,
                compression=http_compression(settings.compression),
            )
            client: Any = getattr(self, "_client", None)
            try:
                if callable(getattr(client, "export", None)):  # SDK 1.45: _OTLPHTTPClient
                    pin_http_headers(client, settings.headers)
                    client.export = _recorded(client.export, self._record)
                    _try_once(client)
                elif callable(legacy := getattr(self, "_export", None)):
                    # Older SDKs: _export(data, timeout) returns the requests.Response.
                    self.__dict__["_export"] = _recorded(legacy, self._record)
            except (AttributeError, TypeError):  # an SDK we do not know: no last_status
                _logger.debug("stripe-otel: cannot observe the OTLP HTTP export status")

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self._begin()
            return self._finish(super().export(spans))

    return HTTPExporter


@cache
def _grpc_span_exporter_class() -> Callable[[OtlpTarget], SpanExporter]:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    class GRPCExporter(_StatusTracking, OTLPSpanExporter):
        def __init__(self, settings: OtlpTarget) -> None:
            super().__init__(
                endpoint=settings.endpoint,
                insecure=settings.insecure,
                headers=dict(settings.headers),
                timeout=settings.timeout,
                compression=grpc_compression(settings.compression),
            )
            # Empty headers make the SDK fall back to the environment's: pin ours.
            self.__dict__["_headers"] = tuple(settings.headers.items())
            if isinstance(getattr(self, "_shutdown_in_progress", None), threading.Event):
                self._shutdown_in_progress = _NoRetryWait()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self._begin()
            _exporting.one_try = True
            try:
                return self._finish(super().export(spans))
            finally:
                _exporting.one_try = False

        # The SDK assigns a new stub on every reconnect: wrap each one as it is set.
        @property
        def _client(self) -> Any:
            return self.__dict__.get("_stub_wrapper")

        @_client.setter
        def _client(self, stub: Any) -> None:
            wrapped = None if stub is None else _RecordingStub(stub, self._record)
            self.__dict__["_stub_wrapper"] = wrapped

    logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").addFilter(
        _OneTryLogFilter()
    )
    return GRPCExporter


def grpc_compression(name: str) -> Any:
    import grpc  # type: ignore[import-untyped]  # noqa: PLC0415

    return {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}.get(
        name, grpc.Compression.NoCompression
    )


def otlp_span_exporter(target: OtlpTarget, protocol: str) -> SpanExporter:
    """An OTLP span exporter for *target* over "grpc" or "http/protobuf", with last_status."""
    if protocol == "grpc":
        return _grpc_span_exporter_class()(target)
    return _http_span_exporter_class()(target)
