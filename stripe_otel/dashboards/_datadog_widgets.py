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

from stripe_otel import semconv

JSON = dict[str, Any]

#: Template variables: every query is scoped by both.
ENV_VAR: Final = "env"
SERVICE_VAR: Final = "service"
_SCOPE: Final = f"${ENV_VAR},${SERVICE_VAR}"
_SEARCH_SCOPE: Final = f"${ENV_VAR} ${SERVICE_VAR}"

#: Datadog's own names (tags of trace metrics, reserved span fields): not ours to emit.
TAG_RESOURCE: Final = "resource_name"
TAG_STATUS: Final = "http.status_code"
FIELD_DURATION: Final = "@duration"
FIELD_TIMESTAMP: Final = "timestamp"
FIELD_SERVICE: Final = "service"

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
    scope = ",".join((_SCOPE, *filters))
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
        "search": {"query": f"{_SEARCH_SCOPE} {search}".strip()},
        "indexes": ["*"],
        "compute": compute,
        "group_by": groups,
    }


def formula(expression: str, alias: str, unit: str | None = None) -> JSON:
    result: JSON = {"formula": expression, "alias": alias}
    if unit is not None:
        result["number_format"] = {"unit": {"type": "canonical_unit", "unit_name": unit}}
    return result


def _request(queries: list[JSON], formulas: list[JSON], response_format: str) -> JSON:
    return {"queries": queries, "formulas": formulas, "response_format": response_format}


def timeseries(
    title: str,
    description: str,
    queries: list[JSON],
    formulas: list[JSON],
    display_type: str = "line",
) -> JSON:
    request = _request(queries, formulas, "timeseries")
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
        "requests": [_request(queries, formulas, "scalar")],
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


# --- The board ------------------------------------------------------------------------

_REQ: Final = semconv.DD_OPNAME_REQUEST
_HITS: Final = trace_metric(_REQ, "hits")
_ERRORS: Final = trace_metric(_REQ, "errors")
_LATENCY: Final = trace_metric(_REQ)
_ATTEMPT_HITS: Final = trace_metric(semconv.SPAN_ATTEMPT, "hits")
_BY_RESOURCE: Final = (TAG_RESOURCE,)
_RATE: Final = ".as_rate()"
_COUNT: Final = ".as_count()"


def _traffic() -> list[tuple[JSON, int, int]]:
    calls = metric_query("calls", "sum", _HITS, by=_BY_RESOURCE, suffix=_RATE)
    latency = [metric_query(p, p, _LATENCY, by=_BY_RESOURCE) for p in ("p50", "p95", "p99")]
    table_queries = [
        metric_query("calls", "sum", _HITS, by=_BY_RESOURCE, suffix=_RATE, aggregator="avg"),
        *(
            metric_query(p, p, _LATENCY, by=_BY_RESOURCE, aggregator="max")
            for p in ("p50", "p95", "p99")
        ),
        metric_query("errors", "sum", _ERRORS, by=_BY_RESOURCE, suffix=_COUNT, aggregator="sum"),
        metric_query("total", "sum", _HITS, by=_BY_RESOURCE, suffix=_COUNT, aggregator="sum"),
    ]
    heatmap = {
        "type": "heatmap",
        "title": "Operation duration (heatmap)",
        "description": f"Every `{_REQ}` span (trace metric `{_LATENCY}`).",
        "show_legend": False,
        "requests": [
            {
                "request_type": "histogram",
                "query": {
                    "data_source": "metrics",
                    "name": "duration",
                    "query": f"histogram:{_LATENCY}{{{_SCOPE}}}",
                },
            }
        ],
    }
    table = {
        "type": "query_table",
        "title": "Endpoints",
        "description": "Calls per second, worst percentiles over the window, error share.",
        "has_search_bar": "auto",
        "requests": [
            _request(
                table_queries,
                [
                    {**formula("calls", "calls/s"), "limit": {"count": 50, "order": "desc"}},
                    formula("p50", "p50", "second"),
                    formula("p95", "p95", "second"),
                    formula("p99", "p99", "second"),
                    formula("100 * errors / total", "error %", "percent"),
                ],
                "scalar",
            )
        ],
    }
    return [
        (
            timeseries(
                "Calls per second by endpoint",
                f"Stripe operations (`{_HITS}`), by resource `METHOD url.template`.",
                [calls],
                [formula("calls", "calls/s")],
                "bars",
            ),
            6,
            3,
        ),
        (
            timeseries(
                "Latency p50 / p95 / p99 by endpoint",
                "Whole operation: retries, backoff and decoding included.",
                latency,
                [formula(p, p, "second") for p in ("p50", "p95", "p99")],
            ),
            6,
            3,
        ),
        (heatmap, 12, 3),
        (table, 12, 4),
    ]


