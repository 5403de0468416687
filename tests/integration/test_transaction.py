"""Business transactions and the db_write phase, with real sqlite3 and SQLAlchemy."""

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from stripe_otel import StripeInstrumentor, _db_spans, _transaction, db_write, semconv, transaction
from stripe_otel._guard import internal_error_counts
from stripe_otel._transaction import add_operation
from tests.conftest import Telemetry

SQLITE_SCOPE = "opentelemetry.instrumentation.sqlite3"
SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
INSERT = "INSERT INTO payments (intent, status) VALUES (?, ?)"
DB_WRITE_MS = semconv.STRIPE_PHASE_DB_WRITE_MS


@pytest.fixture
def tel(instrument: Telemetry) -> Telemetry:
    assert _db_spans.install(instrument.provider)
    assert _db_spans.install(instrument.provider)  # idempotent: still one processor
    return instrument


@pytest.fixture
def sqlite_instrumented(tel: Telemetry) -> Iterator[None]:
    SQLite3Instrumentor().instrument(tracer_provider=tel.provider)
    yield
    SQLite3Instrumentor().uninstrument()


@pytest.fixture
def conn(sqlite_instrumented: None, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path / "app.db")  # after instrument(): a traced proxy
    connection.cursor().execute("CREATE TABLE payments (intent TEXT, status TEXT)")
    yield connection
    connection.close()


@pytest.fixture
def engine(tel: Telemetry, sqlite_instrumented: None, tmp_path: Path) -> Iterator[Any]:
    # The SQLAlchemy instrumentation imports sqlalchemy.ext.asyncio, which needs greenlet.
    pytest.importorskip("greenlet")
    import sqlalchemy as sa
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    eng = sa.create_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    # 0.66b1 declares sqlalchemy < 2.1; its event hooks work unchanged on 2.1.
    SQLAlchemyInstrumentor().instrument(
        engine=eng, tracer_provider=tel.provider, skip_dep_check=True
    )
    with eng.begin() as c:
        c.execute(sa.text("CREATE TABLE payments (intent TEXT, status TEXT)"))
    yield eng
    SQLAlchemyInstrumentor().uninstrument()
    eng.dispose()


def one(tel: Telemetry, name: str) -> ReadableSpan:
    found = [s for s in tel.spans() if s.name == name]
    assert len(found) == 1, [s.name for s in tel.spans()]
    return found[0]


def dur(span: ReadableSpan) -> int:
    assert span.start_time is not None and span.end_time is not None
    return span.end_time - span.start_time


def scoped(tel: Telemetry, scope: str) -> list[ReadableSpan]:
    return [s for s in tel.spans() if getattr(s.instrumentation_scope, "name", "") == scope]


def attr(span: ReadableSpan, key: str) -> Any:
    assert span.attributes is not None
    return span.attributes.get(key)


def errors() -> int:
    return sum(internal_error_counts().values())


def test_sqlite_writes_count_as_db_write_and_reads_do_not(tel: Telemetry, conn: Any) -> None:
    cur = conn.cursor()
    with transaction("checkout"):
        cur.execute(INSERT, ("pi_1", "new"))
        cur.execute("UPDATE payments SET status = ? WHERE intent = ?", ("paid", "pi_1"))
        cur.execute("SELECT status FROM payments")
        cur.execute("DELETE FROM payments WHERE intent = ?", ("pi_1",))
    txn = one(tel, "checkout")
    assert txn.kind is SpanKind.INTERNAL and attr(txn, semconv.STRIPE_TRANSACTION) == "checkout"
    spans = scoped(tel, SQLITE_SCOPE)
    writes = [s for s in spans if s.name in ("INSERT", "UPDATE", "DELETE")]
    (select,) = [s for s in spans if s.name == "SELECT"]
    assert len(writes) == 3
    assert all(attr(s, semconv.STRIPE_PHASE) == semconv.PHASE_DB_WRITE for s in writes)
    assert attr(select, semconv.STRIPE_PHASE) is None
    assert attr(txn, DB_WRITE_MS) == pytest.approx(sum(map(dur, writes)) / 1e6, abs=1e-6)
    assert attr(txn, semconv.STRIPE_TRANSACTION_OPERATIONS) == 0


