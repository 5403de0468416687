"""OtlpReceiver driven by the real OpenTelemetry SDK exporters (HTTP and gRPC)."""

from __future__ import annotations

import gzip
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace import Status as SpanStatus

from stripe_otel.testing import OtlpReceiver

HEADERS = {"x-honeycomb-team": "k"}


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def make_spans(padding: int = 0) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "checkout", "env": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("stripe_otel.test")
    with tracer.start_as_current_span("POST /v1/charges", kind=SpanKind.CLIENT) as parent:
        parent.set_attribute("http.response.status_code", 402)
        parent.set_attribute("stripe.retry", True)
        parent.set_attribute("stripe.fee", 0.25)
        parent.set_attribute("stripe.expand", ["customer", "invoice"])
        parent.set_attribute("padding", "abc" * padding)
        parent.add_event("stripe.retry", {"attempt": 2})
        parent.set_status(SpanStatus(StatusCode.ERROR, "card_declined"))
        with tracer.start_as_current_span("attempt 1"):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def http_exporter(rx: OtlpReceiver, **kwargs: object) -> HttpExporter:
    options: dict[str, object] = {"headers": HEADERS, "timeout": 3}
    options.update(kwargs)
    return HttpExporter(endpoint=rx.http_endpoint + "/v1/traces", **options)


def grpc_exporter(rx: OtlpReceiver, **kwargs: object) -> GrpcExporter:
    options: dict[str, object] = {"headers": HEADERS, "timeout": 3, "insecure": True}
    options.update(kwargs)
    return GrpcExporter(endpoint=rx.grpc_endpoint, **options)


def export(exporter: HttpExporter | GrpcExporter, spans: Sequence[ReadableSpan]) -> float:
    started = time.monotonic()
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    return time.monotonic() - started


