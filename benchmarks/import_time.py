"""Start-up cost: `import stripe` alone vs followed by `import stripe_otel.auto`, each in a
fresh interpreter, median of several runs.

    .venv/bin/python -m benchmarks.import_time [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_PROBE = (
    "import time; t = time.perf_counter(); import stripe; a = time.perf_counter(); {extra}"
    "b = time.perf_counter(); print((a - t) * 1e3, (b - a) * 1e3)"
)


def run(extra: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(extra=extra)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    stripe_ms = [run("")[0] for _ in range(args.runs)]
    auto_ms = [run("import stripe_otel.auto; ")[1] for _ in range(args.runs)]
    print(f"import stripe: median {statistics.median(stripe_ms):.0f} ms")
    print(f"import stripe_otel.auto after it: median {statistics.median(auto_ms):.0f} ms")


if __name__ == "__main__":
    main()