_CALL_PHASES: Final = (
    (semconv.SPAN_NETWORK, semconv.PHASE_NETWORK),
    (semconv.SPAN_API_PROCESSING, semconv.PHASE_API_PROCESSING),
    (semconv.SPAN_SDK_DECODE, semconv.PHASE_SDK_DECODE),
)
_TRANSACTION_TOTALS: Final = (
    (semconv.STRIPE_PHASE_NETWORK_MS, semconv.PHASE_NETWORK),
    (semconv.STRIPE_PHASE_API_PROCESSING_MS, semconv.PHASE_API_PROCESSING),
    (semconv.STRIPE_PHASE_SDK_DECODE_MS, semconv.PHASE_SDK_DECODE),
    (semconv.STRIPE_PHASE_DB_WRITE_MS, semconv.PHASE_DB_WRITE),
    (semconv.STRIPE_PHASE_APP_MS, "app"),
)
_TRANSACTIONS: Final = f"{attr(semconv.STRIPE_TRANSACTION)}:*"


def _phases() -> list[tuple[JSON, int, int]]:
    per_call = [
        metric_query(phase, "sum", trace_metric(span), by=_BY_RESOURCE, aggregator="sum")
        for span, phase in _CALL_PHASES
    ]
    per_call.append(
        metric_query("calls", "sum", _HITS, by=_BY_RESOURCE, suffix=_COUNT, aggregator="sum")
    )
    per_transaction = [
        span_query(
            phase,
            _TRANSACTIONS,
            "avg",
            measure=attr(key),
            group_by=attr(semconv.STRIPE_TRANSACTION),
        )
        for key, phase in _TRANSACTION_TOTALS
    ]
    return [
        (
            toplist(
                "Where a call's time goes, by endpoint (mean per call)",
                "Phase spans' trace metrics summed per endpoint, divided by its calls. "
                f"`{semconv.PHASE_API_PROCESSING}` is an estimate (headers wait minus RTT). "
                f"`{semconv.PHASE_DB_WRITE}` belongs to transactions: see the next widget.",
                per_call,
                [formula(f"{phase} / calls", phase, "second") for _, phase in _CALL_PHASES],
                stacked=True,
            ),
            6,
            4,
        ),
        (
            toplist(
                "Where a transaction's time goes (mean, ms)",
                "Totals carried by each transaction span "
                f"(`stripe_otel.transaction()`), by `{semconv.STRIPE_TRANSACTION}`; "
                "`app` is the app's own code. Needs a facet on the attribute.",
                per_transaction,
                [formula(phase, phase, "millisecond") for _, phase in _TRANSACTION_TOTALS],
                stacked=True,
            ),
            6,
            4,
        ),
    ]


def _errors() -> list[tuple[JSON, int, int]]:
    by_code = metric_query(
        "errors",
        "sum",
        semconv.METRIC_ERRORS,
        by=(semconv.STRIPE_ERROR_CODE,),
        suffix=_RATE,
    )
    by_status = metric_query("errors", "sum", _ERRORS, by=(TAG_STATUS,), suffix=_RATE)
    top = metric_query(
        "errors",
        "sum",
        semconv.METRIC_ERRORS,
        by=(semconv.STRIPE_ERROR_CODE, semconv.ERROR_TYPE, semconv.URL_TEMPLATE),
        suffix=_COUNT,
        aggregator="sum",
    )
    otel = "OpenTelemetry metric: needs OTLP metrics to the Agent (`datadog_otlp` or ddtrace)."
    return [
        (
            timeseries(
                "Errors per second by Stripe error code",
                f"`{semconv.METRIC_ERRORS}` by `{semconv.STRIPE_ERROR_CODE}` "
                f"(`none` when Stripe gave no code). {otel}",
                [by_code],
                [formula("errors", "errors/s")],
                "bars",
            ),
            6,
            3,
        ),
        (
            timeseries(
                "Errors per second by HTTP status",
                f"Failed `{_REQ}` spans (`{_ERRORS}`) by the last attempt's status.",
                [by_status],
                [formula("errors", "errors/s")],
                "bars",
            ),
            6,
            3,
        ),
        (
            toplist(
                "Top errors: code, exception, endpoint",
                f"`{semconv.METRIC_ERRORS}` over the window. {otel}",
                [top],
                [formula("errors", "errors")],
            ),
            12,
            3,
        ),
    ]


def _retries() -> list[tuple[JSON, int, int]]:
    queries = [
        metric_query("attempts", "sum", _ATTEMPT_HITS, by=_BY_RESOURCE, suffix=_COUNT),
        metric_query("calls", "sum", _HITS, by=_BY_RESOURCE, suffix=_COUNT),
        metric_query(
            "limited",
            "sum",
            _ATTEMPT_HITS,
            filters=(f"{TAG_STATUS}:429",),
            by=_BY_RESOURCE,
            suffix=_COUNT,
        ),
    ]
    by_status = metric_query(
        "retries",
        "sum",
        semconv.METRIC_RETRIES,
        by=(semconv.URL_TEMPLATE, semconv.HTTP_RESPONSE_STATUS_CODE),
        suffix=_COUNT,
        aggregator="sum",
    )
    return [
        (
            timeseries(
                "Retries and 429s by endpoint",
                f"Retries: `{semconv.SPAN_ATTEMPT}` spans minus operations. "
                "429: attempts Stripe rate-limited.",
                queries,
                [formula("attempts - calls", "retries"), formula("limited", "429s")],
                "bars",
            ),
            6,
            3,
        ),
        (
            toplist(
                "Retries by endpoint and the status that caused them",
                f"`{semconv.METRIC_RETRIES}` (OpenTelemetry metric, OTLP to the Agent).",
                [by_status],
                [formula("retries", "retries")],
            ),
            6,
            3,
        ),
    ]