def post(rx: OtlpReceiver, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(rx.http_endpoint + "/v1/traces", data=body, method="POST")
    request.add_header("Content-Type", headers.pop("content_type", "application/x-protobuf"))
    for key, value in headers.items():
        request.add_header(key.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def check_decoded(rx: OtlpReceiver, sdk_spans: Sequence[ReadableSpan]) -> None:
    by_name = {s["name"]: s for s in rx.wait_for_spans(2)}
    sdk = {s.name: s for s in sdk_spans}
    parent, child = by_name["POST /v1/charges"], by_name["attempt 1"]
    assert parent["trace_id"] == f"{sdk['POST /v1/charges'].context.trace_id:032x}"
    assert parent["span_id"] == f"{sdk['POST /v1/charges'].context.span_id:016x}"
    assert parent["parent_span_id"] == ""
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["kind"] == 3  # SPAN_KIND_CLIENT
    assert parent["attributes"]["http.response.status_code"] == 402
    assert parent["attributes"]["stripe.retry"] is True
    assert parent["attributes"]["stripe.fee"] == 0.25
    assert parent["attributes"]["stripe.expand"] == ["customer", "invoice"]
    assert parent["status_code"] == 2  # STATUS_CODE_ERROR
    assert parent["status_message"] == "card_declined"
    assert parent["events"][0]["name"] == "stripe.retry"
    assert parent["events"][0]["attributes"] == {"attempt": 2}
    assert parent["resource"]["service.name"] == "checkout"
    assert parent["resource"]["env"] == "test"
    assert parent["scope"] == "stripe_otel.test"
    assert parent["end_time_unix_nano"] >= parent["start_time_unix_nano"] > 0


def test_http_decodes_spans_headers_and_gzip(rx: OtlpReceiver) -> None:
    spans = make_spans(padding=2000)
    export(http_exporter(rx, compression=Compression.Gzip), spans)
    check_decoded(rx, spans)
    export(http_exporter(rx), spans)
    gzipped, plain = rx.requests
    assert (gzipped.transport, gzipped.path, gzipped.content_encoding) == (
        "http",
        "/v1/traces",
        "gzip",
    )
    assert gzipped.headers["x-honeycomb-team"] == "k"
    assert gzipped.headers["content-type"] == "application/x-protobuf"
    assert plain.content_encoding is None
    assert gzipped.body_size < plain.body_size / 4
    assert gzipped.rejected_status is None
    assert len(rx.spans) == 4


def test_grpc_decodes_spans_and_metadata(rx: OtlpReceiver) -> None:
    spans = make_spans()
    export(grpc_exporter(rx, compression=grpc.Compression.Gzip), spans)
    check_decoded(rx, spans)
    (request,) = rx.requests
    assert request.transport == "grpc"
    assert request.path == "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    assert request.headers["x-honeycomb-team"] == "k"
    assert request.headers["user-agent"].startswith("OTel-OTLP-Exporter-Python")
    assert request.body_size > 0


def test_http_json_with_hex_ids(rx: OtlpReceiver) -> None:
    doc = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]},
            "scopeSpans": [{
                "scope": {"name": "json"},
                "spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "name": "json-span",
                    "kind": 2,
                    "startTimeUnixNano": "1544712660000000000",
                    "endTimeUnixNano": "1544712661000000000",
                    "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                    "futureField": 1,
                }],
            }],
        }]
    }  # fmt: skip
    status, headers, body = post(rx, json.dumps(doc).encode(), content_type="application/json")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(body) == {}
    (span,) = rx.spans
    assert (span["trace_id"], span["span_id"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
    )
    assert (span["name"], span["kind"], span["attributes"], span["scope"]) == (
        "json-span",
        2,
        {"n": 7},
        "json",
    )


def test_http_refuses_bad_requests_without_spans(rx: OtlpReceiver) -> None:
    assert post(rx, b"x", content_type="text/plain")[0] == 415
    assert post(rx, b"not gzip", Content_Encoding="gzip")[0] == 400
    status, _, body = post(rx, b"\x00\x01garbage")
    assert status == 400
    assert "cannot decode" in Status.FromString(body).message
    assert [r.rejected_status for r in rx.requests] == [415, 400, 400]
    assert rx.spans == []


def test_http_retries_503_then_delivers_once(rx: OtlpReceiver) -> None:
    rx.fail_next(503)
    export(http_exporter(rx), make_spans())
    first, second = rx.requests
    assert (first.rejected_status, first.spans) == (503, [])
    assert second.rejected_status is None
    assert len(rx.spans) == 2  # the refused attempt's spans are not counted


def test_http_401_is_final_and_records_no_spans(rx: OtlpReceiver) -> None:
    rx.fail_next(401, body=b"unknown API key")
    exporter = http_exporter(rx)
    assert exporter.export(make_spans()) is SpanExportResult.FAILURE
    exporter.shutdown()
    assert [r.rejected_status for r in rx.requests] == [401]  # not retried
    assert rx.spans == []
    assert post(rx, b"")[0] == 200  # the fault was used up


def test_http_429_retry_after_is_honoured(rx: OtlpReceiver) -> None:
    rx.fail_next(429, retry_after=0.3)
    elapsed = export(http_exporter(rx), make_spans())
    # The exporter's own first backoff is 0.8-1.2 s, so this proves Retry-After won.
    assert 0.3 <= elapsed < 0.75
    assert [r.rejected_status for r in rx.requests] == [429, None]
    rx.fail_next(429, retry_after=2)
    status, headers, body = post(rx, b"")
    assert (status, headers["Retry-After"]) == (429, "2")
    assert Status.FromString(body).code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


def test_max_request_bytes_gives_413(rx: OtlpReceiver) -> None:
    rx.max_request_bytes = 1000
    exporter = http_exporter(rx)
    assert exporter.export(make_spans(padding=1000)) is SpanExportResult.FAILURE
    exporter.shutdown()
    (request,) = rx.requests  # 413 is not retried
    assert request.rejected_status == 413
    assert request.body_size > 1000
    assert rx.spans == []
    export(http_exporter(rx), make_spans(padding=10))  # under the limit: accepted
    assert len(rx.spans) == 2
    exporter = grpc_exporter(rx)
    assert exporter.export(make_spans(padding=1000)) is SpanExportResult.FAILURE
    exporter.shutdown()
    assert [r.rejected_status for r in rx.requests] == [413, None, 413]  # gRPC: not retried


def test_delay_outlasts_exporter_timeout(rx: OtlpReceiver) -> None:
    rx.fail_next(200, delay_s=0.6)
    exporter = http_exporter(rx, timeout=0.2)
    started = time.monotonic()
    assert exporter.export(make_spans()) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 0.55
    exporter.shutdown()
    # The backend still took the batch: exactly the case that makes retries duplicate.
    assert len(rx.wait_for_spans(2, timeout=2)) == 2


def test_down_refuses_connections_and_up_reuses_ports(rx: OtlpReceiver) -> None:
    http_endpoint, grpc_endpoint = rx.http_endpoint, rx.grpc_endpoint
    http = http_exporter(rx, timeout=0.5)
    assert http.export(make_spans()) is SpanExportResult.SUCCESS  # pools a connection
    rx.down()
    port = int(http_endpoint.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert http.export(make_spans()) is SpanExportResult.FAILURE
    grpc_down = grpc_exporter(rx, timeout=0.5)
    assert grpc_down.export(make_spans()) is SpanExportResult.FAILURE
    grpc_down.shutdown()
    rx.up()
    assert (rx.http_endpoint, rx.grpc_endpoint) == (http_endpoint, grpc_endpoint)
    assert http.export(make_spans()) is SpanExportResult.SUCCESS
    http.shutdown()
    export(grpc_exporter(rx), make_spans())
    assert len(rx.spans) == 6


def test_garbage_responses_do_not_break_the_receiver(rx: OtlpReceiver) -> None:
    rx.garbage_next()
    status, _, body = post(rx, b"")
    assert status == 200
    with pytest.raises(Exception, match="Error parsing message"):
        trace_service_pb2.ExportTraceServiceResponse.FromString(body)
    rx.garbage_next()
    exporter = grpc_exporter(rx)
    assert exporter.export(make_spans()) is SpanExportResult.FAILURE  # undecodable reply
    exporter.shutdown()
    export(grpc_exporter(rx), make_spans())
    export(http_exporter(rx), make_spans())
    assert len(rx.spans) == 6  # garbage replies still accepted their spans


def test_grpc_unavailable_then_success(rx: OtlpReceiver) -> None:
    rx.fail_next(503, retry_after=0.2)
    elapsed = export(grpc_exporter(rx), make_spans())
    assert elapsed >= 0.2
    assert [r.rejected_status for r in rx.requests] == [503, None]
    assert len(rx.spans) == 2


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (403, grpc.StatusCode.PERMISSION_DENIED),
        (413, grpc.StatusCode.INVALID_ARGUMENT),
        (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (500, grpc.StatusCode.INTERNAL),
        (503, grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_grpc_status_mapping(rx: OtlpReceiver, status: int, code: grpc.StatusCode) -> None:
    rx.fail_next(status, retry_after=1.5)
    with grpc.insecure_channel(rx.grpc_endpoint) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=3)
    error = caught.value
    assert error.code() == code
    trailers = dict(error.trailing_metadata())
    delay = RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay
    assert (delay.seconds, delay.nanos) == (1, 500_000_000)
    assert rx.requests[0].rejected_status == status


def test_wait_reset_and_lifecycle() -> None:
    receiver = OtlpReceiver("localhost")
    with pytest.raises(RuntimeError):
        _ = receiver.http_endpoint
    with receiver:
        assert receiver.http_endpoint.startswith("http://127.0.0.1:")
        with pytest.raises(TimeoutError):
            receiver.wait_for_spans(1, timeout=0.05)
        receiver.fail_next(500)
        receiver.max_request_bytes = 1
        post(receiver, gzip.compress(b""), Content_Encoding="gzip")
        receiver.reset()
        assert (receiver.requests, receiver.max_request_bytes) == ([], None)
        assert post(receiver, b"")[0] == 200  # fault and limit were cleared
    receiver.stop()  # idempotent
    with pytest.raises(RuntimeError):
        receiver.start()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.com"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        OtlpReceiver(host=host)
