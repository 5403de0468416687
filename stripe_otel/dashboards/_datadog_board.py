"""The sections of the Datadog board: which widgets, on which queries, in which order.

The query and widget primitives are in :mod:`._datadog_widgets`; every name comes from
:mod:`stripe_otel.semconv`.
"""

from __future__ import annotations

from typing import Final

from stripe_otel import semconv
from stripe_otel.dashboards._datadog_widgets import (
    FIELD_DURATION,
    FIELD_OPERATION,
    FIELD_SERVICE,
    FIELD_TIMESTAMP,
    JSON,
    SCOPE,
    SEARCH_SCOPE,
    TAG_RESOURCE,
    TAG_STATUS,
    attr,
    formula,
    groups,
    metric_query,
    span_query,
    timeseries,
    toplist,
    trace_metric,
    widget_request,
)

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
                    "query": f"histogram:{_LATENCY}{{{SCOPE}}}",
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
            widget_request(
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
                    "query_string": f"{SEARCH_SCOPE} {_TRANSACTIONS}",
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


def _webhooks() -> list[tuple[JSON, int, int]]:
    # Span queries on the webhook span's own attributes: webhook spans are children of the
    # app's request span, so there are no trace metrics for them.
    webhooks = f"{FIELD_OPERATION}:{semconv.SPAN_WEBHOOK}"
    lag = [
        span_query(
            name, webhooks, aggregation, measure=attr(semconv.STRIPE_WEBHOOK_DELIVERY_LAG_MS)
        )
        for name, aggregation in (("p50", "median"), ("p95", "pc95"), ("p99", "pc99"))
    ]
    age = span_query(
        "age",
        webhooks,
        "pc95",
        measure=attr(semconv.STRIPE_EVENT_AGE_MS),
        group_by=attr(semconv.STRIPE_EVENT_TYPE),
    )
    return [
        (
            timeseries(
                "Webhook delivery lag (ms)",
                f"From Stripe signing a delivery (`t=`) to the app handling it "
                f"(`{semconv.STRIPE_WEBHOOK_DELIVERY_LAG_MS}`). Rising: a slow or failing "
                "endpoint, or a queue in front of the handler.",
                lag,
                [formula(name, name, "millisecond") for name in ("p50", "p95", "p99")],
            ),
            7,
            3,
        ),
        (
            toplist(
                "Event age when handled, p95 by type",
                f"`{semconv.STRIPE_EVENT_AGE_MS}`: now minus the event's creation.",
                [age],
                [formula("age", "p95 age", "millisecond")],
            ),
            5,
            3,
        ),
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
            ("Webhooks", _webhooks()),
        ]
    )
