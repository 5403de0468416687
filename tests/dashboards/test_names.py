"""Every name a dashboard queries is one the instrumentation emits, so a rename cannot
silently empty a panel: the boards are built from semconv, the committed JSON must equal
what they build, and every column, attribute, tag and metric they reference must be ours
or the vendor's own."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from stripe_otel import semconv
from stripe_otel.dashboards import VENDORS

ROOT = Path(__file__).parents[2]

# Datadog: trace metrics exist for the operations we name (top-level and measured spans).
_DD_OPERATIONS = {semconv.DD_OPNAME_REQUEST, semconv.DD_OPNAME_TRANSACTION} | (
    semconv.ALL_SPAN_NAMES - {semconv.SPAN_OPERATION_FALLBACK}
)
_DD_SUFFIXES = (
    "",
    ".hits",
    ".errors",
    ".duration",
    ".hits.by_http_status",
    ".errors.by_http_status",
)
DATADOG_OWN = (
    {"env", "service", "version", "resource_name", "http.status_code", "host"}
    # Span-query facets every Datadog span has.
    | {"duration", "timestamp", "operation_name", "status", "trace_id", "span.kind"}
    # Our operation names, which span queries filter on.
    | _DD_OPERATIONS
    | {f"trace.{op}{suffix}" for op in _DD_OPERATIONS for suffix in _DD_SUFFIXES}
)
# Honeycomb: columns every OpenTelemetry span has there.
HONEYCOMB_OWN = {
    "name", "duration_ms", "trace.trace_id", "trace.parent_id", "trace.span_id",
    "span.kind", "service.name", "status_code", "error",
}  # fmt: skip
ALLOWED = {
    "datadog": semconv.ALL_ATTRIBUTES | semconv.ALL_METRICS | DATADOG_OWN,
    "honeycomb": semconv.ALL_ATTRIBUTES | HONEYCOMB_OWN,
}


def _module(vendor: str) -> Any:
    return importlib.import_module(f"stripe_otel.dashboards.{vendor}")


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_referenced_name_is_emitted(vendor: str) -> None:
    module = _module(vendor)
    names = module.referenced_names(module.build())
    assert names, "the parser found no names at all"
    unknown = sorted(names - ALLOWED[vendor])
    assert not unknown, f"{vendor} dashboards query names nothing emits: {unknown}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_phase_names_are_queried(vendor: str) -> None:
    # The reason the product exists: the phase breakdown must be on every board.
    names = _module(vendor).referenced_names(_module(vendor).build())
    wanted = (
        {f"trace.{semconv.SPAN_API_PROCESSING}", f"trace.{semconv.SPAN_NETWORK}"}
        if vendor == "datadog"
        else {semconv.STRIPE_PHASE_API_PROCESSING_MS, semconv.STRIPE_PHASE_NETWORK_MS}
    )
    assert wanted <= names


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_misspelt_name_would_be_caught(vendor: str) -> None:
    module = _module(vendor)
    text = json.dumps(module.build())
    target = "url.template" if vendor == "honeycomb" else "resource_name"
    assert target in text
    broken = json.loads(text.replace(target, "url.tempalte"))
    assert "url.tempalte" in module.referenced_names(broken) - ALLOWED[vendor]


@pytest.mark.parametrize("vendor", VENDORS)
def test_committed_json_is_what_the_code_builds(vendor: str) -> None:
    committed = json.loads((ROOT / "dashboards" / vendor / "stripe-otel.json").read_text())
    assert committed == json.loads(json.dumps(_module(vendor).build())), (
        "dashboards/ is stale: run `stripe-otel dashboards export` and copy the files"
    )
