"""The Honeycomb exporter: settings precedence and checks, key hygiene, Honeycomb's size
limits, and delivery over OTLP/HTTP and OTLP/gRPC against a local OtlpReceiver."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stripe_otel.config import ConfigError
from stripe_otel.exporters._resilience import dropped_counts
from stripe_otel.exporters._size_limits import MAX_EVENT_STRING_BYTES, MAX_VALUE_BYTES, fit_span
from stripe_otel.exporters.honeycomb import (
    EU_ENDPOINT,
    HoneycombMetricExporter,
    HoneycombSpanExporter,
    honeycomb_exporter,
    honeycomb_metric_exporter,
    honeycomb_settings,
    is_classic_key,
)
from stripe_otel.testing import OtlpReceiver

ENV_KEY = "Zx9QvTqL2mSECRETk3yAbc"  # an environment key: 22 characters
CLASSIC_HEX = "0123456789abcdef0123456789abcdef"
CLASSIC_NEW = "hcaic_" + "a1" * 29
INGEST_KEY = "hcaik_" + "b2" * 29  # an environment ingest key: not classic
LOCAL = "http://127.0.0.1:4318"

# --- fixtures and helpers --------------------------------------------------------------

_memory = InMemorySpanExporter()
_provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
_provider.add_span_processor(SimpleSpanProcessor(_memory))


def make_spans(
    n: int, prefix: str = "span", *, noise: int = 0, **attributes: Any
) -> list[ReadableSpan]:
    """*n* finished spans named prefix-0..; *noise* random bytes each defeat compression."""
    _memory.clear()
    tracer = _provider.get_tracer("test_honeycomb")
    for i in range(n):
        with tracer.start_as_current_span(f"{prefix}-{i}") as span:
            span.set_attributes(attributes)
            if noise:
                span.set_attribute("noise", os.urandom(noise).hex())
    return list(_memory.get_finished_spans())


def names(spans: list[dict[str, Any]]) -> list[str]:
    return [span["name"] for span in spans]


def drops(reason: str) -> int:
    return dropped_counts().get(("honeycomb", reason), 0)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK exporters read os.environ as well: keep the developer's shell out of it.
    for name in list(os.environ):
        if name.startswith(("OTEL_EXPORTER_OTLP_", "HONEYCOMB_")):
            monkeypatch.delenv(name)


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    # One per test: a delayed reply from a previous test must not land in this one.
    with OtlpReceiver() as receiver:
        yield receiver


def exporter_for(rx: OtlpReceiver, transport: str, **kwargs: Any) -> HoneycombSpanExporter:
    kwargs.setdefault("api_key", ENV_KEY)
    kwargs.setdefault("timeout", 1.0)
    if transport == "grpc":
        return honeycomb_exporter(endpoint=rx.grpc_endpoint, protocol="grpc", **kwargs)
    return honeycomb_exporter(endpoint=rx.http_endpoint, **kwargs)


TRANSPORTS = pytest.mark.parametrize("transport", ["http", "grpc"])


# --- settings: precedence ------------------------------------------------------------------
# Each row: the layers of one setting, highest first, as (kind, name, value), and what the
# resolved setting is when that layer is the highest one present.
PRECEDENCE: dict[str, tuple[Any, list[tuple[str, str, Any, Any]]]] = {
    "endpoint": (
        lambda s: s.endpoint,
        [
            ("arg", "endpoint", "http://arg:1", "http://arg:1/v1/traces"),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://sig:2/own", "http://sig:2/own"),
            ("env", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://gen:3", "http://gen:3/v1/traces"),
            ("env", "HONEYCOMB_API_ENDPOINT", "https://hc.test:4", "https://hc.test:4/v1/traces"),
            ("env", "HONEYCOMB_REGION", "eu", "https://api.eu1.honeycomb.io/v1/traces"),
            ("default", "", None, "https://api.honeycomb.io/v1/traces"),
        ],
    ),
    "protocol": (
        lambda s: s.protocol,
        [
            ("arg", "protocol", "grpc", "grpc"),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", "http/protobuf"),
            ("env", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "grpc"),
            ("default", "", None, "http/protobuf"),
        ],
    ),
    "compression": (
        lambda s: s.compression,
        [
            ("arg", "compression", "deflate", "deflate"),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none", "none"),
            ("env", "OTEL_EXPORTER_OTLP_COMPRESSION", "deflate", "deflate"),
            ("default", "", None, "gzip"),
        ],
    ),
    "timeout": (
        lambda s: s.timeout,
        [
            ("arg", "timeout", 1.5, 1.5),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2.5", 2.5),
            ("env", "OTEL_EXPORTER_OTLP_TIMEOUT", "3.5", 3.5),
            ("default", "", None, 10.0),
        ],
    ),
    "headers": (
        lambda s: s.headers.get("x-extra"),
        [
            ("arg", "headers", {"X-Extra": "a"}, "a"),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-extra=b", "b"),
            ("env", "OTEL_EXPORTER_OTLP_HEADERS", "x-extra=c", "c"),
            ("default", "", None, None),
        ],
    ),
    "api_key": (
        lambda s: s.api_key,
        [
            ("arg", "api_key", "key-arg", "key-arg"),
            ("env", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-honeycomb-team=key-sig", "key-sig"),
            ("env", "OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=key-gen", "key-gen"),
            ("env", "HONEYCOMB_TRACES_APIKEY", "key-traces", "key-traces"),
            ("env", "HONEYCOMB_API_KEY", "key-hc", "key-hc"),
            ("default", "", None, None),
        ],
    ),
    "dataset": (
        lambda s: (s.dataset, s.headers.get("x-honeycomb-dataset")),
        [
            ("arg", "dataset", "ds-arg", ("ds-arg", "ds-arg")),
            (
                "env",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "x-honeycomb-dataset=ds-sig",
                ("ds-sig",) * 2,
            ),
            ("env", "OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-dataset=ds-gen", ("ds-gen",) * 2),
            ("env", "HONEYCOMB_DATASET", "ds-hc", ("ds-hc", "ds-hc")),
        ],
    ),
}


def _cases() -> Iterator[Any]:
    for setting, (_, layers) in PRECEDENCE.items():
        for index, layer in enumerate(layers):
            yield pytest.param(setting, index, id=f"{setting}-{layer[0]}-{layer[1] or 'default'}")


@pytest.mark.parametrize(("setting", "index"), list(_cases()))
def test_each_layer_beats_the_next(setting: str, index: int) -> None:
    extract, layers = PRECEDENCE[setting]
    kwargs: dict[str, Any] = {}
    environ: dict[str, str] = {}
    for kind, name, value, _ in layers[index:]:  # this layer and every lower one
        if kind == "arg":
            kwargs[name] = value
        elif kind == "env":
            environ[name] = value
    if setting == "dataset":
        kwargs.setdefault("api_key", CLASSIC_HEX)  # so the dataset header is sent
    elif setting == "api_key" and index == len(layers) - 1:
        kwargs["endpoint"] = LOCAL  # a local collector needs no key
    elif setting != "api_key":
        kwargs["api_key"] = ENV_KEY
    settings = honeycomb_settings(environ=environ, **kwargs)
    assert extract(settings) == layers[index][3]


def test_signal_headers_replace_generic_headers_rather_than_merge() -> None:
    settings = honeycomb_settings(
        api_key=ENV_KEY,
        environ={
            "OTEL_EXPORTER_OTLP_HEADERS": "x-a=1,x-b=2",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-b=3",
        },
    )
    assert dict(settings.headers) == {"x-b": "3", "x-honeycomb-team": ENV_KEY}


def test_headers_are_url_decoded() -> None:
    settings = honeycomb_settings(
        environ={"OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=ab%2Bc%3D%3D, x-note=a%20b"}
    )
    assert settings.api_key == "ab+c=="
    assert settings.headers["x-note"] == "a b"


def test_honeycomb_traces_apikey_is_only_for_traces() -> None:
    env = {"HONEYCOMB_TRACES_APIKEY": "traces-key", "HONEYCOMB_API_KEY": "general-key"}
    assert honeycomb_settings(environ=env).api_key == "traces-key"
    metrics = honeycomb_settings(signal="metrics", dataset="m", environ=env)
    assert metrics.api_key == "general-key"


# --- settings: keys and datasets -------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "classic"),
    [
        (CLASSIC_HEX, True),
        (CLASSIC_NEW, True),
        (ENV_KEY, False),
        (INGEST_KEY, False),
        (CLASSIC_HEX.upper(), False),
        (CLASSIC_HEX[:-1], False),
    ],
)
def test_classic_key_shapes(key: str, classic: bool) -> None:
    assert is_classic_key(key) is classic


@pytest.mark.parametrize("key", [CLASSIC_HEX, CLASSIC_NEW])
def test_classic_key_sends_the_dataset_header(key: str) -> None:
    settings = honeycomb_settings(api_key=key, environ={"HONEYCOMB_DATASET": "payments"})
    assert dict(settings.headers) == {"x-honeycomb-team": key, "x-honeycomb-dataset": "payments"}


@pytest.mark.parametrize("key", [ENV_KEY, INGEST_KEY])
def test_environment_key_never_sends_the_dataset_header(key: str) -> None:
    settings = honeycomb_settings(
        api_key=key,
        environ={
            "HONEYCOMB_DATASET": "ignored",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-dataset=x",
        },
    )
    assert dict(settings.headers) == {"x-honeycomb-team": key}


def test_classic_key_without_dataset_names_honeycomb_dataset() -> None:
    with pytest.raises(ConfigError, match="HONEYCOMB_DATASET") as info:
        honeycomb_settings(api_key=CLASSIC_HEX, environ={})
    assert CLASSIC_HEX[:5] not in str(info.value)


def test_missing_key_names_honeycomb_api_key() -> None:
    with pytest.raises(ConfigError, match="HONEYCOMB_API_KEY"):
        honeycomb_settings(environ={})
    with pytest.raises(ConfigError, match="HONEYCOMB_API_KEY"):
        honeycomb_settings(region="eu", protocol="grpc", environ={})


def test_local_collector_needs_no_key() -> None:
    settings = honeycomb_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"})
    assert settings.api_key is None
    assert "x-honeycomb-team" not in settings.headers
    assert settings.endpoint == "http://otel:4318/v1/traces"


def test_metrics_settings() -> None:
    env = {"HONEYCOMB_API_KEY": ENV_KEY, "HONEYCOMB_METRICS_DATASET": "stripe-metrics"}
    settings = honeycomb_settings(signal="metrics", environ=env)
    assert settings.endpoint == "https://api.honeycomb.io/v1/metrics"
    # Metrics name their dataset with the header whatever the key.
    assert settings.headers["x-honeycomb-dataset"] == "stripe-metrics"
    with pytest.raises(ConfigError, match="HONEYCOMB_METRICS_DATASET"):
        honeycomb_settings(signal="metrics", api_key=CLASSIC_HEX, environ={})


# --- settings: endpoints ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "env", "endpoint", "insecure"),
    [
        ({"endpoint": "https://x.test"}, {}, "https://x.test/v1/traces", False),
        ({"endpoint": "https://x.test/"}, {}, "https://x.test/v1/traces", False),
        ({"endpoint": "https://x.test/v1/traces"}, {}, "https://x.test/v1/traces", False),
        ({"endpoint": "https://x.test/proxy"}, {}, "https://x.test/proxy/v1/traces", False),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/in"}, "http://c:4318/in", True),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces", True),
        ({"region": "eu"}, {}, "https://api.eu1.honeycomb.io/v1/traces", False),
        ({}, {"HONEYCOMB_REGION": "EU"}, "https://api.eu1.honeycomb.io/v1/traces", False),
        ({"protocol": "grpc"}, {}, "api.honeycomb.io:443", False),
        ({"protocol": "grpc", "region": "eu"}, {}, "api.eu1.honeycomb.io:443", False),
        (
            {"protocol": "grpc", "endpoint": "https://api.honeycomb.io"},
            {},
            "api.honeycomb.io:443",
            False,
        ),
        ({"protocol": "grpc", "endpoint": "http://collector:4317"}, {}, "collector:4317", True),
        ({"protocol": "grpc", "endpoint": "collector:4317"}, {}, "collector:4317", False),
        ({"protocol": "grpc", "endpoint": "localhost:4317"}, {}, "localhost:4317", True),
        ({"protocol": "grpc", "endpoint": "127.0.0.1"}, {}, "127.0.0.1:4317", True),
        ({"protocol": "grpc", "endpoint": "[::1]:4317"}, {}, "[::1]:4317", True),
        ({"protocol": "grpc", "endpoint": "https://127.0.0.1:4317"}, {}, "127.0.0.1:4317", False),
        (
            {"protocol": "grpc"},
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://api.honeycomb.io/v1/traces"},
            "api.honeycomb.io:443",
            False,
        ),
    ],
)
def test_endpoint_rules(
    kwargs: dict[str, Any], env: dict[str, str], endpoint: str, insecure: bool
) -> None:
    settings = honeycomb_settings(api_key=ENV_KEY, environ=env, **kwargs)
    assert (settings.endpoint, settings.insecure) == (endpoint, insecure)
    assert EU_ENDPOINT.startswith("https://api.eu1.")


# --- settings: bad values ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "env", "named"),
    [
        ({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
        ({"protocol": "thrift"}, {}, "argument protocol="),
        ({}, {"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}, "OTEL_EXPORTER_OTLP_COMPRESSION"),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"}, "TRACES_COMPRESSION"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "0"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-1"}, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "inf"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({"timeout": "nan"}, {}, "argument timeout="),
        ({}, {"HONEYCOMB_REGION": "ap"}, "HONEYCOMB_REGION"),
        ({"region": "mars"}, {}, "argument region="),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({}, {"HONEYCOMB_API_ENDPOINT": "ftp://x"}, "HONEYCOMB_API_ENDPOINT"),
        ({"protocol": "grpc", "endpoint": "host:port"}, {}, "argument endpoint="),
        ({"endpoint": LOCAL, "region": "eu"}, {}, "endpoint= or region="),
    ],
)
def test_bad_values_name_their_variable(
    kwargs: dict[str, Any], env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        honeycomb_settings(api_key=ENV_KEY, environ=env, **kwargs)


def test_malformed_headers_name_the_variable_but_not_the_value() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": f"x-honeycomb-team:{ENV_KEY}"}
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_HEADERS") as info:
        honeycomb_settings(environ=env)
    assert ENV_KEY[:5] not in str(info.value)


# --- the key stays secret ---------------------------------------------------------------------
def _leaks(text: str, key: str) -> bool:
    return key[:5] in text  # a 4-character prefix is fine; anything longer is a leak


def test_key_not_in_repr_of_settings_or_exporters() -> None:
    settings = honeycomb_settings(api_key=ENV_KEY, environ={})
    exporter = HoneycombSpanExporter(settings)
    metrics = honeycomb_metric_exporter(api_key=ENV_KEY, dataset="m", environ={})
    for text in (repr(settings), str(settings), repr(exporter), str(exporter), repr(metrics)):
        assert not _leaks(text, ENV_KEY), text
    assert "'Zx9Q…'" in repr(settings)
    exporter.shutdown()
    metrics.shutdown()


@TRANSPORTS
def test_key_never_logged_even_on_failures(
    transport: str, rx: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exporter = exporter_for(rx, transport, timeout=0.5)
    rx.fail_next(401)
    exporter.export(make_spans(2))  # rejected
    rx.down()
    exporter.export(make_spans(2))  # connection refused
    rx.up()
    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "401" in text or "UNAUTHENTICATED" in text  # the failure was logged...
    assert not _leaks(text, ENV_KEY)  # ...without the key
    exporter.shutdown()


# --- Honeycomb's size limits -------------------------------------------------------------------
def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


def test_small_spans_pass_through_untouched() -> None:
    spans = make_spans(3, note="x" * 1000)
    assert all(fit_span(span) is span for span in spans)


@pytest.mark.parametrize("char", ["x", "é", "€", "😀"])
def test_oversize_string_is_cut_to_64000_bytes_utf8_safely(char: str) -> None:
    (span,) = make_spans(1, big=char * 70_000, small="keep me", count=3)
    fitted = fit_span(span)
    assert fitted is not span
    big = fitted.attributes["big"]  # type: ignore[index]
    assert isinstance(big, str)
    assert MAX_VALUE_BYTES - 4 < _bytes(big) <= MAX_VALUE_BYTES
    assert set(big) == {char}  # no half character, no marker
    assert fitted.attributes["small"] == "keep me"  # type: ignore[index]
    assert fitted.attributes["count"] == 3  # type: ignore[index]
    assert (fitted.name, fitted.context, fitted.end_time) == (
        span.name,
        span.context,
        span.end_time,
    )
    assert span.attributes["big"] == char * 70_000  # type: ignore[index]  # original intact


def test_many_large_values_fit_the_1mb_event_limit_largest_cut_first() -> None:
    attributes: dict[str, Any] = {f"v{i}": "y" * 60_000 for i in range(20)}  # 1.2 MB together
    (span,) = make_spans(1, tiny="t" * 1_000, **attributes)
    fitted = fit_span(span)
    assert fitted.attributes is not None
    total = sum(_bytes(v) for v in fitted.attributes.values() if isinstance(v, str))
    assert MAX_EVENT_STRING_BYTES - 100 <= total <= MAX_EVENT_STRING_BYTES
    assert fitted.attributes["tiny"] == "t" * 1_000


def test_string_arrays_count_as_one_field() -> None:
    (span,) = make_spans(1, parts=("a" * 30_000, "b" * 30_000, "c" * 30_000))
    parts = fit_span(span).attributes["parts"]  # type: ignore[index]
    assert parts == ("a" * 30_000, "b" * 30_000, "c" * 4_000)


def test_event_attributes_are_cut_and_dropped_counts_kept() -> None:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=2))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("s") as live:
        live.set_attributes({"a": 1, "b": 2, "c": 3})  # one dropped
        live.add_event("exception", {"exception.stacktrace": "z" * 100_000})
    (span,) = memory.get_finished_spans()
    fitted = fit_span(span)
    event_attributes = fitted.events[0].attributes
    assert event_attributes is not None
    assert len(str(event_attributes["exception.stacktrace"])) == MAX_VALUE_BYTES
    assert fitted.dropped_attributes == span.dropped_attributes == 1


# --- construction ---------------------------------------------------------------------------------
def test_no_argument_constructor_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONEYCOMB_API_KEY", CLASSIC_HEX)
    monkeypatch.setenv("HONEYCOMB_DATASET", "payments")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    exporter = HoneycombSpanExporter()
    assert exporter.settings.endpoint == "api.honeycomb.io:443"
    assert exporter.settings.headers["x-honeycomb-dataset"] == "payments"
    assert type(exporter.inner).__name__ == "GRPCExporter"
    exporter.shutdown()
    monkeypatch.setenv("HONEYCOMB_METRICS_DATASET", "metrics")
    metrics = HoneycombMetricExporter()
    assert metrics.settings.endpoint == "api.honeycomb.io:443"
    metrics.shutdown()


def test_no_argument_constructor_without_key_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="HONEYCOMB_API_KEY"):
        HoneycombSpanExporter()


# --- against a local OTLP receiver --------------------------------------------------------------
@TRANSPORTS
@pytest.mark.parametrize("key", [ENV_KEY, CLASSIC_HEX])
def test_headers_and_compression(transport: str, key: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport, api_key=key, dataset="payments")
    assert exporter.export(make_spans(3)) is SpanExportResult.SUCCESS
    (request,) = rx.requests
    assert request.headers["x-honeycomb-team"] == key
    if key == CLASSIC_HEX:
        assert request.headers["x-honeycomb-dataset"] == "payments"
    else:
        assert "x-honeycomb-dataset" not in request.headers
    if transport == "http":
        assert (request.path, request.content_encoding) == ("/v1/traces", "gzip")
    else:  # grpc-python hides grpc-encoding from the server: check what we asked for
        inner: Any = exporter.inner
        assert inner._compression.name == "Gzip"
    assert names(rx.spans) == ["span-0", "span-1", "span-2"]
    assert rx.spans[0]["resource"]["service.name"] == "checkout"
    exporter.shutdown()


@TRANSPORTS
def test_sends_exactly_the_resolved_headers(
    transport: str, rx: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK would merge these into an explicit headers= (HTTP) or fall back to them.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-from-env=1,x-honeycomb-dataset=x")
    exporter = exporter_for(rx, transport, headers={"x-from-arg": "2"})
    exporter.export(make_spans(1))
    (request,) = rx.requests
    assert request.headers["x-from-arg"] == "2"
    assert "x-from-env" not in request.headers
    assert "x-honeycomb-dataset" not in request.headers
    exporter.shutdown()


@TRANSPORTS
def test_oversize_values_arrive_truncated(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport)
    exporter.export(make_spans(2, big="€" * 30_000))
    received = rx.wait_for_spans(2, timeout=2)
    assert [_bytes(span["attributes"]["big"]) for span in received] == [63_999, 63_999]
    exporter.shutdown()


@TRANSPORTS
def test_401_drops_and_counts_without_retrying(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport)
    before = drops("rejected_401")
    rx.fail_next(401)
    started = time.monotonic()
    exporter.export(make_spans(4, "bad"))
    assert time.monotonic() - started < 0.5  # no backoff, no retry
    assert [r.rejected_status for r in rx.requests] == [401]
    assert drops("rejected_401") - before == 4
    assert exporter.backlog_spans == 0
    exporter.export(make_spans(2, "good"))
    assert names(rx.spans) == ["good-0", "good-1"]  # the rejected batch is not re-sent
    exporter.shutdown()


@TRANSPORTS
def test_503_goes_to_the_backlog_at_once_and_is_delivered_once(
    transport: str, rx: OtlpReceiver
) -> None:
    # One try per export: the SDK's own retry loop would hold the batch processor for
    # seconds; the failed batch waits in our bounded backlog instead.
    exporter = exporter_for(rx, transport, timeout=5.0)
    rx.fail_next(503)
    assert exporter.export(make_spans(3)) is SpanExportResult.SUCCESS  # kept, not lost
    assert [r.rejected_status for r in rx.requests] == [503]
    assert exporter.backlog_spans == 3
    exporter.export(make_spans(1, "next"))  # the backlog goes first
    assert [r.rejected_status for r in rx.requests] == [503, None, None]
    assert names(rx.spans) == ["span-0", "span-1", "span-2", "next-0"]
    assert exporter.backlog_spans == 0
    exporter.shutdown()


def test_429_honours_retry_after_within_the_timeout_over_http(rx: OtlpReceiver) -> None:
    # A wait the backend asks for (and that fits in the timeout) is still waited.
    exporter = exporter_for(rx, "http", timeout=2.0)
    rx.fail_next(429, retry_after=0.3)
    started = time.monotonic()
    exporter.export(make_spans(2))
    elapsed = time.monotonic() - started
    # Retry-After (0.3 s), not the default ~1 s backoff.
    assert 0.25 <= elapsed < 0.75
    assert [r.rejected_status for r in rx.requests] == [429, None]
    assert names(rx.spans) == ["span-0", "span-1"]
    exporter.shutdown()


def test_one_try_over_grpc_logs_no_retry_it_does_not_make(
    rx: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = exporter_for(rx, "grpc", timeout=2.0)
    rx.fail_next(503)
    with caplog.at_level(logging.WARNING):
        exporter.export(make_spans(1))
    assert [r.rejected_status for r in rx.requests] == [503]
    sdk_lines = [
        r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry.exporter")
    ]
    assert not [line for line in sdk_lines if "retrying in" in line or "Shutdown" in line]
    exporter.shutdown()


def test_429_over_grpc_goes_to_the_backlog(rx: OtlpReceiver) -> None:
    # The SDK's gRPC exporter sleeps its retries on the event we replace: no wait here.
    exporter = exporter_for(rx, "grpc", timeout=2.0)
    rx.fail_next(429, retry_after=0.3)
    exporter.export(make_spans(2))
    assert [r.rejected_status for r in rx.requests] == [429]
    assert exporter.backlog_spans == 2
    exporter.export(make_spans(1, "next"))
    assert names(rx.spans) == ["span-0", "span-1", "next-0"]
    exporter.shutdown()


@TRANSPORTS
def test_413_splits_the_batch(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport)
    exporter.export(make_spans(10, "probe", noise=150))
    ten = rx.requests[0].body_size
    rx.reset()
    rx.max_request_bytes = 2 * ten  # about 20 spans fit, 25 do not
    before = drops("too_large")
    spans = make_spans(50, "big", noise=150)
    exporter.export(spans)
    assert names(rx.spans) == [f"big-{i}" for i in range(50)]  # all, once, in order
    assert [r.rejected_status for r in rx.requests].count(413) == 3  # 50, 25, 25
    assert drops("too_large") == before
    exporter.shutdown()


@TRANSPORTS
def test_outage_delivers_everything_once_in_order(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport, timeout=0.5)
    rx.down()
    for batch in "abc":
        assert exporter.export(make_spans(3, batch)) is SpanExportResult.SUCCESS  # kept
    assert exporter.backlog_spans == 9
    rx.up()
    exporter.export(make_spans(3, "d"))
    expected = [f"{batch}-{i}" for batch in "abcd" for i in range(3)]
    assert names(rx.spans) == expected
    assert exporter.backlog_spans == 0
    exporter.shutdown()


@TRANSPORTS
def test_slow_backend_times_out_and_keeps_the_batch(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport, timeout=0.6)
    rx.fail_next(200, delay_s=3.0)
    started = time.monotonic()
    exporter.export(make_spans(4))
    assert time.monotonic() - started < 1.2
    assert exporter.backlog_spans == 4
    inner: Any = exporter.inner
    assert inner.last_status in (None, 504)  # a timeout: nothing says "never"
    exporter.shutdown()


@TRANSPORTS
def test_backlog_bound_drops_the_oldest_and_counts(transport: str, rx: OtlpReceiver) -> None:
    exporter = exporter_for(rx, transport, timeout=0.5, max_backlog_spans=10)
    before = drops("backlog_full")
    rx.down()
    for batch in "abcd":
        exporter.export(make_spans(5, batch))
    assert exporter.backlog_spans == 10
    assert drops("backlog_full") - before == 10
    rx.up()
    assert exporter.force_flush(5_000)
    assert names(rx.spans) == [f"{batch}-{i}" for batch in "cd" for i in range(5)]
    exporter.shutdown()


def test_metrics_go_to_v1_metrics_with_the_dataset_header(rx: OtlpReceiver) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    meter_provider.get_meter("t").create_counter("stripe_test.count").add(1)
    data = reader.get_metrics_data()
    assert data is not None
    exporter = honeycomb_metric_exporter(
        endpoint=rx.http_endpoint, api_key=ENV_KEY, dataset="stripe-metrics", timeout=1.0
    )
    exporter.export(data)  # the receiver only takes traces: it answers 404 but records
    (request,) = rx.requests
    assert request.path == "/v1/metrics"
    assert request.headers["x-honeycomb-team"] == ENV_KEY
    assert request.headers["x-honeycomb-dataset"] == "stripe-metrics"
    exporter.shutdown()
    meter_provider.shutdown()


def test_a_batch_the_sdk_will_not_send_is_split_then_dropped_not_retried_forever(
    rx: OtlpReceiver,
) -> None:
    exporter = exporter_for(rx, "http")
    inner: Any = exporter.inner
    inner._max_request_size = 1  # every request is "too large" before sending
    before = drops("too_large")
    exporter.export(make_spans(4, "huge"))
    assert inner.last_status == 413
    assert drops("too_large") - before == 4
    assert exporter.backlog_spans == 0  # not a poison pill at the head of the backlog
    assert rx.requests == []
    exporter.shutdown()