def test_outside_a_transaction_nothing_breaks(tel: Telemetry, conn: Any) -> None:
    before = errors()
    cur = conn.cursor()
    cur.execute(INSERT, ("pi_2", "new"))
    add_operation(1, 2, 3)
    assert cur.execute("SELECT intent FROM payments").fetchall() == [("pi_2",)]
    assert attr(one(tel, "INSERT"), semconv.STRIPE_PHASE) == semconv.PHASE_DB_WRITE
    assert errors() == before
    assert not scoped(tel, semconv.INSTRUMENTATION_NAME)


def test_sqlalchemy_over_sqlite3_counts_each_write_once(tel: Telemetry, engine: Any) -> None:
    import sqlalchemy as sa

    tel.exporter.clear()
    with transaction("checkout"), engine.begin() as c:
        c.execute(sa.text("INSERT INTO payments VALUES (:i, 'new')"), {"i": "pi_3"})
        c.execute(sa.text("UPDATE payments SET status = 'paid'"))
        assert c.execute(sa.text("SELECT intent FROM payments")).all() == [("pi_3",)]
    orm = scoped(tel, SQLALCHEMY_SCOPE)
    writes = [s for s in orm if s.name.split()[0] in ("INSERT", "UPDATE")]
    (select,) = [s for s in orm if s.name.startswith("SELECT")]
    lower = [s for s in scoped(tel, SQLITE_SCOPE) if s.name in ("INSERT", "UPDATE")]
    assert len(writes) == 2 and len(lower) == 2  # both layers traced every write...
    assert all(attr(s, semconv.STRIPE_PHASE) == semconv.PHASE_DB_WRITE for s in writes + lower)
    assert attr(select, semconv.STRIPE_PHASE) is None
    # ...but only the outer layer counts: the sqlite3 spans lie inside its intervals.
    txn = one(tel, "checkout")
    assert attr(txn, DB_WRITE_MS) == pytest.approx(sum(map(dur, writes)) / 1e6, abs=1e-6)


def test_db_write_block_counts_once(tel: Telemetry, conn: Any) -> None:
    with transaction("checkout"):
        with db_write():
            conn.cursor().execute(INSERT, ("pi_4", "new"))
        with db_write("save_receipt"):
            pass
    txn, block = one(tel, "checkout"), one(tel, semconv.SPAN_DB_WRITE)
    named, insert = one(tel, "save_receipt"), one(tel, "INSERT")
    assert block.kind is SpanKind.INTERNAL
    assert attr(block, semconv.STRIPE_PHASE) == semconv.PHASE_DB_WRITE
    assert block.parent and txn.context and block.parent.span_id == txn.context.span_id
    assert insert.parent and block.context and insert.parent.span_id == block.context.span_id
    expected = (dur(block) + dur(named)) / 1e6  # the INSERT inside is not added again
    assert attr(txn, DB_WRITE_MS) == pytest.approx(expected, abs=1e-6)


async def test_async_db_write_and_nested_block(tel: Telemetry, conn: Any) -> None:
    async with transaction("checkout"), db_write():
        await asyncio.sleep(0.005)
        with db_write("inner"):
            conn.cursor().execute(INSERT, ("pi_5", "new"))
    block, inner = one(tel, semconv.SPAN_DB_WRITE), one(tel, "inner")
    assert inner.parent and block.context and inner.parent.span_id == block.context.span_id
    db_ms = attr(one(tel, "checkout"), DB_WRITE_MS)
    assert db_ms == pytest.approx(dur(block) / 1e6, abs=1e-6) and db_ms >= 5.0


