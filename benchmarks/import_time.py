"""Start-up cost: `import stripe` + first call, without and with `import stripe_otel.auto`
in between, each in a fresh interpreter, interleaved, median of several runs.

    .venv/bin/python -m benchmarks.import_time [--runs 9] [--json out.json]

What stripe-otel adds = its import + (first call instrumented - first call bare): the
patches go in at import, and the first instrumented call pays for lazily built state.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, report_out, stripe_server

_FIELDS = ("import_stripe_ms", "import_auto_ms", "first_call_ms")


def probe(url: str, variant: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._import_probe", url, variant],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout  # fmt: skip
    timings: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return timings


def _compile_bytecode() -> None:
    # An installed wheel has its .pyc files; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as CI and this machine do) has none, and every probe
    # would time compiling stripe_otel's source rather than importing it.
    import compileall

    import stripe_otel

    compileall.compile_dir(str(Path(stripe_otel.__file__).parent), quiet=1)


def run(runs: int) -> dict[str, Any]:
    _compile_bytecode()
    samples: dict[str, list[dict[str, float]]] = {"bare": [], "auto": []}
    with stripe_server() as url:
        probe(url, "bare")  # warm the file system cache and the server
        for _ in range(runs):
            for variant, rows in samples.items():
                rows.append(probe(url, variant))
    medians = {
        variant: {field: round(statistics.median(s[field] for s in rows), 1) for field in _FIELDS}
        for variant, rows in samples.items()
    }
    added = [
        auto["import_auto_ms"] + auto["first_call_ms"] - bare["first_call_ms"]
        for bare, auto in zip(samples["bare"], samples["auto"], strict=True)
    ]
    return {
        "runs": runs,
        "bare": medians["bare"],
        "auto": medians["auto"],
        "added_ms": round(statistics.median(added), 1),
        "added_ms_min_max": [round(min(added), 1), round(max(added), 1)],
    }


def markdown(summary: dict[str, Any]) -> str:
    bare, auto = summary["bare"], summary["auto"]
    low, high = summary["added_ms_min_max"]
    return "\n".join([
        f"Median of {summary['runs']} fresh interpreters each (OTel SDK set up beforehand, "
        "untimed):",
        "",
        "| | import stripe ms | import stripe_otel.auto ms | first call ms |",
        "|---|---|---|---|",
        f"| bare | {bare['import_stripe_ms']} | - | {bare['first_call_ms']} |",
        f"| with stripe_otel.auto | {auto['import_stripe_ms']} | {auto['import_auto_ms']} | "
        f"{auto['first_call_ms']} |",
        "",
        f"stripe-otel adds **{summary['added_ms']} ms** at start-up (import + extra first-call "
        f"time; range {low}-{high} ms over runs).",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    summary = run(args.runs)
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
