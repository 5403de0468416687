"""The demo's order database: SQLite, traced by the OpenTelemetry sqlite3 instrumentation.

``SQLite3Instrumentor.instrument_connection`` traces one connection rather than patching
``sqlite3.connect`` for the whole process: the demo also runs inside other programs (the
test suite), which must not find sqlite3 instrumented afterwards. The instrumentation
traces cursors, not the ``Connection.execute`` shortcut, so every statement here goes
through a cursor; stripe-otel then counts the writes as the transaction's ``db_write``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.trace import TracerProvider

__all__ = ["connect", "count_orders", "create_schema", "insert_order", "record_event"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS orders (
        order_id TEXT PRIMARY KEY,
        payment_intent TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS webhook_events (
        event_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        payment_intent TEXT NOT NULL,
        received_at REAL NOT NULL
    )""",
)


def create_schema(path: Path) -> None:
    """Create the tables, untraced: setting up is not part of any payment."""
    with sqlite3.connect(path) as raw:
        # WAL lets the webhook endpoint write while checkouts write: writers still take
        # turns, but readers and the checkpoint no longer block them.
        raw.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            raw.execute(statement)
    raw.close()


def connect(path: Path, tracer_provider: TracerProvider) -> Any:
    """A traced connection (autocommit: each INSERT is its own short transaction).

    Typed ``Any``: the instrumentation returns a proxy that behaves as the connection.
    """
    # check_same_thread=False: the webhook endpoint's handler threads share one
    # connection (under a lock); each checkout worker opens its own.
    raw = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    return SQLite3Instrumentor.instrument_connection(raw, tracer_provider=tracer_provider)


def insert_order(
    connection: Any, order_id: str, payment_intent: str, amount: int, currency: str
) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(
            "INSERT INTO orders (order_id, payment_intent, amount, currency, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (order_id, payment_intent, amount, currency, time.time()),
        )
    finally:
        cursor.close()


def record_event(connection: Any, event_id: str, event_type: str, payment_intent: str) -> None:
    cursor = connection.cursor()
    try:
        # OR IGNORE: Stripe may deliver an event more than once; handling must be idempotent.
        cursor.execute(
            "INSERT OR IGNORE INTO webhook_events (event_id, type, payment_intent, received_at)"
            " VALUES (?, ?, ?, ?)",
            (event_id, event_type, payment_intent, time.time()),
        )
    finally:
        cursor.close()


def count_orders(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        (count,) = raw.execute("SELECT COUNT(*) FROM orders").fetchone()
    raw.close()
    return int(count)
