"""The benchmark suite runs end to end: `python -m benchmarks.suite --quick` (tiny sizes)
produces every benchmark's results with sane fields. Nothing here looks at timings:
the numbers of a quick run mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

OURS = {
    "bare",
    "stripe-otel core (operation + attempts)",
    "stripe-otel full (+ phases + metrics)",
    "stripe-otel full, not sampled",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.suite", "--quick", "--out", str(out),
         "--results-md", ""],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "quick.json").read_text()), (out / "quick.md").read_text()


def test_every_overhead_run_has_every_configuration(quick_run: tuple[dict[str, Any], str]) -> None:
    document, _ = quick_run
    overhead = document["results"]["overhead"]
    assert set(overhead) == {"requests sync", "requests async", "httpx sync", "httpx async"}
    for key, summary in overhead.items():
        wire = summary["wire"]
        assert wire == ("requests" if key == "requests sync" else "httpx")
        peers = {f"opentelemetry-instrumentation-{wire} alone", f"ddtrace {wire} integration"}
        rows = summary["results"]
        assert set(rows) == OURS | peers, key
        for row in rows.values():
            assert row["median_us"] > 0
            assert row["ratio_to_bare"] > 0
            low, high = row["ratio_p10_p90"]
            assert 0 < low <= high
            assert row["blocks"] == summary["blocks"]
        assert rows["bare"]["spans_per_call"] is None
        # Each configuration really traced (a peer that did not would look free).
        assert rows["stripe-otel full (+ phases + metrics)"]["spans_per_call"] >= 2
        assert rows["stripe-otel core (operation + attempts)"]["spans_per_call"] >= 2
        assert rows["stripe-otel full, not sampled"]["spans_per_call"] == 0
        for peer in peers:
            assert rows[peer]["spans_per_call"] >= 1, (key, peer)
    assert overhead["requests async"]["note"]  # says it is HTTPX on the wire


def test_import_exporters_memory_outage(quick_run: tuple[dict[str, Any], str]) -> None:
    document, _ = quick_run
    results = document["results"]
    imports = results["import_time"]
    for variant in ("bare", "auto"):
        assert imports[variant]["import_stripe_ms"] > 0
        assert imports[variant]["first_call_ms"] > 0
    assert imports["auto"]["import_auto_ms"] > 0

    paths = results["exporters"]["paths"]
    assert len(paths) == 7
    assert all(p["cpu_us_per_span"] > 0 and p["bytes_per_span"] > 0 for p in paths.values())

    mem = results["memory"]
    assert [s["calls"] for s in mem["samples"]] == [200, 400, 600]
    assert mem["rss_peak_mib"] >= mem["rss_start_mib"] > 0
    assert mem["spans_produced"] > 0

    assert set(results["outage"]) == {
        "configure() queue (4,096)",
        "small backlog (200)",
        "SDK default queue (2,048)",
    }
    for summary in results["outage"].values():
        assert summary["spans_produced"] > 0
        # Every span is delivered or counted as dropped.
        assert summary["unaccounted"] == 0
        for window in ("baseline", "outage window"):
            assert summary["latency"][window]["calls"] > 0


def test_report_describes_the_machine_and_targets(quick_run: tuple[dict[str, Any], str]) -> None:
    document, markdown = quick_run
    assert document["quick"] is True
    assert not document["failures"]
    machine = document["machine"]
    for field in ("cpu", "cores", "ram_gib", "os", "python", "date", "git_commit"):
        assert machine[field], field
    for package in ("stripe", "opentelemetry-sdk", "ddtrace"):
        assert machine["packages"][package], package
    targets = {t["target"] for t in document["targets"]}
    assert len([t for t in targets if t.startswith("stripe-otel full")]) == 4 * 2
    assert any(t.startswith("import") for t in targets)
    assert any(t.startswith("Datadog native encoder") for t in targets)
    assert any(t.startswith("memory bounded") for t in targets)
    assert len([t for t in targets if t.startswith("5 s outage")]) == 3 * 2
    for heading in ("## Machine", "## Targets", "## Overhead per call", "## Memory"):
        assert heading in markdown


def test_floor_splits_the_overhead(quick_run: tuple[dict[str, Any], str]) -> None:
    document, markdown = quick_run
    floors = document["results"]["floor"]
    assert set(floors) == {"requests", "httpx"}
    for summary in floors.values():
        # One retrieve: operation, attempt, two network legs, api_processing, sdk_decode.
        assert summary["spans_per_call"] == 6
        assert summary["metric_records_per_call"] == 4  # duration + three phases
        assert summary["sdk_spans_us"] > 0 and summary["sdk_metric_records_us"] > 0
        assert summary["sdk_floor_us"] == pytest.approx(
            summary["sdk_spans_us"] + summary["sdk_metric_records_us"], abs=0.11
        )
        assert summary["floor_ratio"] > 1
        shares = summary["profile_percent"]
        assert set(shares) == {"the call itself", "OpenTelemetry SDK", "stripe-otel"}
        assert sum(shares.values()) == pytest.approx(100, abs=0.5)
        assert shares["OpenTelemetry SDK"] > 0 and shares["stripe-otel"] > 0
    assert "Where the time goes" in markdown