def test_operation_totals_and_app_ms_with_clamp(tel: Telemetry) -> None:
    with transaction("checkout"):
        add_operation(1_000_000, 2_500_000, 300_000)
        add_operation(2_000_000, 1_500_000, 200_000)
        with db_write():
            pass
        time.sleep(0.02)
    txn = one(tel, "checkout")
    assert attr(txn, semconv.STRIPE_PHASE_NETWORK_MS) == 3.0
    assert attr(txn, semconv.STRIPE_PHASE_API_PROCESSING_MS) == 4.0
    assert attr(txn, semconv.STRIPE_PHASE_SDK_DECODE_MS) == 0.5
    assert attr(txn, semconv.STRIPE_TRANSACTION_OPERATIONS) == 2
    app, others = attr(txn, semconv.STRIPE_PHASE_APP_MS), 7.5 + attr(txn, DB_WRITE_MS)
    # Against the span's own start and end, to 1 µs.
    assert app == pytest.approx(dur(txn) / 1e6 - others, abs=1e-3) and app > 10.0
    with transaction("fanout"):
        add_operation(10_000_000_000, 0, 0)  # more than it lasted: app_ms is clamped at 0
    assert attr(one(tel, "fanout"), semconv.STRIPE_PHASE_APP_MS) == 0.0


async def test_gathered_tasks_and_threads_share_the_totals(tel: Telemetry) -> None:
    async def call() -> None:
        await asyncio.sleep(0)
        add_operation(1_000_000, 0, 0)

    async with transaction("fanout"):
        await asyncio.gather(
            *(call() for _ in range(5)),
            *(asyncio.to_thread(add_operation, 1_000_000, 0, 0) for _ in range(5)),
        )
    txn = one(tel, "fanout")
    assert attr(txn, semconv.STRIPE_TRANSACTION_OPERATIONS) == 10
    assert attr(txn, semconv.STRIPE_PHASE_NETWORK_MS) == 10.0


def test_nested_transactions(tel: Telemetry, conn: Any) -> None:
    with transaction("checkout"):
        add_operation(1_000_000, 0, 0)
        with transaction("charge"):
            add_operation(2_000_000, 3_000_000, 0)
            conn.cursor().execute(INSERT, ("pi_6", "new"))
    outer, inner, insert = one(tel, "checkout"), one(tel, "charge"), one(tel, "INSERT")
    assert inner.parent and outer.context and inner.parent.span_id == outer.context.span_id
    assert attr(inner, semconv.STRIPE_PHASE_NETWORK_MS) == 2.0
    assert attr(inner, semconv.STRIPE_TRANSACTION_OPERATIONS) == 1
    assert attr(outer, semconv.STRIPE_PHASE_NETWORK_MS) == 3.0
    assert attr(outer, semconv.STRIPE_PHASE_API_PROCESSING_MS) == 3.0
    assert attr(outer, semconv.STRIPE_TRANSACTION_OPERATIONS) == 2
    assert dur(insert) > 0
    for span in (inner, outer):
        assert attr(span, DB_WRITE_MS) == pytest.approx(dur(insert) / 1e6, abs=1e-6)


async def test_decorator_passes_results_and_exceptions_through(tel: Telemetry) -> None:
    error = ValueError("card 4242424242424242 declined")

    @transaction("refund")
    def refund(amount: int) -> dict[str, int]:
        return {"amount": amount}

    @transaction("capture")
    async def capture(amount: int) -> int:
        await asyncio.sleep(0)
        raise error

    assert refund(5) == {"amount": 5} and refund.__name__ == "refund"
    with pytest.raises(ValueError) as info:
        await capture(5)
    assert info.value is error
    assert trace.get_current_span() is trace.INVALID_SPAN  # context restored
    failed = one(tel, "capture")
    assert failed.status.status_code is StatusCode.ERROR
    (event,) = failed.events
    assert event.attributes and event.attributes[semconv.EXCEPTION_TYPE] == "ValueError"
    assert "4242" not in str(event.attributes[semconv.EXCEPTION_MESSAGE])
    assert one(tel, "refund").status.status_code is StatusCode.UNSET


