"""`stripe-otel demo` as a user runs it: refusing live keys, reruns, Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from stripe_otel.cli import main

_VENDOR_ENV = ("STRIPE_API_KEY", "HONEYCOMB_API_KEY", "DD_API_KEY", "DD_TRACE_AGENT_URL")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _VENDOR_ENV}
    return {**env, **extra}


@pytest.mark.parametrize("key", ["sk_live_abc123", "rk_live_abc123"])
def test_live_key_is_refused_in_one_line(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", key)
    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "live key" in err
    assert key not in err  # never echo a key
    assert not (tmp_path / "out").exists()  # refused before touching anything


def test_a_key_that_is_not_a_test_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "pk_test_publishable")
    assert main(["demo", "--out", str(tmp_path / "out")]) == 2
    assert "sk_test_" in capsys.readouterr().err


def test_bad_counts_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--transactions", "0"])
    assert exit_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.integration
def test_rerun_replaces_the_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in _VENDOR_ENV:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("not the demo's")
    args = ["demo", "--transactions", "4", "--concurrency", "2", "--seed", "1", "--quiet"]
    for _ in range(2):
        assert main([*args, "--no-tls", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no progress line
    with closing(sqlite3.connect(out / "orders.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM orders").fetchone() == (4,)  # not 8
    transactions = (out / "spans.jsonl").read_text().count('"name":"checkout"')
    assert transactions == 4
    assert (out / "mine.txt").read_text() == "not the demo's"  # only its own files go
    assert "plain HTTP" in captured.out  # --no-tls says what it costs


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "stripe_otel.cli", "demo", "--transactions", "5000",
               "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        # Spans are exported every half second: once some are in, checkouts are running.
        while not (out / "spans.jsonl").exists() or (out / "spans.jsonl").stat().st_size == 0:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the demo never started exporting"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted after" in stderr
    assert not (out / ".demo-ca.pem").exists()
    # What ran was flushed: the spans file ends with a complete line.
    assert (out / "spans.jsonl").read_text().endswith("\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
