"""The `stripe-otel dashboards` commands as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_otel.cli import main


def test_validate_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "validate"]) == 0
    assert capsys.readouterr().out.splitlines() == ["datadog: ok", "honeycomb: ok"]


def test_export(tmp_path: Path) -> None:
    assert main(["dashboards", "export", "--vendor", "datadog", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "datadog-stripe-otel.json").read_text())
    assert written["title"]
    assert not (tmp_path / "honeycomb-stripe-otel.json").exists()


def test_import_without_keys_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DD_API_KEY", "DD_APP_KEY", "DD_APPLICATION_KEY", "HONEYCOMB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["dashboards", "import", "--vendor", "datadog"]) == 2
    assert "DD_API_KEY" in capsys.readouterr().err
    assert main(["dashboards", "import", "--vendor", "honeycomb"]) == 2


def test_dry_run_needs_no_keys_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DD_API_KEY", raising=False)
    # An unroutable URL: any real request would fail the command.
    args = [
        "dashboards",
        "import",
        "--vendor",
        "datadog",
        "--dry-run",
        "--api-url",
        "http://127.0.0.1:9",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "GET http://127.0.0.1:9/api/v1/dashboard" in out  # what it would ask first
    assert "nothing was sent" in out
    assert "would import" in out


def test_failed_import_is_one_line_and_no_traceback() -> None:
    env = {**os.environ, "DD_API_KEY": "k" * 32, "DD_APP_KEY": "a" * 40}
    proc = subprocess.run(
        [sys.executable, "-m", "stripe_otel.cli", "dashboards", "import", "--vendor", "datadog",
         "--api-url", "http://127.0.0.1:9"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "k" * 32 not in proc.stderr
