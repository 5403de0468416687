"""OTel span -> Datadog span rules, and the v0.4 / v0.5 msgpack encodings."""

from __future__ import annotations

import json

import msgpack
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode

from stripe_otel import semconv as sc
from stripe_otel.exporters.datadog._encoding import encode_v04, encode_v05
from stripe_otel.exporters.datadog._mapping import SpanMapper, parse_tags
from tests.exporters._datadog_spans import (
    HIGH_HEX,
    LOW,
    TRACE_ID,
    ctx,
    make_span,
    stripe_trace,
)

CONFIRM = "POST /v1/payment_intents/{intent}/confirm"


@pytest.fixture(autouse=True)
def _no_dd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DD_SERVICE", "DD_ENV", "DD_VERSION", "DD_TAGS"):
        monkeypatch.delenv(name, raising=False)


def by_name(mapped: list[dict]) -> dict[str, dict]:
    return {d["name"]: d for d in mapped}


def test_names_resources_types_of_our_spans() -> None:
    mapped = SpanMapper().map_chunk(stripe_trace())
    view = [(d["name"], d["resource"], d["type"]) for d in mapped]
    assert view == [
        (sc.SPAN_NETWORK, CONFIRM, "custom"),
        (sc.SPAN_ATTEMPT, CONFIRM, "custom"),
        (sc.SPAN_SDK_DECODE, CONFIRM, "custom"),
        (sc.DD_OPNAME_REQUEST, CONFIRM, "http"),
        (sc.DD_OPNAME_TRANSACTION, "checkout", "custom"),
    ]


def test_measured_top_level_and_kind() -> None:
    d = by_name(SpanMapper().map_chunk(stripe_trace()))
    for name in (sc.SPAN_NETWORK, sc.SPAN_ATTEMPT, sc.SPAN_SDK_DECODE):
        assert d[name]["metrics"][sc.DD_MEASURED] == 1.0
        assert "_dd.top_level" not in d[name]["metrics"]
    assert sc.DD_MEASURED not in d[sc.DD_OPNAME_REQUEST]["metrics"]
    root = d[sc.DD_OPNAME_TRANSACTION]["metrics"]
    assert root["_dd.top_level"] == 1.0 and root["_sampling_priority_v1"] == 1.0
    assert d[sc.DD_OPNAME_REQUEST]["meta"]["span.kind"] == "client"
    assert d[sc.DD_OPNAME_TRANSACTION]["meta"]["span.kind"] == "internal"


def test_ids_128_bit_split_and_times() -> None:
    spans = stripe_trace()
    mapped = SpanMapper().map_chunk(spans)
    assert {d["trace_id"] for d in mapped} == {LOW}
    # Only the first span of the chunk carries the high half.
    assert mapped[0]["meta"]["_dd.p.tid"] == HIGH_HEX
    assert all("_dd.p.tid" not in d["meta"] for d in mapped[1:])
    assert mapped[-1]["parent_id"] == 0
    assert mapped[1]["parent_id"] == spans[3].context.span_id
    assert mapped[0]["span_id"] == spans[0].context.span_id
    assert (mapped[0]["start"], mapped[0]["duration"]) == (1_000, 2_500)


def test_remote_parent_keeps_its_id_and_is_top_level() -> None:
    span = make_span("GET /cart", kind=SpanKind.SERVER, parent=ctx(0xABC, remote=True))
    [d] = SpanMapper().map_chunk([span])
    assert d["parent_id"] == 0xABC
    assert d["metrics"]["_dd.top_level"] == 1.0


def test_attribute_types() -> None:
    span = make_span(
        "x",
        attributes={"s": "v", "b": True, "f": False, "i": 3, "d": 0.5, "arr": ("a", "b")},
    )
    [d] = SpanMapper().map_chunk([span])
    assert {k: d["meta"][k] for k in ("s", "b", "f", "arr")} == {
        "s": "v",
        "b": "true",
        "f": "false",
        "arr": '["a", "b"]',
    }
    assert d["metrics"]["i"] == 3.0 and isinstance(d["metrics"]["i"], float)
    assert d["metrics"]["d"] == 0.5


def test_explicit_datadog_attributes_win_and_are_not_meta() -> None:
    span = make_span(
        sc.SPAN_ATTEMPT,
        attributes={
            sc.DD_OPERATION_NAME: "custom.op",
            sc.DD_RESOURCE_NAME: "custom resource",
            sc.DD_SPAN_TYPE: "web",
        },
    )
    [d] = SpanMapper().map_chunk([span])
    assert (d["name"], d["resource"], d["type"]) == ("custom.op", "custom resource", "web")
    assert sc.DD_OPERATION_NAME not in d["meta"] and sc.DD_RESOURCE_NAME not in d["meta"]


def test_other_instrumentations_spans() -> None:
    sqlite = InstrumentationScope("opentelemetry.instrumentation.sqlite3", "0.1")
    db = make_span("INSERT", scope=sqlite, kind=SpanKind.CLIENT, attributes={"db.system": "x"})
    plain = make_span("work", scope=None)
    d_db, d_plain = SpanMapper().map_chunk([db, plain])
    assert d_db["name"] == "opentelemetry.instrumentation.sqlite3.client"
    assert (d_db["type"], d_db["resource"]) == ("sql", "INSERT")
    assert (d_plain["name"], d_plain["type"]) == ("opentelemetry.internal", "custom")


def test_phase_without_its_operation_in_the_chunk_uses_its_own_name() -> None:
    # A partial flush can send phases before their operation has ended.
    network = stripe_trace()[0]
    [d] = SpanMapper().map_chunk([network])
    assert d["resource"] == sc.SPAN_NETWORK


