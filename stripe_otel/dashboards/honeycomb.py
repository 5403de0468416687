"""The Honeycomb board for stripe-otel: queries, their annotations and one flexible board.

:func:`build` returns the whole thing as plain data::

    {"queries": [{"key", "name", "description", "query", "style"}, ...],
     "board": {"name", "description", "type": "flexible", "panels": [...], ...}}

A query panel of ``board`` names its query by ``query_key`` (and may carry
``visualization_settings``); :func:`import_board` swaps that for the ``query_id`` and
``query_annotation_id`` Honeycomb hands out and the ``query_style`` of the query.
:func:`validate` checks all of it against Honeycomb's own OpenAPI schemas, and
:func:`referenced_names` lists every column it reads.

Panels: request rate, latency percentiles, latency heatmap, errors (by Stripe code and by
HTTP status), retries, 429s by ``Stripe-Rate-Limited-Reason``, connection reuse, the phase
breakdown per endpoint and per transaction, and the slowest transactions, and webhook delivery
lag and event age from the webhook spans.

Every query is environment-wide by default (dataset ``__all__``): spans from every service
that uses stripe-otel, narrowed with the board's ``service.name`` preset filter.
"""

from __future__ import annotations

import json
from typing import Any, Final

from stripe_otel import semconv as sc
from stripe_otel.dashboards._honeycomb_import import import_board
from stripe_otel.dashboards._honeycomb_spec import STYLES, referenced_names
from stripe_otel.dashboards._honeycomb_validate import SPEC_ENV, openapi_path, validate

__all__ = [
    "BOARD_NAME",
    "SPEC_ENV",
    "STANDARD_COLUMNS",
    "STYLES",
    "build",
    "import_board",
    "openapi_path",
    "referenced_names",
    "validate",
]

BOARD_NAME: Final = "Stripe (stripe-otel)"

# --- Columns Honeycomb itself derives from every OTLP span ------------------------------
COL_NAME: Final = "name"
COL_DURATION_MS: Final = "duration_ms"
COL_TRACE_ID: Final = "trace.trace_id"
COL_PARENT_ID: Final = "trace.parent_id"
COL_SPAN_KIND: Final = "span.kind"
COL_SERVICE_NAME: Final = "service.name"
COL_STATUS_CODE: Final = "status_code"
COL_ERROR: Final = "error"
#: Honeycomb's standard span columns (not attributes of ours).
STANDARD_COLUMNS: Final[frozenset[str]] = frozenset(
    {
        COL_NAME,
        COL_DURATION_MS,
        COL_TRACE_ID,
        COL_PARENT_ID,
        COL_SPAN_KIND,
        COL_SERVICE_NAME,
        COL_STATUS_CODE,
        COL_ERROR,
    }
)
_SPAN_KIND_CLIENT: Final = "client"
#: Value of semconv.STRIPE_NETWORK_LEG on the network span that opens an attempt.
_LEG_REQUEST: Final = "request"

TIME_RANGE_S: Final = 7200
GRANULARITY_S: Final = 60

_Q = dict[str, Any]


def _eq(column: str, value: object) -> _Q:
    return {"column": column, "op": "=", "value": value}


def _exists(column: str) -> _Q:
    return {"column": column, "op": "exists"}


def _calc(op: str, column: str | None = None) -> _Q:
    return {"op": op} if column is None else {"op": op, "column": column}


def _desc(op: str, column: str | None = None) -> _Q:
    return _calc(op, column) | {"order": "descending"}


#: Operation spans: our CLIENT spans, the ones with a URL template.
_OPERATIONS: Final = (_eq(COL_SPAN_KIND, _SPAN_KIND_CLIENT), _exists(sc.URL_TEMPLATE))
_TRANSACTIONS: Final = (_exists(sc.STRIPE_TRANSACTION),)
_OPERATION_PHASES: Final = (
    sc.STRIPE_PHASE_NETWORK_MS,
    sc.STRIPE_PHASE_API_PROCESSING_MS,
    sc.STRIPE_PHASE_SDK_DECODE_MS,
    sc.STRIPE_PHASE_APP_MS,
)
_TRANSACTION_PHASES: Final = (
    sc.STRIPE_PHASE_NETWORK_MS,
    sc.STRIPE_PHASE_API_PROCESSING_MS,
    sc.STRIPE_PHASE_SDK_DECODE_MS,
    sc.STRIPE_PHASE_DB_WRITE_MS,
    sc.STRIPE_PHASE_APP_MS,
)