_REQUEST_LEG: Final = f"{attr(semconv.STRIPE_NETWORK_LEG)}:request"
_NEW_CONNECTION: Final = f"{_REQUEST_LEG} {attr(semconv.STRIPE_CONNECTION_REUSED)}:false"


def _connections() -> list[tuple[JSON, int, int]]:
    share = [
        span_query("new", _NEW_CONNECTION, "count"),
        span_query("all", _REQUEST_LEG, "count"),
    ]
    costs = [
        span_query(name, _NEW_CONNECTION, "pc95", measure=attr(key))
        for name, key in (
            ("dns", semconv.STRIPE_NETWORK_DNS_MS),
            ("connect", semconv.STRIPE_NETWORK_CONNECT_MS),
            ("tls", semconv.STRIPE_NETWORK_TLS_MS),
        )
    ]
    return [
        (
            timeseries(
                "New connections (TLS handshakes), % of attempts",
                f"Request-leg `{semconv.SPAN_NETWORK}` spans with "
                f"`{semconv.STRIPE_CONNECTION_REUSED}:false`. High: keep-alive is not working "
                "(a client per call, or idle connections closed).",
                share,
                [formula("100 * new / all", "new connections", "percent")],
            ),
            6,
            3,
        ),
        (
            timeseries(
                "New-connection cost p95: DNS, connect, TLS",
                "Measured on the request leg of attempts that opened a connection.",
                costs,
                [formula(name, name, "millisecond") for name in ("dns", "connect", "tls")],
                "area",
            ),
            6,
            3,
        ),
    ]


def _transactions() -> list[tuple[JSON, int, int]]:
    slowest = span_query(
        "duration",
        _TRANSACTIONS,
        "pc95",
        measure=FIELD_DURATION,
        group_by=attr(semconv.STRIPE_TRANSACTION),
    )
    columns = [
        FIELD_TIMESTAMP,
        FIELD_SERVICE,
        attr(semconv.STRIPE_TRANSACTION),
        FIELD_DURATION,
        attr(semconv.STRIPE_TRANSACTION_OPERATIONS),
        attr(semconv.STRIPE_PHASE_API_PROCESSING_MS),
        attr(semconv.STRIPE_PHASE_DB_WRITE_MS),
        attr(semconv.STRIPE_PHASE_APP_MS),
    ]
    stream = {
        "type": "list_stream",
        "title": "Slowest transaction spans",
        "description": "Individual transaction spans, longest first: open one for its trace.",
        "requests": [
            {
                "response_format": "event_list",
                "query": {
                    "data_source": "trace_stream",
                    "query_string": f"{_SEARCH_SCOPE} {_TRANSACTIONS}",
                    "indexes": [],
                    "sort": {"column": FIELD_DURATION, "order": "desc"},
                },
                "columns": [{"field": field, "width": "auto"} for field in columns],
            }
        ],
    }
    return [
        (
            toplist(
                "Slowest transactions (p95)",
                f"Transaction spans by `{semconv.STRIPE_TRANSACTION}`, p95 duration.",
                [slowest],
                [formula("duration", "p95", "nanosecond")],
            ),
            5,
            4,
        ),
        (stream, 7, 4),
    ]


def _about() -> JSON:
    return {
        "type": "note",
        "content": (
            "**Stripe calls instrumented by stripe-otel.** Trace metrics "
            f"(`{_HITS}`, `{_LATENCY}`, ...) come from every exporter path. Widgets on "
            f"`{semconv.METRIC_ERRORS}` / `{semconv.METRIC_RETRIES}` need OpenTelemetry "
            "metrics over OTLP to the Agent (`datadog_otlp` or ddtrace). Span widgets "
            "(connections, transactions) count indexed spans and need facets for the "
            "`@stripe.*` attributes they group by or measure."
        ),
        "background_color": "white",
        "font_size": "14",
        "text_align": "left",
        "vertical_align": "top",
        "show_tick": False,
        "has_padding": True,
    }


def widgets() -> list[JSON]:
    return groups(
        [
            ("Traffic and latency", [(_about(), 12, 2), *_traffic()]),
            ("Where the time goes", _phases()),
            ("Errors", _errors()),
            ("Retries and rate limits", _retries()),
            ("Connections", _connections()),
            ("Transactions", _transactions()),
        ]
    )