def test_error_from_exception_event() -> None:
    event = Event(
        sc.EVENT_EXCEPTION,
        {
            sc.EXCEPTION_TYPE: "stripe.CardError",
            sc.EXCEPTION_MESSAGE: "declined",
            sc.EXCEPTION_STACKTRACE: "Traceback ...",
        },
        timestamp=2_000,
    )
    span = make_span(
        "POST /v1/payment_intents",
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, "description"),
        events=(event,),
    )
    [d] = SpanMapper().map_chunk([span])
    assert d["error"] == 1
    assert d["meta"][sc.ERROR_TYPE] == "stripe.CardError"
    assert d["meta"]["error.message"] == "declined"
    assert d["meta"]["error.stack"] == "Traceback ..."
    [decoded] = json.loads(d["meta"]["events"])
    assert decoded["name"] == sc.EVENT_EXCEPTION and decoded["time_unix_nano"] == 2_000
    assert decoded["attributes"][sc.EXCEPTION_TYPE] == "stripe.CardError"


def test_error_from_status_description_and_ok_spans() -> None:
    failed = make_span("a", status=Status(StatusCode.ERROR, "HTTP 500"))
    fine = make_span("b")
    d_failed, d_fine = SpanMapper().map_chunk([failed, fine])
    assert (d_failed["error"], d_failed["meta"]["error.message"]) == (1, "HTTP 500")
    assert d_fine["error"] == 0 and "error.message" not in d_fine["meta"]


def test_service_env_version_from_resource_then_defaults() -> None:
    [d] = SpanMapper().map_chunk([make_span("x")])
    assert d["service"] == "shop" and d["meta"]["env"] == "staging"
    unnamed = Resource({"service.name": "unknown_service:python", "service.version": "9"})
    [d] = SpanMapper().map_chunk([make_span("x", resource=unnamed)])
    assert d["service"] == "stripe-otel-app"
    assert d["meta"]["version"] == "9" and "env" not in d["meta"]


def test_dd_env_beats_resource_and_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_SERVICE", "env-svc")
    monkeypatch.setenv("DD_ENV", "prod")
    monkeypatch.setenv("DD_VERSION", "1.2")
    monkeypatch.setenv("DD_TAGS", "team:payments,region:eu")
    [d] = SpanMapper().map_chunk([make_span("x")])
    assert (d["service"], d["meta"]["env"], d["meta"]["version"]) == ("env-svc", "prod", "1.2")
    assert (d["meta"]["team"], d["meta"]["region"]) == ("payments", "eu")
    mapper = SpanMapper(service="arg", env="qa", version="2", tags={"team": "core"})
    [d] = mapper.map_chunk([make_span("x")])
    assert (d["service"], d["meta"]["env"], d["meta"]["version"]) == ("arg", "qa", "2")
    assert (d["meta"]["team"], d["meta"]["region"]) == ("core", "eu")


def test_parse_tags() -> None:
    assert parse_tags("a:1,b:2:3, c:x y") == {"a": "1", "b": "2:3", "c": "x y"}
    assert parse_tags("a:1 b:2") == {"a": "1", "b": "2"}
    assert parse_tags("") == {}


def test_v04_round_trip() -> None:
    mapped = SpanMapper().map_chunk(stripe_trace())
    [decoded] = msgpack.unpackb(encode_v04([mapped]))
    assert decoded == mapped
    assert set(decoded[0]) == {
        "trace_id", "span_id", "parent_id", "name", "service", "resource",
        "type", "start", "duration", "error", "meta", "metrics",
    }  # fmt: skip


def test_v05_round_trip_through_the_string_table() -> None:
    chunks = [SpanMapper().map_chunk(stripe_trace()), SpanMapper().map_chunk(stripe_trace(7))]
    table, traces = msgpack.unpackb(encode_v05(chunks), strict_map_key=False)
    assert table[0] == ""
    assert len(table) == len(set(table)), "each string once"
    assert [len(t) for t in traces] == [5, 5]
    for chunk, arrays in zip(chunks, traces, strict=True):
        for span, array in zip(chunk, arrays, strict=True):
            assert len(array) == 12
            service, name, resource, tid, sid, pid, start, dur, err, meta, metrics, typ = array
            assert [table[service], table[name], table[resource], table[typ]] == [
                span["service"], span["name"], span["resource"], span["type"],
            ]  # fmt: skip
            assert (tid, sid, pid, start, dur, err) == (
                span["trace_id"], span["span_id"], span["parent_id"],
                span["start"], span["duration"], span["error"],
            )  # fmt: skip
            assert {table[k]: table[v] for k, v in meta.items()} == span["meta"]
            assert {table[k]: v for k, v in metrics.items()} == span["metrics"]


def test_v05_is_smaller_than_v04() -> None:
    chunks = [SpanMapper().map_chunk(stripe_trace(TRACE_ID + i)) for i in range(50)]
    assert len(encode_v05(chunks)) < len(encode_v04(chunks)) / 2


def test_status_code_is_also_the_tag_datadog_splits_trace_metrics_by() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from stripe_otel import semconv
    from stripe_otel.exporters.datadog._mapping import SpanMapper

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span(
        "stripe.attempt", attributes={semconv.HTTP_RESPONSE_STATUS_CODE: 429}
    ).end()
    [mapped] = SpanMapper().map_chunk(list(memory.get_finished_spans()))
    assert mapped["meta"]["http.status_code"] == "429"
    assert mapped["metrics"][semconv.HTTP_RESPONSE_STATUS_CODE] == 429.0