def _query(
    calculations: list[_Q],
    filters: tuple[_Q, ...] | list[_Q],
    *,
    breakdowns: tuple[str, ...] = (),
    orders: tuple[_Q, ...] = (),
    limit: int | None = None,
    series: bool = True,
) -> _Q:
    query: _Q = {"calculations": calculations, "filters": list(filters), "time_range": TIME_RANGE_S}
    if breakdowns:
        query["breakdowns"] = list(breakdowns)
    if orders:
        query["orders"] = list(orders)
    if limit is not None:
        query["limit"] = limit
    if series:
        query["granularity"] = GRANULARITY_S
    return query


def _entry(key: str, name: str, description: str, query: _Q, style: str = "graph") -> _Q:
    return {"key": key, "name": name, "description": description, "query": query, "style": style}


def _queries() -> list[_Q]:
    dur = COL_DURATION_MS
    return [
        _entry(
            "request_rate",
            "Stripe requests by endpoint",
            "Stripe API operations per minute, by URL template (retries count once).",
            _query(
                [_calc("COUNT")],
                _OPERATIONS,
                breakdowns=(sc.URL_TEMPLATE,),
                orders=(_desc("COUNT"),),
            ),
        ),
        _entry(
            "latency_percentiles",
            "Stripe latency p50 / p95 / p99 by endpoint",
            "Duration of each Stripe operation, retries, backoff and decoding included.",
            _query(
                [_calc("P50", dur), _calc("P95", dur), _calc("P99", dur)],
                _OPERATIONS,
                breakdowns=(sc.URL_TEMPLATE,),
                orders=(_desc("P99", dur),),
            ),
            "combo",
        ),
        _entry(
            "latency_heatmap",
            "Stripe latency heatmap",
            "Distribution of operation durations: bands and outliers that percentiles hide.",
            _query([_calc("HEATMAP", dur)], _OPERATIONS),
        ),
        _entry(
            "errors_by_code",
            "Stripe errors by error code",
            "Failed operations per minute by Stripe's error code and the issuer's decline code.",
            _query(
                [_calc("COUNT")],
                [*_OPERATIONS, _eq(COL_ERROR, True)],
                breakdowns=(sc.STRIPE_ERROR_CODE, sc.STRIPE_ERROR_DECLINE_CODE),
                orders=(_desc("COUNT"),),
            ),
        ),
        _entry(
            "errors_by_status",
            "Stripe errors by HTTP status",
            "Failed operations per minute by the last attempt's HTTP status and the exception "
            "class (connection errors have no status).",
            _query(
                [_calc("COUNT")],
                [*_OPERATIONS, _eq(COL_ERROR, True)],
                breakdowns=(sc.HTTP_RESPONSE_STATUS_CODE, sc.ERROR_TYPE),
                orders=(_desc("COUNT"),),
            ),
        ),
        _entry(
            "retries",
            "Stripe retries by endpoint",
            "Attempts after the first (SUM of stripe.num_retries), by URL template.",
            _query(
                [_calc("SUM", sc.STRIPE_NUM_RETRIES)],
                _OPERATIONS,
                breakdowns=(sc.URL_TEMPLATE,),
                orders=(_desc("SUM", sc.STRIPE_NUM_RETRIES),),
            ),
        ),
        _entry(
            "rate_limited",
            "Stripe 429s by rate-limit reason",
            "Attempts Stripe answered 429, by its Stripe-Rate-Limited-Reason header.",
            _query(
                [_calc("COUNT")],
                [_eq(COL_NAME, sc.SPAN_ATTEMPT), _eq(sc.HTTP_RESPONSE_STATUS_CODE, 429)],
                breakdowns=(sc.STRIPE_RATE_LIMITED_REASON,),
                orders=(_desc("COUNT"),),
            ),
        ),
        _entry(
            "connection_reuse",
            "Stripe connections: new vs reused",
            "Attempts by whether they reused a kept-alive connection; new ones pay DNS, "
            "TCP connect and TLS.",
            _query(
                [_calc("COUNT")],
                [_eq(sc.STRIPE_PHASE, sc.PHASE_NETWORK), _eq(sc.STRIPE_NETWORK_LEG, _LEG_REQUEST)],
                breakdowns=(sc.STRIPE_CONNECTION_REUSED,),
            ),
        ),
        _entry(
            "phases_by_operation",
            "Where a Stripe call's time goes, by endpoint",
            "Average network, Stripe processing (estimated), SDK decode and the rest "
            "(request building, retry backoff) per operation, in ms.",
            _query(
                [_calc("AVG", column) for column in _OPERATION_PHASES],
                _OPERATIONS,
                breakdowns=(sc.URL_TEMPLATE,),
                orders=(_desc("AVG", sc.STRIPE_PHASE_API_PROCESSING_MS),),
            ),
            "combo",
        ),
        _entry(
            "phases_by_transaction",
            "Where a transaction's time goes",
            "Total network, Stripe processing (estimated), SDK decode, database writes and "
            "app time of each business transaction, in ms.",
            _query(
                [_calc("SUM", column) for column in _TRANSACTION_PHASES],
                _TRANSACTIONS,
                breakdowns=(sc.STRIPE_TRANSACTION,),
            ),
            "combo",
        ),
        _entry(
            "webhook_lag",
            "Webhook delivery lag and event age",
            "How long after Stripe signed a delivery the app handled it (p50/p95/p99), and how "
            "old events are by then (p95), by event type. Rising lag: a slow or failing "
            "endpoint (Stripe retries), or a queue in front of the handler.",
            _query(
                [
                    _calc("P50", sc.STRIPE_WEBHOOK_DELIVERY_LAG_MS),
                    _calc("P95", sc.STRIPE_WEBHOOK_DELIVERY_LAG_MS),
                    _calc("P99", sc.STRIPE_WEBHOOK_DELIVERY_LAG_MS),
                    _calc("P95", sc.STRIPE_EVENT_AGE_MS),
                ],
                [_eq(COL_NAME, sc.SPAN_WEBHOOK)],
                breakdowns=(sc.STRIPE_EVENT_TYPE,),
            ),
        ),
        _entry(
            "slowest_transactions",
            "Slowest transactions",
            "The ten slowest business transactions of the last two hours, with their traces.",
            _query(
                [_calc("MAX", dur)],
                _TRANSACTIONS,
                breakdowns=(sc.STRIPE_TRANSACTION, COL_TRACE_ID),
                orders=(_desc("MAX", dur),),
                limit=10,
                series=False,
            ),
            "table",
        ),
    ]


