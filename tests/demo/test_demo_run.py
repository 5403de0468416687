"""`stripe-otel demo` end to end: one small run in this process, then what it left behind."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stripe_otel.cli import main
from stripe_otel.demo._workload import plan

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 7
N = 20
_VENDOR_ENV = ("STRIPE_API_KEY", "HONEYCOMB_API_KEY", "DD_API_KEY", "DD_TRACE_AGENT_URL")
CONFIRM = "POST /v1/payment_intents/{intent}/confirm"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    cwd: Path
    out: Path
    spans: list[dict[str, Any]]


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def read_spans(path: Path) -> list[dict[str, Any]]:
    spans = []
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            service = _attrs(resource["resource"])["service.name"]
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    spans.append({**span, "_service": service, "_attrs": _attrs(span)})
    return spans


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    cwd = tmp_path_factory.mktemp("cwd")
    out = tmp_path_factory.mktemp("demo") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in _VENDOR_ENV:
            mp.delenv(name, raising=False)
        mp.chdir(cwd)
        args = ["demo", "--transactions", str(N), "--concurrency", "4", "--seed", str(SEED)]
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main([*args, "--out", str(out)])
    spans = read_spans(out / "spans.jsonl") if (out / "spans.jsonl").exists() else []
    yield Run(code, stdout.getvalue(), stderr.getvalue(), cwd, out, spans)


def test_exits_0_with_a_final_progress_line(run: Run) -> None:
    assert run.code == 0, run.stderr
    # stderr is no terminal here: no bar, no carriage returns, one final line.
    assert "\r" not in run.stderr
    assert f"checkout: {N}/{N} transactions" in run.stderr


def test_checkout_transactions_carry_phase_totals(run: Run) -> None:
    checkouts = [s for s in run.spans if s["name"] == "checkout"]
    assert len(checkouts) == N
    assert {s["_service"] for s in run.spans} == {"stripe-otel-demo"}
    ok = [s for s in checkouts if s.get("status", {}).get("code") != "STATUS_CODE_ERROR"]
    assert ok
    for span in ok:
        attrs = span["_attrs"]
        # About 40 ms of round trip per call and 60 + 250 ms of Stripe processing.
        assert attrs["stripe.phase.network_ms"] > 40
        assert attrs["stripe.phase.api_processing_ms"] > 250
        assert attrs["stripe.phase.db_write_ms"] > 0
        assert int(attrs["stripe.transaction.operations"]) == 2


def test_webhooks_are_linked_to_the_confirm_call(run: Run) -> None:
    # The confirm of each intent, by the intent id both spans record.
    confirms = {
        s["_attrs"]["stripe.object.id"]: s["spanId"]
        for s in run.spans
        if s["name"] == CONFIRM and "stripe.object.id" in s["_attrs"]  # not the declined
    }
    webhooks = [s for s in run.spans if s["name"] == "stripe.webhook"]
    paid = sum(1 for c in plan(N, SEED) if c.payment_method == "pm_card_visa")
    assert len(webhooks) == paid
    for span in webhooks:
        assert span["_attrs"]["stripe.webhook.signature_valid"] is True
        intent = span["_attrs"]["stripe.object.id"]
        assert [link["spanId"] for link in span["links"]] == [confirms[intent]]


def test_sqlite_inserts_are_db_writes_inside_their_checkout(run: Run) -> None:
    by_id = {s["spanId"]: s for s in run.spans}
    inserts = [s for s in run.spans if s["name"] == "INSERT"]
    assert inserts
    assert all(s["_attrs"]["stripe.phase"] == "db_write" for s in inserts)
    orders = [s for s in inserts if "INTO orders" in s["_attrs"]["db.statement"]]
    assert orders
    assert all(by_id[s["parentSpanId"]]["name"] == "checkout" for s in orders)


def test_orders_table_has_one_row_per_paid_checkout(run: Run) -> None:
    expected = sum(1 for c in plan(N, SEED) if c.payment_method == "pm_card_visa")
    assert expected == N - 1  # 5% of 20 declined
    with contextlib.closing(sqlite3.connect(run.out / "orders.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM orders").fetchone() == (expected,)
        assert db.execute("SELECT COUNT(*) FROM webhook_events").fetchone() == (expected,)


def test_prints_the_report_and_where_the_files_went(run: Run) -> None:
    from stripe_otel import report

    summary = report.summarize(report.load(run.out / "spans.jsonl"))
    header = report.render_text(summary, report.findings(summary)).splitlines()
    assert "Operations" in run.stdout
    assert header[2] in run.stdout  # the table's column header
    assert f"Files are in {run.out}" in run.stdout
    assert str(run.out / "phases.png") in run.stdout
    assert f"{N} checkouts in" in run.stdout


def test_writes_only_into_out(run: Run) -> None:
    assert list(run.cwd.iterdir()) == []
    names = {p.name for p in run.out.iterdir()}
    # Nothing else: no throwaway CA left behind.
    assert names <= {"spans.jsonl", "orders.sqlite", "orders.sqlite-wal", "orders.sqlite-shm",
                     "summary.json", "phases.png", "slowest-transaction.png"}  # fmt: skip
    assert {"spans.jsonl", "orders.sqlite", "summary.json", "phases.png",
            "slowest-transaction.png"} <= names  # fmt: skip
    summary = json.loads((run.out / "summary.json").read_text())
    assert summary["operations"]


def test_stripe_globals_are_restored(run: Run) -> None:
    import stripe

    from stripe_otel import StripeInstrumentor

    assert stripe.ca_bundle_path.endswith("ca-certificates.crt")
    assert not StripeInstrumentor().is_instrumented_by_opentelemetry
