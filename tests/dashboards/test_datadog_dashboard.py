"""The Datadog board: valid for datadog-api-client's models, scoped by $env/$service,
committed as built, and imported idempotently against a local stand-in of the API."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_otel import semconv
from stripe_otel.dashboards import DashboardError, _datadog_api
from stripe_otel.dashboards.datadog import (
    DATADOG_NAMES,
    TITLE,
    build,
    import_dashboard,
    referenced_names,
    references,
    validate,
)
from tests.dashboards._datadog_api_standin import API_KEY, APP_KEY, DatadogStandIn

ROOT = Path(__file__).parents[2]
COMMITTED = ROOT / "dashboards" / "datadog" / "stripe-otel.json"


@pytest.fixture(scope="module")
def board() -> dict[str, Any]:
    return build()


def _definitions(widgets: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for widget in widgets:
        definition = widget["definition"]
        yield definition
        if definition["type"] == "group":
            yield from _definitions(definition["widgets"])


def _find(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(d for d in _definitions(board["widgets"]) if d.get("title") == title)


def _queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("q", "query", "query_string") and isinstance(value, str):
                yield value
            else:
                yield from _queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)


# --- Validation --------------------------------------------------------------------------------


def test_the_built_board_is_valid(board: dict[str, Any]) -> None:
    assert validate(board) == []


def test_the_models_alone_accept_a_bad_enum_silently(board: dict[str, Any]) -> None:
    # Why validate() walks the tree: deserializing does not raise.
    from datadog_api_client.configuration import Configuration
    from datadog_api_client.model_utils import validate_and_convert_types
    from datadog_api_client.v1.model.dashboard import Dashboard

    broken = copy.deepcopy(board)
    _find(broken, "Calls per second by endpoint")["requests"][0]["display_type"] = "bogus"
    model = validate_and_convert_types(
        broken, (Dashboard,), ["dashboard"], True, True, configuration=Configuration()
    )
    assert isinstance(model, Dashboard)
    assert model.widgets[0]._unparsed


def test_a_bad_enum_is_reported_with_its_path(board: dict[str, Any]) -> None:
    broken = copy.deepcopy(board)
    _find(broken, "Calls per second by endpoint")["requests"][0]["display_type"] = "bogus"
    problems = validate(broken)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        "widgets[0].definition.widgets[1].definition.requests[0].display_type: 'bogus'"
    )
    assert "bars" in problems[0]  # the allowed values are listed


def test_an_unknown_widget_type_is_reported(board: dict[str, Any]) -> None:
    broken = copy.deepcopy(board)
    _find(broken, "Operation duration (heatmap)")["type"] = "heatmapp"
    broken["widgets"].append({"definition": {"type": "sparkline", "title": "new"}})
    problems = validate(broken)
    assert problems == [
        "widgets[0].definition.widgets[3].definition: unknown widget type 'heatmapp'",
        f"widgets[{len(broken['widgets']) - 1}].definition: unknown widget type 'sparkline'",
    ]


def test_unknown_keys_missing_fields_and_bad_nested_enums_are_reported(
    board: dict[str, Any],
) -> None:
    broken = copy.deepcopy(board)
    broken["titel"] = "typo"
    slowest = _find(broken, "Slowest transaction spans")
    del slowest["requests"][0]["columns"]
    share = _find(broken, "New connections (TLS handshakes), % of attempts")
    share["requests"][0]["queries"][0]["data_source"] = "span"
    problems = "\n".join(validate(broken))
    assert "titel: unknown attribute of Dashboard" in problems
    assert "missing 1 required positional argument: 'columns'" in problems
    assert "queries[0].data_source: 'span' is not one of" in problems


def test_every_query_is_scoped_by_env_and_service(board: dict[str, Any]) -> None:
    queries = list(_queries(board["widgets"]))
    assert len(queries) >= 30
    for query in queries:
        assert "$env" in query and "$service" in query, query
    assert [v["name"] for v in board["template_variables"]] == ["env", "service"]
    assert all(
        v["prefix"] == v["name"] and v["defaults"] == ["*"] for v in board["template_variables"]
    )


def test_an_unscoped_query_or_an_unknown_formula_name_is_reported(board: dict[str, Any]) -> None:
    broken = copy.deepcopy(board)
    request = _find(broken, "Errors per second by HTTP status")["requests"][0]
    request["queries"][0]["query"] = request["queries"][0]["query"].replace(",$service", "")
    request["formulas"][0]["formula"] = "errors / calls"
    problems = validate(broken)
    assert len(problems) == 2, problems
    assert "query does not use $service" in problems[0]
    assert "'calls' is not a query of this request" in problems[1]


def test_validate_without_datadog_api_client_says_what_to_install(
    board: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datadog_api_client", None)  # import fails
    with pytest.raises(DashboardError, match=r"pip install 'stripe-otel\[dashboards\]'"):
        validate(board)


def test_the_committed_json_is_what_build_returns() -> None:
    assert COMMITTED.read_text() == json.dumps(build(), indent=2, sort_keys=True) + "\n"


# --- What the board shows ----------------------------------------------------------------------


def test_the_board_has_the_panels_it_promises(board: dict[str, Any]) -> None:
    definitions = list(_definitions(board["widgets"]))
    types = [d["type"] for d in definitions]
    assert board["title"] == TITLE == "Stripe (stripe-otel)"
    assert board["layout_type"] == "ordered"
    assert {"heatmap", "toplist", "query_table", "list_stream", "timeseries"} <= set(types)
    text = json.dumps(board)
    phases = _find(board, "Where a transaction's time goes (mean, ms)")
    assert [f["alias"] for f in phases["requests"][0]["formulas"]] == [
        semconv.PHASE_NETWORK,
        semconv.PHASE_API_PROCESSING,
        semconv.PHASE_SDK_DECODE,
        semconv.PHASE_DB_WRITE,
        "app",
    ]
    assert phases["style"]["display"]["type"] == "stacked"
    assert "http.status_code:429" in text
    assert semconv.STRIPE_WEBHOOK_DELIVERY_LAG_MS in text  # the webhook section


def test_referenced_names_of_the_board(board: dict[str, Any]) -> None:
    names = referenced_names(board)
    ours = names - DATADOG_NAMES
    operations = {semconv.DD_OPNAME_REQUEST, semconv.DD_OPNAME_TRANSACTION}
    operations |= semconv.ALL_SPAN_NAMES
    emitted = semconv.ALL_ATTRIBUTES | semconv.ALL_METRICS | operations
    trace_metrics = {n for n in ours if n.startswith("trace.")}
    assert ours - trace_metrics <= emitted, sorted(ours - trace_metrics - emitted)
    for metric in trace_metrics:  # trace.<operation>[.hits|.errors]
        assert (
            metric.removeprefix("trace.").removesuffix(".hits").removesuffix(".errors")
            in operations
        ), metric
    assert {
        semconv.STRIPE_ERROR_CODE,
        semconv.STRIPE_CONNECTION_REUSED,
        semconv.STRIPE_PHASE_DB_WRITE_MS,
        semconv.METRIC_ERRORS,
        semconv.METRIC_RETRIES,
        f"trace.{semconv.DD_OPNAME_REQUEST}",
        f"trace.{semconv.DD_OPNAME_REQUEST}.hits",
        f"trace.{semconv.SPAN_ATTEMPT}.hits",
        f"trace.{semconv.SPAN_API_PROCESSING}",
        "resource_name",
        "http.status_code",
        "env",
        "service",
    } <= names
    assert references(board).operations == {
        semconv.DD_OPNAME_REQUEST,
        semconv.SPAN_ATTEMPT,
        semconv.SPAN_NETWORK,
        semconv.SPAN_API_PROCESSING,
        semconv.SPAN_SDK_DECODE,
        semconv.SPAN_WEBHOOK,
    }


def test_the_query_parser() -> None:
    board = {
        "template_variables": [{"name": "e", "prefix": "env"}, {"name": "service"}],
        "widgets": [
            {
                "definition": {
                    "type": "timeseries",
                    "requests": [
                        {"q": "avg:trace.stripe.request{env:$e.value,$service} by {resource_name}"},
                        {"q": "sum:a.b{x:1 OR !y:2}.as_count() / sum:c.d{*} by {k1,k2}"},
                        {
                            "queries": [
                                {
                                    "data_source": "spans",
                                    "name": "q",
                                    "search": {
                                        "query": "$e $service -@stripe.connection.reused:false "
                                        'resource_name:"GET /v1/x:y" operation_name:stripe.attempt'
                                    },
                                    "compute": {"aggregation": "pc95", "metric": "@duration"},
                                    "group_by": [{"facet": "@stripe.transaction"}],
                                }
                            ]
                        },
                    ],
                }
            }
        ],
    }
    refs = references(board)
    assert refs.metrics == {"trace.stripe.request", "a.b", "c.d"}
    assert refs.tags == {"env", "service", "resource_name", "operation_name", "x", "y", "k1", "k2"}
    assert refs.attributes == {"stripe.connection.reused", "duration", "stripe.transaction"}
    assert refs.operations == {"stripe.request", "stripe.attempt"}
    assert referenced_names(board) == refs.metrics | refs.tags | refs.attributes | {
        "stripe.request",
        "stripe.attempt",
    }


# --- Import ------------------------------------------------------------------------------------


@pytest.fixture
def dd() -> Iterator[DatadogStandIn]:
    with DatadogStandIn() as standin:
        yield standin


def _import(dd: DatadogStandIn, board: dict[str, Any], **kwargs: Any) -> str:
    options: dict[str, Any] = {"api_key": API_KEY, "app_key": APP_KEY, "api_url": dd.url}
    options.update(kwargs)
    return import_dashboard(board, **options)


def test_import_creates_then_updates_the_same_dashboard(
    dd: DatadogStandIn, board: dict[str, Any]
) -> None:
    first = _import(dd, board)
    assert len(dd.dashboards) == 1
    (dashboard_id,) = dd.dashboards
    assert first == f"https://app.datadoghq.com/dashboard/{dashboard_id}/stripe-stripe-otel"
    assert [(r.method, r.path.split("?")[0]) for r in dd.requests] == [
        ("GET", "/api/v1/dashboard"),
        ("POST", "/api/v1/dashboard"),
    ]
    assert all(r.had_api_key and r.had_app_key for r in dd.requests)

    changed = copy.deepcopy(board)
    changed["description"] = "second import"
    second = _import(dd, changed, site="datadoghq.eu")
    assert list(dd.dashboards) == [dashboard_id]
    assert dd.dashboards[dashboard_id]["description"] == "second import"
    assert dd.requests[-1].method == "PUT"
    assert dd.requests[-1].path == f"/api/v1/dashboard/{dashboard_id}"
    assert second == f"https://app.datadoghq.eu/dashboard/{dashboard_id}/stripe-stripe-otel"


def test_import_finds_the_dashboard_on_a_later_page(
    dd: DatadogStandIn, board: dict[str, Any]
) -> None:
    for n in range(150):
        dd.dashboards[f"oth-er{n // 100}-{n % 100:03d}"] = {
            "id": f"oth-er{n // 100}-{n % 100:03d}",
            "title": f"Other {n}",
            "url": "/dashboard/x",
            "layout_type": "ordered",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    dd.dashboards["our-own-one"] = {**board, "id": "our-own-one", "url": "/dashboard/our-own-one/s"}
    dd.dashboards["our-own-one"]["created_at"] = "2026-01-01T00:00:00+00:00"
    assert _import(dd, board).endswith("/dashboard/our-own-one/stripe-stripe-otel")
    assert len(dd.dashboards) == 151
    assert [r.method for r in dd.requests] == ["GET", "GET", "PUT"]


def test_dry_run_sends_nothing_and_prints_no_key(dd: DatadogStandIn, board: dict[str, Any]) -> None:
    lines: list[str] = []
    result = _import(dd, board, dry_run=True, out=lines.append)
    assert dd.requests == []
    assert result == f"'{TITLE}' to {dd.url}"
    text = "\n".join(lines)
    assert f"GET {dd.url}/api/v1/dashboard" in text
    assert f"POST {dd.url}/api/v1/dashboard" in text
    assert f"{len(json.dumps(board).encode())} bytes" in text
    assert API_KEY not in text and APP_KEY not in text


def test_an_invalid_board_is_never_sent(dd: DatadogStandIn, board: dict[str, Any]) -> None:
    broken = copy.deepcopy(board)
    broken["layout_type"] = "grid"
    with pytest.raises(DashboardError, match="not valid: layout_type: 'grid'"):
        _import(dd, broken)
    assert dd.requests == []


def test_the_standin_refuses_an_invalid_body_with_400(
    dd: DatadogStandIn, board: dict[str, Any]
) -> None:
    broken = copy.deepcopy(board)
    _find(broken, "Calls per second by endpoint")["type"] = "sparkline"
    with pytest.raises(DashboardError) as caught:
        _datadog_api.send(  # past our own validation, as a stale client would
            broken,
            api_key=API_KEY,
            app_key=APP_KEY,
            site="datadoghq.com",
            api_url=dd.url,
            dry_run=False,
            out=print,
        )
    message = str(caught.value)
    assert "HTTP 400" in message and "unknown widget type 'sparkline'" in message
    assert "nothing was created" in message
    assert dd.dashboards == {}


def _assert_one_clean_line(error: DashboardError, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert API_KEY not in message and APP_KEY not in message
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ("fail_with", "fragments"),
    [
        (401, ("rejected the API key (HTTP 401", "nothing was created")),
        (404, ("HTTP 404", "is the site right?", "nothing was created")),
        (500, ("server error (HTTP 500", "nothing was created")),
        (503, ("server error (HTTP 503",)),
        ("garbage", ("is not JSON (HTTP 200", "nothing was created")),
    ],
)
def test_failures_are_one_line_without_keys(
    dd: DatadogStandIn,
    board: dict[str, Any],
    fail_with: int | str,
    fragments: tuple[str, ...],
) -> None:
    dd.fail_with = fail_with
    with pytest.raises(DashboardError) as caught:
        _import(dd, board)
    _assert_one_clean_line(caught.value, *fragments)
    assert caught.value.__suppress_context__  # no chained traceback to print
    assert [r.method for r in dd.requests] == ["GET"]


def test_a_wrong_application_key_is_a_403(dd: DatadogStandIn, board: dict[str, Any]) -> None:
    with pytest.raises(DashboardError) as caught:
        _import(dd, board, app_key="0" * 40)
    _assert_one_clean_line(caught.value, "API/application key (HTTP 403", "nothing was created")
    assert "0" * 40 not in str(caught.value)
    assert dd.dashboards == {}


def test_a_failed_update_says_the_dashboard_was_not_changed(
    dd: DatadogStandIn, board: dict[str, Any]
) -> None:
    _import(dd, board)
    (dashboard_id,) = dd.dashboards
    dd.fail_with, dd.fail_only = 502, "PUT"
    with pytest.raises(DashboardError) as caught:
        _import(dd, board)
    _assert_one_clean_line(caught.value, "HTTP 502", f"dashboard {dashboard_id} was not changed")
    assert [r.method for r in dd.requests][-2:] == ["GET", "PUT"]
    assert list(dd.dashboards) == [dashboard_id]


def test_an_unreachable_api_is_one_line(dd: DatadogStandIn, board: dict[str, Any]) -> None:
    url = dd.url
    dd.stop()
    with pytest.raises(DashboardError) as caught:
        import_dashboard(board, api_key=API_KEY, app_key=APP_KEY, api_url=url)
    _assert_one_clean_line(caught.value, "could not reach Datadog at", "nothing was created")


def test_missing_or_unsendable_keys_fail_before_sending(
    dd: DatadogStandIn, board: dict[str, Any]
) -> None:
    with pytest.raises(DashboardError, match="no Datadog application key"):
        _import(dd, board, app_key="")
    with pytest.raises(DashboardError, match="cannot carry"):
        _import(dd, board, api_key=API_KEY + "\r\nX-Evil: 1")
    assert dd.requests == []
