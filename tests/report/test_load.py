"""Reading OTLP/JSON: liberal in what the writers produce, one clear line for the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.trace import TracerProvider

import stripe_otel
from stripe_otel import report
from stripe_otel.report import ReportError
from tests.conftest import Telemetry
from tests.report._otlp import otlp_dict, write_otlp

pytestmark = pytest.mark.integration

_KINDS = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


@pytest.fixture
def spans(stripe_globals: Any, instrument: Telemetry) -> Telemetry:
    """A checkout with a declined confirm: errors, ints, bools, doubles, parents."""
    with stripe_otel.transaction("checkout"):
        intent = stripe.PaymentIntent.create(
            amount=500, currency="usd", payment_method_types=["card"]
        )
        with pytest.raises(stripe.CardError):
            stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_chargeDeclined")
    return instrument


def _enums_and_numbers_as_ints(node: Any) -> Any:
    """What other writers do: kinds and status codes as ints, int64s as JSON numbers."""
    if isinstance(node, list):
        return [_enums_and_numbers_as_ints(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _enums_and_numbers_as_ints(v) for k, v in node.items()}
    if isinstance(out.get("kind"), str):
        out["kind"] = _KINDS[out["kind"]]
    if "code" in out and isinstance(out["code"], str) and out["code"] in _STATUS:
        out["code"] = _STATUS[out["code"]]
    for key in ("intValue", "startTimeUnixNano", "endTimeUnixNano"):
        if isinstance(out.get(key), str):
            out[key] = int(out[key])
    return out


def test_hex_base64_ints_and_pretty_printed_read_the_same(spans: Telemetry, tmp_path: Path) -> None:
    finished = spans.spans()
    expected = report.load(write_otlp(finished, tmp_path / "hex.jsonl"))
    assert len(expected) == len(finished)
    base64_ids = write_otlp(finished, tmp_path / "b64.jsonl", hex_ids=False)
    assert json.loads(base64_ids.read_text().splitlines()[0])["resourceSpans"][0]["scopeSpans"][0][
        "spans"
    ][0]["traceId"].endswith("=")
    ints = tmp_path / "ints.jsonl"
    ints.write_text(json.dumps(_enums_and_numbers_as_ints(otlp_dict(finished))) + "\n")
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(otlp_dict(finished), indent=2))
    for path in (base64_ids, ints, pretty):
        assert sorted(report.load(path), key=lambda s: s.span_id) == sorted(
            expected, key=lambda s: s.span_id
        ), path

    declined = next(s for s in expected if s.name.endswith("/confirm"))
    assert declined.kind == "CLIENT"
    assert declined.error is True
    assert declined.number("http.response.status_code") == 402
    root = next(s for s in expected if s.name == "checkout")
    assert root.parent_id is None
    assert declined.parent_id == root.span_id
    assert declined.trace_id == f"{spans.operations()[1].context.trace_id:032x}"  # type: ignore[union-attr]


def test_the_file_exporter_output_reads_the_same(spans: Telemetry, tmp_path: Path) -> None:
    file_exporter = pytest.importorskip("stripe_otel.exporters.file")
    exporter = file_exporter.OtlpJsonFileExporter(tmp_path / "exported.jsonl")
    finished = spans.spans()
    exporter.export(finished[:3])
    exporter.export(finished[3:])
    exporter.shutdown()
    ours = report.load(write_otlp(finished, tmp_path / "ours.jsonl"))
    assert sorted(report.load(tmp_path / "exported.jsonl"), key=lambda s: s.span_id) == sorted(
        ours, key=lambda s: s.span_id
    )


def _foreign_spans() -> dict[str, Any]:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("some.app").start_as_current_span("GET /health"):
        pass
    return otlp_dict(exporter.get_finished_spans())


BAD_INPUTS = {
    "bad_json_line": ('{"resourceSpans": []}\n\n{"resourceSpans": [\n', "line 3: not JSON"),
    "foreign_json": ('{"hello": "world"}\n', "line 1: no resourceSpans"),
    "otlp_metrics": (
        '{"resourceMetrics": []}\n',
        "line 1: no resourceSpans (it has resourceMetrics",
    ),
    "json_array": ("[1, 2]\n", "line 1: not an OTLP trace export"),
    "bad_id": (
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "00"}]}]}]}\n',
        "line 1: malformed span data",
    ),
    "empty": ("", "empty file: no Stripe spans found (is this stripe-otel output?)"),
    "blank_lines": ("\n  \n", "empty file"),
    "no_stripe_spans": (
        json.dumps(_foreign_spans()) + "\n",
        "no Stripe spans found (is this stripe-otel output?)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_error(case: str, tmp_path: Path) -> None:
    text, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_text(text)
    with pytest.raises(ReportError) as error:
        report.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"cannot read .*nope\.jsonl: No such file"):
        report.load(tmp_path / "nope.jsonl")
