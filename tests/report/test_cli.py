"""`stripe-otel report` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import stripe

import stripe_otel
from stripe_otel.cli import main
from stripe_otel.testing import Fault
from tests.report.conftest import Record

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def checkouts(stripe_globals: Any, record: Record) -> Path:
    """Three checkouts (create, then confirm, then a slow DB write), one rate limited."""
    stripe_globals.set_delay(3)
    for i in range(3):
        if i == 1:
            stripe_globals.add_fault(
                Fault(status=429, should_retry=True, error_type="rate_limit_error")
            )
        with stripe_otel.transaction("checkout"):
            intent = stripe.PaymentIntent.create(
                amount=900, currency="usd", payment_method_types=["card"]
            )
            stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
            with stripe_otel.db_write("save_order"):
                time.sleep(0.03)
    return record("checkouts")


def test_text_report(checkouts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(checkouts)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Operations"))
    for column in ("calls", "errors", "total", "network", "(est.)", "decode", "app"):
        assert column in header
    row = next(line for line in lines if line.startswith("POST /v1/payment_intents "))
    assert row.split()[2:5] == ["3", "0", "p50"]
    assert any(line.strip().startswith("p99") for line in lines)
    assert "db_write" in next(line for line in lines if line.startswith("Transactions"))
    assert "Slowest: checkout" in out
    for code in ("retries", "sequential_calls", "db_write_dominates"):
        assert f"] {code}:" in out


def test_json_report_parses(checkouts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(checkouts), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {o["name"] for o in data["operations"]} == {
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{intent}/confirm",
    }
    create = next(o for o in data["operations"] if o["name"] == "POST /v1/payment_intents")
    assert create["count"] == 3
    assert create["retries"] == 1
    assert set(create["phases_ms"]) == {"network", "api_processing", "sdk_decode", "app"}
    assert (
        create["duration_ms"]["p50"] <= create["duration_ms"]["p95"] <= create["duration_ms"]["p99"]
    )
    [checkout] = data["transactions"]
    assert checkout["phases_ms"]["db_write"]["p50"] >= 30
    assert data["slowest_transaction"]["name"] == "checkout"
    assert data["slowest_transaction"]["spans"][0]["start_ms"] == 0
    codes = {f["code"] for f in data["findings"]}
    assert {"retries", "sequential_calls", "db_write_dominates"} <= codes
    retries = next(f for f in data["findings"] if f["code"] == "retries")
    assert retries["evidence"]["rate_limited_reasons"] == {"global-rate": 1}


def test_png_writes_both_charts(
    checkouts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "charts"
    assert main(["report", str(checkouts), "--png", str(out_dir), "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # the chart lines went to stderr, stdout is still JSON
    for name in ("phases.png", "slowest-transaction.png"):
        data = (out_dir / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000
        assert f"wrote {out_dir / name}" in captured.err


def test_png_without_matplotlib_is_a_clear_error(
    checkouts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    assert main(["report", str(checkouts), "--png", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err.strip()
        == 'stripe-otel: charts need matplotlib: pip install "stripe-otel[demo]" (or matplotlib)'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"resourceSpans": []}\n{"resourceSpans": []}\nnot json\n', "line 3: not JSON"),
        ('{"spans": []}\n', "line 1: no resourceSpans"),
        ("", "no Stripe spans found (is this stripe-otel output?)"),
        ('{"resourceSpans": []}\n', "no Stripe spans found (is this stripe-otel output?)"),
    ],
)
def test_bad_input_exits_1_with_one_line(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(text)
    assert main(["report", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"stripe-otel: {path}: ")
    assert expected in captured.err


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text('{"resourceSpans": []}\n{oops\n')
    proc = subprocess.run(
        [sys.executable, "-m", "stripe_otel.cli", "report", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == f"stripe-otel: {path}: line 2: not JSON\n"
    assert proc.stdout == ""