def _boom(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("bug in stripe-otel")


@pytest.mark.parametrize("hook", ["_tracer", "_phase_attributes", "_open"])
async def test_failing_hook_changes_nothing_the_app_sees(
    tel: Telemetry, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    monkeypatch.setattr(_transaction, hook, _boom)
    before, calls, error = errors(), [], KeyError("order")

    @transaction("checkout")
    def sync_body() -> str:
        calls.append("sync")
        return "ok"

    @transaction("checkout")
    async def async_body() -> str:
        calls.append("async")
        raise error

    assert sync_body() == "ok"
    with pytest.raises(KeyError) as info:
        await async_body()
    assert info.value is error and calls == ["sync", "async"]
    assert errors() >= before + 2
    assert trace.get_current_span() is trace.INVALID_SPAN
    # A failure while finishing still ends the span (without the totals).
    expected = 2 if hook == "_phase_attributes" else 0
    assert len([s for s in tel.spans() if s.name == "checkout"]) == expected


def test_failing_db_hooks_change_nothing(
    tel: Telemetry, conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_db_spans, "verb", _boom)
    monkeypatch.setattr(_transaction.TransactionTotals, "add_operation", _boom)
    before = errors()
    with transaction("checkout"):
        conn.cursor().execute(INSERT, ("pi_7", "new"))
        add_operation(1, 1, 1)
    assert conn.cursor().execute("SELECT intent FROM payments").fetchall() == [("pi_7",)]
    assert errors() >= before + 3  # on_start, on_end of the INSERT and add_operation
    assert attr(one(tel, "checkout"), DB_WRITE_MS) == 0.0


def test_non_recording_span_still_runs_the_body(telemetry: Telemetry) -> None:
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    before, seen = errors(), []
    try:

        @transaction("refund")
        def refund() -> int:
            span = trace.get_current_span()
            seen.append((span.get_span_context().is_valid, span.is_recording()))
            with db_write():
                add_operation(1, 1, 1)
            return 7

        assert refund() == 7
    finally:
        instrumentor.uninstrument()
    assert seen == [(True, False)]  # our span was current, unsampled
    assert errors() == before
    assert telemetry.spans() == []


async def test_one_transaction_object_shared_by_concurrent_tasks(telemetry: Any) -> None:
    # `CHECKOUT = transaction("checkout")` at module level, entered by concurrent handlers.
    import asyncio

    from opentelemetry import trace

    from stripe_otel import StripeInstrumentor, transaction

    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    try:
        checkout = transaction("checkout")
        seen: list[Any] = []

        async def handler(delay: float) -> None:
            async with checkout:
                inner = trace.get_current_span()
                await asyncio.sleep(delay)
                assert trace.get_current_span() is inner
            # Nothing current afterwards (not someone's ended transaction span).
            seen.append(trace.get_current_span().get_span_context().is_valid)

        await asyncio.gather(handler(0.01), handler(0.03))  # first in is first out
    finally:
        StripeInstrumentor().uninstrument()
    assert seen == [False, False]  # each task got its own context back
    spans = [s for s in telemetry.spans() if s.name == "checkout"]
    assert len(spans) == 2 and spans[0].context.span_id != spans[1].context.span_id


def test_db_spans_are_left_alone_after_uninstrument(telemetry: Any, tmp_path: Any) -> None:
    import sqlite3

    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    from stripe_otel import StripeInstrumentor

    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    StripeInstrumentor().uninstrument()  # the processor stays on the provider
    SQLite3Instrumentor().instrument(tracer_provider=telemetry.provider)
    try:
        cursor = sqlite3.connect(tmp_path / "after.db").cursor()
        cursor.execute("CREATE TABLE t (x)")
        cursor.execute("INSERT INTO t VALUES (1)")
    finally:
        SQLite3Instrumentor().uninstrument()
    [insert] = [s for s in telemetry.spans() if s.name.startswith("INSERT")]
    assert semconv.STRIPE_PHASE not in (insert.attributes or {})
