"""``python -m stripe_otel.testing``: run the Stripe test server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from types import FrameType

from ._server import DEFAULT_API_VERSION, StripeTestServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_otel.testing",
        description="Stripe-compatible test server (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument("--tls-cert", help="PEM certificate chain (enables HTTPS)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args(argv)

    context: ssl.SSLContext | None = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    try:
        server = StripeTestServer(args.host, args.port, context, args.api_version)
    except ValueError as exc:
        parser.error(str(exc))
    if args.delay_ms:
        server.set_delay(args.delay_ms)

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server.start()
    print(f"listening on {server.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
