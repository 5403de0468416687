"""The Honeycomb board: valid against Honeycomb's own OpenAPI schemas, committed as built,
and imported idempotently against a local stand-in of the API."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_otel import semconv
from stripe_otel.dashboards import DashboardError
from stripe_otel.dashboards import honeycomb as hc
from tests.dashboards._honeycomb_api_standin import KEY, HoneycombStandin

ROOT = Path(__file__).parents[2]
N = len(hc.build()["queries"])


@pytest.fixture
def spec() -> dict[str, Any]:
    return hc.build()


@pytest.fixture
def api() -> Iterator[HoneycombStandin]:
    with HoneycombStandin() as standin:
        yield standin


def _query(spec: dict[str, Any], key: str) -> dict[str, Any]:
    return next(e for e in spec["queries"] if e["key"] == key)


# --- build and validate --------------------------------------------------------------------


def test_built_spec_is_valid(spec: dict[str, Any]) -> None:
    assert hc.validate(spec) == []
    keys = [e["key"] for e in spec["queries"]]
    assert len(keys) == len(set(keys)) >= 10
    panels = [p["query_key"] for p in spec["board"]["panels"] if "query_key" in p]
    assert sorted(panels) == sorted(keys)
    assert spec["board"]["type"] == "flexible"
    assert spec["board"]["name"] == "Stripe (stripe-otel)"


def test_the_asked_for_queries_are_there(spec: dict[str, Any]) -> None:
    latency = _query(spec, "latency_percentiles")["query"]
    assert {c["op"] for c in latency["calculations"]} == {"P50", "P95", "P99"}
    assert latency["breakdowns"] == [semconv.URL_TEMPLATE]
    heatmap = _query(spec, "latency_heatmap")["query"]
    assert heatmap["calculations"] == [{"op": "HEATMAP", "column": "duration_ms"}]
    slowest = _query(spec, "slowest_transactions")["query"]
    assert slowest["breakdowns"] == [semconv.STRIPE_TRANSACTION, "trace.trace_id"]
    assert slowest["orders"] == [{"op": "MAX", "column": "duration_ms", "order": "descending"}]
    assert slowest["limit"] == 10
    phases = _query(spec, "phases_by_transaction")["query"]
    assert {"op": "SUM", "column": semconv.STRIPE_PHASE_DB_WRITE_MS} in phases["calculations"]
    rate_limited = _query(spec, "rate_limited")["query"]
    assert {"column": semconv.HTTP_RESPONSE_STATUS_CODE, "op": "=", "value": 429} in (
        rate_limited["filters"]
    )
    assert "webhook" in (hc.__doc__ or "").lower()  # left out, and said so


def test_a_bad_calculation_op_is_reported(spec: dict[str, Any]) -> None:
    spec["queries"][1]["query"]["calculations"][0]["op"] = "P42"
    problems = hc.validate(spec)
    assert len(problems) == 1
    assert problems[0].startswith("queries[1].query.calculations[0].op: 'P42' is not one of")


def test_wrong_types_are_reported_in_query_annotation_and_board(spec: dict[str, Any]) -> None:
    spec["queries"][0]["query"]["time_range"] = "7200"
    spec["queries"][2]["name"] = "x" * 321  # an annotation name is at most 320 characters
    spec["board"]["name"] = 5
    spec["board"]["panels"][1]["position"]["width"] = -1
    problems = hc.validate(spec)
    assert "queries[0].query.time_range: '7200' is not of type 'integer'" in problems
    assert any(p.startswith("queries[2].name: ") and "is too long" in p for p in problems)
    assert "board.name: 5 is not of type 'string'" in problems
    assert "board.panels[1].position.width: -1 is less than the minimum of 0" in problems
    assert len(problems) == 4


def test_unknown_fields_and_broken_query_rules_are_reported(spec: dict[str, Any]) -> None:
    spec["queries"][0]["query"]["breakdown"] = [semconv.URL_TEMPLATE]  # typo: breakdowns
    spec["queries"][1]["query"]["orders"] = [{"op": "P90", "column": "duration_ms"}]
    spec["queries"][2]["query"]["granularity"] = 1  # below time_range / 1000
    spec["board"]["panels"][-1]["visualization_settings"] = {"charts": [{"chart_type": "pie"}]}
    problems = hc.validate(spec)
    assert any("'breakdown' was unexpected" in p for p in problems), problems
    assert any(p.startswith("queries[1].query.orders[0]: P90(duration_ms)") for p in problems)
    assert any(p.startswith("queries[2].query.granularity: 1 is outside 8..7200") for p in problems)
    assert any(
        p.startswith("board.panels[") and ".visualization_settings.charts[0].chart_type" in p
        for p in problems
    ), problems


def test_a_panel_for_a_missing_query_is_reported(spec: dict[str, Any]) -> None:
    spec["board"]["panels"][1]["query_key"] = "no_such_query"
    problems = hc.validate(spec)
    assert "board.panels[1].query_key: no query has key 'no_such_query'" in problems


def test_missing_openapi_spec_says_where_it_looked(
    spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "honeycomb-api.json"
    monkeypatch.setenv(hc.SPEC_ENV, str(missing))
    with pytest.raises(DashboardError) as caught:
        hc.validate(spec)
    assert str(missing) in str(caught.value)
    assert "STRIPE_OTEL_HONEYCOMB_SPEC" in str(caught.value)


def test_openapi_spec_defaults_to_the_sibling_shared_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(hc.SPEC_ENV, raising=False)
    assert hc.openapi_path() == ROOT.parent / "shared" / "vendor" / "honeycomb-api.json"


def test_committed_json_equals_build(spec: dict[str, Any]) -> None:
    committed = (ROOT / "dashboards" / "honeycomb" / "stripe-otel.json").read_text()
    assert committed == json.dumps(spec, indent=2, sort_keys=True) + "\n"


def test_referenced_names_are_complete_and_ours(spec: dict[str, Any]) -> None:
    names = hc.referenced_names(spec)
    assert names <= semconv.ALL_ATTRIBUTES | hc.STANDARD_COLUMNS, names - semconv.ALL_ATTRIBUTES
    expected = {
        "duration_ms", "trace.trace_id", "span.kind", "name", "error", "service.name",
        semconv.URL_TEMPLATE, semconv.STRIPE_ERROR_CODE, semconv.HTTP_RESPONSE_STATUS_CODE,
        semconv.STRIPE_NUM_RETRIES, semconv.STRIPE_RATE_LIMITED_REASON,
        semconv.STRIPE_CONNECTION_REUSED, semconv.STRIPE_NETWORK_LEG, semconv.STRIPE_PHASE,
        semconv.STRIPE_TRANSACTION, semconv.STRIPE_PHASE_NETWORK_MS,
        semconv.STRIPE_PHASE_API_PROCESSING_MS, semconv.STRIPE_PHASE_SDK_DECODE_MS,
        semconv.STRIPE_PHASE_DB_WRITE_MS,
    }  # fmt: skip
    assert expected <= names, expected - names


def test_referenced_names_see_every_place_a_column_can_be() -> None:
    query = {
        "calculations": [
            {"op": "AVG", "column": "calc_col", "filters": [{"column": "calc_f", "op": "exists"}]},
            {"op": "COUNT", "name": "named_calc"},
        ],
        "filters": [{"column": "filter_col", "op": "exists"}],
        "breakdowns": ["breakdown_col"],
        "orders": [{"column": "order_col", "order": "descending"}, {"column": "named_calc"}],
        "havings": [{"calculate_op": "COUNT", "column": "having_col", "op": ">", "value": 1}],
        "calculated_fields": [{"name": "derived", "expression": 'IF($expr_col, $"quoted col", 0)'}],
    }  # fmt: skip
    spec = {
        "queries": [{"key": "k", "name": "n", "description": "", "query": query, "style": "graph"}],
        "board": {"preset_filters": [{"column": "preset_col", "alias": "P"}], "panels": []},
    }
    assert hc.referenced_names(spec) == {
        "calc_col", "calc_f", "filter_col", "breakdown_col", "order_col", "having_col",
        "expr_col", "quoted col", "preset_col",
    }  # fmt: skip


# --- import ----------------------------------------------------------------------------------


def _import(api: HoneycombStandin, spec: dict[str, Any], **kw: Any) -> str:
    kw.setdefault("api_key", KEY)
    return hc.import_board(spec, api_url=api.url, out=lambda line: None, **kw)


def test_first_import_creates_second_updates_the_same_board(
    api: HoneycombStandin, spec: dict[str, Any]
) -> None:
    other = api.seed_board("Someone else's board")
    url = _import(api, spec)
    assert len(api.boards) == 2
    (board_id,) = set(api.boards) - {other}
    assert url.endswith(f"/board/{board_id}")
    assert len(api.queries) == len(api.annotations) == N
    board = api.boards[board_id]
    shown = [p["query_panel"] for p in board["panels"] if p["type"] == "query"]
    assert len(shown) == N
    for panel in shown:  # each panel shows its own query, named by its own annotation
        annotation = api.annotations[panel["query_annotation_id"]]
        entry = next(e for e in spec["queries"] if e["name"] == annotation["name"])
        assert annotation["query_id"] == panel["query_id"]
        assert {k: v for k, v in api.queries[panel["query_id"]].items() if k != "id"} == entry[
            "query"
        ]
        assert panel["query_style"] == entry["style"]
    first_ids = {p["query_id"] for p in shown}

    assert _import(api, spec) == url
    assert len(api.boards) == 2  # updated, not duplicated
    assert ("PUT", f"/1/boards/{board_id}") in api.requests
    assert [m for m, p in api.requests if p == "/1/boards"].count("POST") == 1
    again = {
        p["query_panel"]["query_id"] for p in api.boards[board_id]["panels"] if "query_panel" in p
    }
    assert len(again) == N and again.isdisjoint(first_ids)
    assert api.boards[other]["name"] == "Someone else's board"


def test_dry_run_sends_nothing(api: HoneycombStandin, spec: dict[str, Any]) -> None:
    lines: list[str] = []
    result = hc.import_board(spec, api_key=KEY, api_url=api.url, dry_run=True, out=lines.append)
    assert api.requests == []
    assert "nothing was sent" in result
    posts = [line for line in lines if "POST /1/queries/__all__" in line]
    assert len(posts) == N
    assert all(line.endswith("bytes)") for line in posts)
    assert any("POST /1/boards" in line for line in lines)
    assert not any(KEY in line for line in lines)


def test_dry_run_needs_no_key(api: HoneycombStandin, spec: dict[str, Any]) -> None:
    _import(api, spec, api_key="", dry_run=True)
    assert api.requests == []


@pytest.mark.parametrize("key", ["", "wrong-key-0123456789"])
def test_a_missing_or_wrong_key_is_one_clear_line(
    api: HoneycombStandin, spec: dict[str, Any], key: str
) -> None:
    with pytest.raises(DashboardError) as caught:
        _import(api, spec, api_key=key)
    message = str(caught.value)
    assert "\n" not in message
    if key:
        assert message.startswith("Honeycomb answered 401 listing boards")
        assert message.endswith("nothing was created")
        assert key not in message
    else:
        assert message.startswith("no usable Honeycomb API key")
        assert api.requests == []
    assert api.queries == {} and api.boards == {}


@pytest.mark.parametrize(
    ("method", "path", "status", "nth", "expected"),
    [
        ("POST", "/1/boards", 500, 1, "Honeycomb answered 500 creating the board"),
        ("POST", "/1/queries/", 429, 4, "Honeycomb answered 429 creating query 4 of"),
        ("POST", "/1/query_annotations/", 404, 2, "404 creating the annotation of query 2"),
        ("POST", "/1/queries/", "garbage", 3, "answer creating query 3 of"),
        ("POST", "/1/queries/", 307, 1, "Honeycomb answered 307 creating query 1 of"),
        ("GET", "/1/boards", 403, 1, "Honeycomb answered 403 listing boards"),
    ],
)  # fmt: skip
def test_a_failure_midway_names_what_was_created(
    api: HoneycombStandin,
    spec: dict[str, Any],
    method: str,
    path: str,
    status: int | str,
    nth: int,
    expected: str,
) -> None:
    api.fail(method, path, status, nth=nth)
    with pytest.raises(DashboardError) as caught:
        _import(api, spec)
    message = str(caught.value)
    assert message.startswith(expected) or expected in message, message
    assert "\n" not in message and KEY not in message
    queries, annotations = len(api.queries), len(api.annotations)
    if queries or annotations:
        noun = "query" if queries == 1 else "queries"
        assert f"{queries} {noun} and {annotations} annotation" in message, message
        assert "re-run to finish" in message
    else:
        assert "nothing was created" in message
    assert api.boards == {}
    if status == 429:
        assert "retry after 30 s" in message
        assert (queries, annotations) == (3, 3)
    if status == 500:
        assert (queries, annotations) == (N, N)


def test_rerun_after_a_failure_finishes_with_one_board(
    api: HoneycombStandin, spec: dict[str, Any]
) -> None:
    board_id = api.seed_board(spec["board"]["name"])
    api.fail("PUT", "/1/boards/", 500)
    with pytest.raises(DashboardError, match=f"board {board_id} is unchanged"):
        _import(api, spec)
    assert api.boards[board_id]["panels"] == []
    _import(api, spec)
    assert list(api.boards) == [board_id]
    assert len(api.boards[board_id]["panels"]) == len(spec["board"]["panels"])


def test_network_error_is_one_line(spec: dict[str, Any]) -> None:
    standin = HoneycombStandin()
    url = standin.url
    standin.stop()  # nothing listens there any more
    with pytest.raises(DashboardError) as caught:
        hc.import_board(spec, api_key=KEY, api_url=url, out=lambda line: None)
    message = str(caught.value)
    assert message.startswith(f"could not reach Honeycomb at {url} listing boards")
    assert message.endswith("nothing was created")
    assert "\n" not in message and KEY not in message and "Traceback" not in message


def test_the_stand_in_rejects_what_honeycomb_would(api: HoneycombStandin) -> None:
    # The import tests prove something only if the stand-in really checks bodies.
    bad = copy.deepcopy(hc.build())
    bad["queries"][0]["query"]["calculations"][0]["op"] = "P42"
    with pytest.raises(DashboardError, match=r"answered 400 creating query 1 of .*P42"):
        _import(api, bad)
    bad = hc.build()
    bad["board"]["panels"][1]["surprise"] = True
    with pytest.raises(DashboardError, match=r"answered 400 creating the board.*surprise"):
        _import(api, bad)
