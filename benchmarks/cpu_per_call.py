"""The instrumentation's own CPU per Stripe call, with the network taken out.

A canned HTTP client (a subclass of the SDK's ``HTTPClient`` returning a fixed response)
makes every call pure CPU: the SDK's and ours. The difference to bare is what
stripe-otel itself costs per call, free of network and server noise. Phases are not
timed here (the canned client has no transport to time); see overhead.py for them.

    .venv/bin/python benchmarks/cpu_per_call.py [--blocks 7] [--calls 3000] [--profile CONFIG]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from typing import Any

import stripe
from stripe._http_client import HTTPClient

from benchmarks.overhead import configurations

_BODY = json.dumps({"id": "cus_123", "object": "customer", "email": None, "metadata": {}}).encode()
_HEADERS = {"Request-Id": "req_abc123", "Stripe-Version": "2026-10-28.endive"}


class CannedClient(HTTPClient):
    name = "canned"

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any) -> Any:
        return _BODY, 200, _HEADERS


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--profile", help="profile this configuration (cProfile, by tottime)")
    args = parser.parse_args()
    client = stripe.StripeClient("sk_test_benchmark", http_client=CannedClient())
    configs = configurations()

    def block() -> float:
        start = time.perf_counter()
        for _ in range(args.calls):
            client.v1.customers.retrieve("cus_123")
        return float((time.perf_counter() - start) / args.calls * 1e6)

    block()
    results: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.blocks):
        for name, config in configs.items():
            config.on()
            try:
                results[name].append(block())
            finally:
                config.off()
    bare = statistics.median(results["bare"])
    print("| configuration | median us/call | added us/call |")
    print("|---|---|---|")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"| {name} | {median:.1f} | {median - bare:+.1f} |")
    if args.profile:
        on, off, _ = configs[args.profile]
        on()
        profiler = cProfile.Profile()
        profiler.enable()
        block()
        profiler.disable()
        off()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
