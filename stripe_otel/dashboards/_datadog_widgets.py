"""The widgets of the Datadog board, built from :mod:`stripe_otel.semconv`.

Three kinds of query, each chosen for what only it can do:

- **trace metrics** (``trace.<operation>.hits|errors`` and the ``trace.<operation>``
  latency distribution), computed by Datadog for the top-level ``stripe.request`` spans
  and the measured attempt and phase spans, tagged ``env``, ``service``, ``resource_name``
  and ``http.status_code``. They see every span, sampled or not.
- **OpenTelemetry metrics** (``stripe.client.*``, only when they reach the Agent over OTLP:
  ``datadog_otlp`` or ddtrace), for what trace metrics cannot split by: ``stripe.error.code``.
- **span queries** (``data_source: spans``, ``trace_stream``) on span attributes
  (``@stripe.connection.reused``, the transaction totals). They see indexed spans only, and
  grouping by an attribute needs a facet for it in APM.
"""

from __future__ import annotations

from typing import Any, Final

JSON = dict[str, Any]

#: Template variables: every query is scoped by both.
ENV_VAR: Final = "env"
SERVICE_VAR: Final = "service"
SCOPE: Final = f"${ENV_VAR},${SERVICE_VAR}"
SEARCH_SCOPE: Final = f"${ENV_VAR} ${SERVICE_VAR}"

#: Datadog's own names (tags of trace metrics, reserved span fields): not ours to emit.
TAG_RESOURCE: Final = "resource_name"
TAG_STATUS: Final = "http.status_code"
FIELD_DURATION: Final = "@duration"
FIELD_TIMESTAMP: Final = "timestamp"
FIELD_SERVICE: Final = "service"
FIELD_OPERATION: Final = "operation_name"

_GRID: Final = 12  # columns of an ordered dashboard


def trace_metric(operation: str, suffix: str = "") -> str:
    """``trace.<operation>`` (latency distribution) or ``trace.<operation>.<suffix>``."""
    return f"trace.{operation}.{suffix}" if suffix else f"trace.{operation}"


def attr(key: str) -> str:
    """A span attribute in span-query syntax: ``@key``."""
    return f"@{key}"


def metric_query(
    name: str,
    aggregation: str,
    metric: str,
    *,
    filters: tuple[str, ...] = (),
    by: tuple[str, ...] = (),
    suffix: str = "",
    aggregator: str | None = None,
) -> JSON:
    """``aggregation:metric{$env,$service,filters} by {by}suffix`` as a formula query."""
    scope = ",".join((SCOPE, *filters))
    query = f"{aggregation}:{metric}{{{scope}}}"
    if by:
        query += f" by {{{','.join(by)}}}"
    result: JSON = {"data_source": "metrics", "name": name, "query": query + suffix}
    if aggregator is not None:
        result["aggregator"] = aggregator
    return result


def span_query(
    name: str,
    search: str,
    aggregation: str,
    *,
    measure: str | None = None,
    group_by: str | None = None,
    limit: int = 10,
) -> JSON:
    """A span (APM) query: ``$env $service search``, *aggregation* of *measure*."""
    compute: JSON = {"aggregation": aggregation}
    if measure is not None:
        compute["metric"] = measure
    groups: list[JSON] = []
    if group_by is not None:
        sort: JSON = {"aggregation": aggregation, "order": "desc"}
        if measure is not None:
            sort["metric"] = measure
        groups.append({"facet": group_by, "limit": limit, "sort": sort})
    return {
        "data_source": "spans",
        "name": name,
        "search": {"query": f"{SEARCH_SCOPE} {search}".strip()},
        "indexes": ["*"],
        "compute": compute,
        "group_by": groups,
    }


def formula(expression: str, alias: str, unit: str | None = None) -> JSON:
    result: JSON = {"formula": expression, "alias": alias}
    if unit is not None:
        result["number_format"] = {"unit": {"type": "canonical_unit", "unit_name": unit}}
    return result


def widget_request(queries: list[JSON], formulas: list[JSON], response_format: str) -> JSON:
    return {"queries": queries, "formulas": formulas, "response_format": response_format}


def timeseries(
    title: str,
    description: str,
    queries: list[JSON],
    formulas: list[JSON],
    display_type: str = "line",
) -> JSON:
    request = widget_request(queries, formulas, "timeseries")
    request["display_type"] = display_type
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "show_legend": True,
        "legend_layout": "auto",
        "requests": [request],
    }


def toplist(
    title: str,
    description: str,
    queries: list[JSON],
    formulas: list[JSON],
    *,
    stacked: bool = False,
    limit: int = 10,
) -> JSON:
    formulas = [dict(f) for f in formulas]
    formulas[0]["limit"] = {"count": limit, "order": "desc"}
    definition: JSON = {
        "type": "toplist",
        "title": title,
        "description": description,
        "requests": [widget_request(queries, formulas, "scalar")],
    }
    if stacked:
        definition["style"] = {"display": {"type": "stacked", "legend": "automatic"}}
    return definition


def _layout(widgets: list[tuple[JSON, int, int]]) -> tuple[list[JSON], int]:
    """Flow (definition, width, height) left to right on the 12-column grid."""
    placed: list[JSON] = []
    x = y = row_height = 0
    for definition, width, height in widgets:
        if x + width > _GRID:
            x, y, row_height = 0, y + row_height, 0
        placed.append(
            {"definition": definition, "layout": {"x": x, "y": y, "width": width, "height": height}}
        )
        x += width
        row_height = max(row_height, height)
    return placed, y + row_height


def groups(sections: list[tuple[str, list[tuple[JSON, int, int]]]]) -> list[JSON]:
    """Group widgets, one per (title, widgets), stacked down the page."""
    result: list[JSON] = []
    y = 0
    for title, members in sections:
        placed, height = _layout(members)
        result.append(
            {
                "definition": {
                    "type": "group",
                    "title": title,
                    "layout_type": "ordered",
                    "show_title": True,
                    "widgets": placed,
                },
                "layout": {"x": 0, "y": y, "width": _GRID, "height": height + 1},
            }
        )
        y += height + 1
    return result
