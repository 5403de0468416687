"""An OtlpReceiver in a child process, driven over a pipe: down, up, and what it got.

In the benchmark's own process the receiver would decode every export under our GIL and
keep every span in our RSS, and the outage benchmark compares payment-call latency with
and without an outage: the receiver's own work must not be part of it.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any


def _serve(conn: Connection) -> None:
    from stripe_otel.testing import OtlpReceiver

    with OtlpReceiver() as rx:
        conn.send(rx.http_endpoint)
        while True:
            command = conn.recv()
            if command == "down":
                rx.down()
                conn.send(None)
            elif command == "up":
                rx.up()
                conn.send(None)
            elif command == "span_ids":
                conn.send(Counter(span["span_id"] for span in rx.spans))
            elif command == "count":
                conn.send(len(rx.spans))
            else:  # "stop"
                conn.send(None)
                return


class ReceiverProcess:
    """``with ReceiverProcess() as rx:`` rx.http_endpoint, rx.down(), rx.up(), rx.span_ids()."""

    def __init__(self) -> None:
        # spawn: the child must not inherit our instrumentation, threads or locks.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self.http_endpoint = ""

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def down(self) -> None:
        self._ask("down")

    def up(self) -> None:
        self._ask("up")

    def span_ids(self) -> Counter[str]:
        ids: Counter[str] = self._ask("span_ids")
        return ids

    def span_count(self) -> int:
        return int(self._ask("count"))

    def __enter__(self) -> ReceiverProcess:
        self._process.start()
        self.http_endpoint = self._conn.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._ask("stop")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
