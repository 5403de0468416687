"""OTLP/gRPC side of OtlpReceiver: ``TraceService/Export`` on an insecure loopback port."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]
from google.protobuf.any_pb2 import Any as AnyProto  # type: ignore[import-untyped]
from google.protobuf.duration_pb2 import Duration  # type: ignore[import-untyped]
from google.rpc.error_details_pb2 import RetryInfo  # type: ignore[import-untyped]
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

if TYPE_CHECKING:
    from ._otlp_receiver import OtlpReceiver

__all__ = ["GARBAGE", "GRPC_CODES", "GrpcIntake", "status_body"]

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
EXPORT_PATH = f"/{SERVICE}/Export"
#: Starts with a zero tag byte, which no protobuf parser accepts.
GARBAGE = b"\x00\xff<html>definitely not protobuf</html>\xff"

#: HTTP status -> gRPC status code number, so one ``fail_next`` scripts both transports.
#: 413 maps to INVALID_ARGUMENT rather than RESOURCE_EXHAUSTED because exporters retry
#: RESOURCE_EXHAUSTED, while an oversized batch will never get through.
GRPC_CODES: dict[int, int] = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    408: 4,  # DEADLINE_EXCEEDED
    409: 10,  # ABORTED
    413: 3,  # INVALID_ARGUMENT
    415: 3,  # INVALID_ARGUMENT
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    501: 12,  # UNIMPLEMENTED
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
_UNKNOWN = 2
_BY_NUMBER: dict[int, Any] = {code.value[0]: code for code in grpc.StatusCode}
# Well above any test payload, so max_request_bytes (not grpc) decides what is too big.
_MAX_MESSAGE = 64 * 1024 * 1024


def _retry_info(retry_after: float) -> bytes:
    whole = int(retry_after)
    delay = Duration(seconds=whole, nanos=round((retry_after - whole) * 1e9))
    data: bytes = RetryInfo(retry_delay=delay).SerializeToString()
    return data


def status_body(http_status: int, message: str, retry_after: float | None) -> bytes:
    """A serialized ``google.rpc.Status``: the OTLP error body for both transports."""
    status = Status(code=GRPC_CODES.get(http_status, _UNKNOWN), message=message)
    if retry_after is not None:
        detail = AnyProto()
        detail.Pack(RetryInfo.FromString(_retry_info(retry_after)))
        status.details.append(detail)
    data: bytes = status.SerializeToString()
    return data


def _headers(metadata: Iterable[Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in metadata:
        key, value = str(item.key).lower(), item.value
        # Binary metadata arrives as bytes; base64 keeps ``headers`` a str -> str dict.
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _parse(raw: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(raw)
    return request


class GrpcIntake:
    """One grpc.server at a time; ``stop`` + ``start`` rebinds the same port."""

    def __init__(self, receiver: OtlpReceiver, host: str, port: int) -> None:
        self._receiver = receiver
        self._bind = f"[{host}]" if ":" in host else host
        self.port: int | None = port or None
        self._requested = port
        self._server: Any = None

    def start(self) -> None:
        # Raw bytes in and out (identity (de)serializers) instead of the generated
        # TraceServiceServicer: the size of the message is recorded, undecodable bodies
        # become INVALID_ARGUMENT instead of a grpc-internal error, and garbage_next can
        # send a reply that is not an ExportTraceServiceResponse.
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._export,
                    request_deserializer=bytes,
                    response_serializer=bytes,
                )
            },
        )
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"),
            handlers=(handler,),
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                # Without this a second process could bind the port while we are down()
                # and silently receive the exports meant for us.
                ("grpc.so_reuseport", 0),
            ],
        )
        port = self.port if self.port is not None else self._requested
        bound = server.add_insecure_port(f"{self._bind}:{port}")
        if not bound:  # older grpcio returns 0 instead of raising
            raise OSError(f"cannot bind gRPC port {self._bind}:{port}")
        server.start()
        self.port = int(bound)
        self._server = server

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # grace=None cancels in-flight calls at once, like a crashed backend would.
            server.stop(None).wait()

    def _export(self, raw: bytes, context: Any) -> bytes:
        outcome = self._receiver._handle(
            "grpc",
            EXPORT_PATH,
            _headers(context.invocation_metadata()),
            len(raw),
            None,
            lambda: _parse(raw),
        )
        if outcome.status < 300:
            if outcome.garbage:
                return GARBAGE
            data: bytes = ExportTraceServiceResponse().SerializeToString()
            return data
        message = outcome.body.decode("utf-8", "replace") if outcome.body else outcome.message
        trailers: list[tuple[str, str | bytes]] = [
            ("grpc-status-details-bin", status_body(outcome.status, message, outcome.retry_after))
        ]
        if outcome.retry_after is not None:
            # The Python OTLP exporter reads RetryInfo from this key, not from the
            # status details that other clients (and the Collector) use.
            trailers.append(("google.rpc.retryinfo-bin", _retry_info(outcome.retry_after)))
        context.set_trailing_metadata(trailers)
        code = _BY_NUMBER.get(GRPC_CODES.get(outcome.status, _UNKNOWN), grpc.StatusCode.UNKNOWN)
        context.abort(code, message)
        raise AssertionError("unreachable: context.abort raises")
