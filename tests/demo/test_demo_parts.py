"""The demo's parts on their own: the plan, the progress bar, the key check, the exporters."""

from __future__ import annotations

import io

import pytest

from stripe_otel.demo import DemoUsageError, stripe_key
from stripe_otel.demo._progress import Progress
from stripe_otel.demo._telemetry import vendor_exporters
from stripe_otel.demo._workload import plan


def test_plan_is_deterministic_with_exact_shares() -> None:
    first = plan(200, seed=3)
    assert first == plan(200, seed=3)
    assert first != plan(200, seed=4)
    assert sum(c.payment_method == "pm_card_chargeDeclined" for c in first) == 10
    troubles = [c.trouble for c in first if c.trouble is not None]
    assert sorted(troubles) == ["429"] * 4 + ["500"] * 4 + ["slow"] * 4
    # A declined checkout never also meets trouble: each shows one thing.
    assert not [c for c in first if c.trouble and c.payment_method != "pm_card_visa"]
    assert [c.trouble for c in plan(200, seed=3, trouble=False)] == [None] * 200


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal() -> None:
    stream = _Tty()
    progress = Progress(10, stream)
    progress.update(5, 4, 1, 0)
    progress.finish(10, 8, 1, 1, note="webhooks 8/8")
    text = stream.getvalue()
    assert text.startswith("\rcheckout [##############--------------] 5/10")
    assert "\rcheckout [############################] 10/10" in text
    assert text.endswith("webhooks 8/8\n")


def test_progress_prints_one_final_line_elsewhere() -> None:
    stream = io.StringIO()
    progress = Progress(10, stream)
    progress.update(5, 5, 0, 0)
    progress.finish(10, 9, 1, 0)
    assert stream.getvalue().count("\n") == 1
    assert "\r" not in stream.getvalue()
    assert stream.getvalue().startswith("checkout: 10/10 transactions  ok 9  declined 1")


def test_quiet_progress_prints_nothing() -> None:
    stream = _Tty()
    progress = Progress(10, stream, enabled=False)
    progress.update(5, 5, 0, 0)
    progress.finish(10, 10, 0, 0)
    assert stream.getvalue() == ""


def test_stripe_key() -> None:
    assert stripe_key({}) is None
    assert stripe_key({"STRIPE_API_KEY": " "}) is None
    assert stripe_key({"STRIPE_API_KEY": "sk_test_123"}) == "sk_test_123"
    with pytest.raises(DemoUsageError, match="live key"):
        stripe_key({"STRIPE_API_KEY": "sk_live_123"})


def test_vendor_exporters_follow_the_environment() -> None:
    assert vendor_exporters({}) == ([], [])
    found, notes = vendor_exporters(
        {"HONEYCOMB_API_KEY": "hcaik_" + "0" * 58, "DD_TRACE_AGENT_URL": "http://127.0.0.1:9"}
    )
    assert [name for name, _ in found] == ["Honeycomb", "Datadog"]
    assert notes == []
    for _, exporter in found:
        exporter.shutdown()
    found, _ = vendor_exporters({"DD_API_KEY": "x"})
    assert [name for name, _ in found] == ["Datadog"]
    found[0][1].shutdown()