_NOTE: Final = (
    "## Stripe calls, traced by stripe-otel\n\n"
    f"One operation span per Stripe API call (`{COL_SPAN_KIND} = {_SPAN_KIND_CLIENT}` with a "
    f"`{sc.URL_TEMPLATE}`), a `{sc.SPAN_ATTEMPT}` child per retry, and phase spans tiling "
    "each attempt. "
    "**Stripe processing time is an estimate**: response wait minus the network round "
    "trip (Stripe sends no server timing). Webhook delivery lag comes from the "
    f"`{sc.SPAN_WEBHOOK}` spans. Use the *Service* filter to narrow the board to one service."
)


#: (query key, width) for each row under the note; 12 columns wide.
_LAYOUT: Final = (
    (("request_rate", 6), ("latency_percentiles", 6)),
    (("latency_heatmap", 6), ("errors_by_code", 6)),
    (("errors_by_status", 6), ("retries", 6)),
    (("rate_limited", 6), ("connection_reuse", 6)),
    (("phases_by_operation", 6), ("phases_by_transaction", 6)),
    (("webhook_lag", 12),),
    (("slowest_transactions", 12),),
)
_NOTE_HEIGHT: Final = 3
_PANEL_HEIGHT: Final = 6


def _board() -> _Q:
    panels: list[_Q] = [
        {
            "type": "text",
            "text_panel": {"content": _NOTE},
            "position": {"x_coordinate": 0, "y_coordinate": 0, "width": 12, "height": _NOTE_HEIGHT},
        }
    ]
    y = _NOTE_HEIGHT
    for row in _LAYOUT:
        x = 0
        for key, width in row:
            panel: _Q = {
                "type": "query",
                "query_key": key,
                "position": {
                    "x_coordinate": x,
                    "y_coordinate": y,
                    "width": width,
                    "height": _PANEL_HEIGHT,
                },
            }
            if key == "connection_reuse":
                panel["visualization_settings"] = {
                    "charts": [{"chart_index": 0, "chart_type": "stacked"}]
                }
            panels.append(panel)
            x += width
        y += _PANEL_HEIGHT
    return {
        "name": BOARD_NAME,
        "description": (
            "Stripe API calls traced by stripe-otel: rate, latency, errors, retries, "
            "connection reuse and where the time goes. Generated by stripe_otel.dashboards."
        ),
        "type": "flexible",
        "layout_generation": "manual",
        "preset_filters": [{"column": COL_SERVICE_NAME, "alias": "Service"}],
        "tags": [{"key": "source", "value": "stripe-otel"}],
        "panels": panels,
    }


def build() -> dict[str, Any]:
    """The queries and the board, as plain JSON data: a fresh copy on every call, with no
    object shared between two places (the JSON round trip guarantees both)."""
    spec: dict[str, Any] = json.loads(json.dumps({"queries": _queries(), "board": _board()}))
    return spec
