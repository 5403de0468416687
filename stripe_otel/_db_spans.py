"""Count the OpenTelemetry DB instrumentations' write spans as a transaction's db_write.

A span processor, so the app's DB code needs no change: spans from the sqlite3, DB-API,
SQLAlchemy, psycopg/psycopg2, asyncpg, pymysql and mysql instrumentations whose statement
is a write (INSERT, UPDATE, DELETE, UPSERT, MERGE, REPLACE, COMMIT) get
``stripe.phase=db_write`` and their duration is added to the enclosing transaction.

The DB-API instrumentation sets its attributes only after starting the span, so at
``on_start`` the span's name (the statement's first word, or ``{verb} {table}``) is all
there is to go on; ``on_end`` falls back to the ``db.*`` attributes for spans that were
not recognised at start (or that started before the processor was added).

When two layers instrument the same statement (SQLAlchemy over sqlite3 or psycopg: sibling
spans, the lower one inside the upper one's interval), only the outer span is counted.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.context import Context

from stripe_otel import _runtime, _transaction, semconv
from stripe_otel._guard import report, safe_call

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
else:
    try:
        from opentelemetry.sdk.trace import SpanProcessor
    except ImportError:  # the SDK is optional; without it there is no provider to join
        SpanProcessor = object

__all__ = ["WRITE_VERBS", "DbWriteSpanProcessor", "install"]

# OpenTelemetry's DB semantic conventions, old and new names. We only read them, never
# emit them, so they are not part of our allowlist in semconv.
_DB_SYSTEM: Final = "db.system"
_DB_SYSTEM_NAME: Final = "db.system.name"
_DB_STATEMENT: Final = "db.statement"
_DB_QUERY_TEXT: Final = "db.query.text"
_DB_OPERATION: Final = "db.operation"
_DB_OPERATION_NAME: Final = "db.operation.name"
_WRITE_EVIDENCE: Final = (_DB_STATEMENT, _DB_QUERY_TEXT, _DB_OPERATION, _DB_OPERATION_NAME)

#: Substrings of the instrumentation scope names of the DB instrumentations we know.
_DB_SCOPES: Final = ("sqlite3", "dbapi", "sqlalchemy", "psycopg", "asyncpg", "pymysql", "mysql")
WRITE_VERBS: Final = frozenset(
    {"INSERT", "UPDATE", "DELETE", "UPSERT", "MERGE", "REPLACE", "COMMIT"}
)
# The first word, after whitespace, parentheses and SQL comments.
_VERB_RE: Final = re.compile(r"(?:\s|\(|/\*.*?\*/|--[^\n]*(?:\n|$))*([A-Za-z]+)", re.DOTALL)
# Bound on spans remembered between start and end: a span an instrumentation never ends
# must not grow memory forever.
_MAX_OPEN: Final = 4096

_Owner = tuple[int, int]


def _verb(text: object) -> str:
    if not isinstance(text, str):
        return ""
    match = _VERB_RE.match(text)
    return match.group(1).upper() if match else ""


@functools.lru_cache(maxsize=256)
def _is_db_scope(scope_name: str) -> bool:
    lowered = scope_name.lower()
    return any(part in lowered for part in _DB_SCOPES)


def _is_ours(span: ReadableSpan) -> bool:
    """One of stripe-otel's own spans: never a DB write, nothing to count."""
    scope = span.instrumentation_scope
    return scope is not None and scope.name == semconv.INSTRUMENTATION_NAME


def _is_db_span(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    if scope is not None and _is_db_scope(scope.name):
        return True
    attributes = span.attributes or {}
    return _DB_SYSTEM in attributes or _DB_SYSTEM_NAME in attributes


def _shows_write(attributes: Mapping[str, Any]) -> bool:
    return any(_verb(attributes.get(key)) in WRITE_VERBS for key in _WRITE_EVIDENCE)


def _owner() -> _Owner:
    # The unit of "one statement at a time": a thread, or an asyncio task within it.
    loop = asyncio._get_running_loop()
    task = asyncio.current_task(loop) if loop is not None else None
    return threading.get_ident(), id(task)


def _duration(span: ReadableSpan) -> int:
    start, end = span.start_time, span.end_time
    return max(0, end - start) if start is not None and end is not None else 0


class DbWriteSpanProcessor(SpanProcessor):
    """Marks DB write spans ``stripe.phase=db_write`` and counts them into transactions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # span id -> (the transaction it counts into, its owner), from start to end.
        self._open: dict[int, tuple[_transaction.TransactionTotals, _Owner]] = {}
        # owner -> span id of the write span being counted there now (to skip nested layers).
        self._counting: dict[_Owner, int] = {}

    # An SDK provider cannot drop a processor, so after uninstrument() this one stays
    # installed; like every other hook it then passes straight through.
    # Every span of the app passes through here, ours included (six per Stripe call), so
    # the common case (not a DB span) returns before any call or lock: try/except costs
    # nothing in CPython 3.11 until something raises.
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if _runtime.current is None or _is_ours(span):
                return
            self._on_start(span, parent_context)
        except Exception as exc:  # noqa: BLE001 - fail open
            report("DbWriteSpanProcessor._on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if _runtime.current is None or _is_ours(span):
                return
            self._on_end(span)
        except Exception as exc:  # noqa: BLE001 - fail open
            report("DbWriteSpanProcessor._on_end", exc)

    def _nested(self, owner: _Owner) -> bool:
        # Called with the lock held.
        return self._counting.get(owner) in self._open

    def _on_start(self, span: Span, parent_context: Context | None) -> None:
        if not _is_db_span(span) or _verb(span.name) not in WRITE_VERBS:
            return
        span.set_attribute(semconv.STRIPE_PHASE, semconv.PHASE_DB_WRITE)
        totals = _transaction.current_totals()
        if totals is None or _transaction.in_db_write():
            return
        span_id = span.get_span_context().span_id
        owner = _owner()
        with self._lock:
            if self._nested(owner):
                return
            if len(self._open) >= _MAX_OPEN:
                stale_id, (_, stale_owner) = next(iter(self._open.items()))
                del self._open[stale_id]
                if self._counting.get(stale_owner) == stale_id:
                    del self._counting[stale_owner]
            self._open[span_id] = (totals, owner)
            self._counting[owner] = span_id

    def _on_end(self, span: ReadableSpan) -> None:
        span_context = span.context
        if span_context is None:
            return
        span_id = span_context.span_id
        entry = None
        if span_id in self._open:  # a lock-free look first: most spans were never counted
            with self._lock:
                entry = self._open.pop(span_id, None)
                if entry is not None and self._counting.get(entry[1]) == span_id:
                    del self._counting[entry[1]]
        if entry is not None:
            entry[0].add_db_write(_duration(span))
            return
        attributes = span.attributes or {}
        if attributes.get(semconv.STRIPE_PHASE) is not None:
            return  # decided at start (or one of our own spans): nothing to add now
        # Fallback: not recognisable by name at start. DB spans end in the thread or task
        # that made them, so the current context is the one the statement ran in.
        if not _is_db_span(span) or not _shows_write(attributes):
            return
        totals = _transaction.current_totals()
        if totals is None or _transaction.in_db_write():
            return
        with self._lock:
            if self._nested(_owner()):
                return
        totals.add_db_write(_duration(span))


_install_lock = threading.Lock()
_installed: weakref.WeakSet[Any] = weakref.WeakSet()
_MARKER: Final = "_stripe_otel_db_write_processor"


def _is_marked(tracer_provider: object) -> bool:
    try:
        return tracer_provider in _installed
    except TypeError:  # not weak-referenceable: a marker attribute instead
        return bool(getattr(tracer_provider, _MARKER, False))


def _mark(tracer_provider: object, installed: bool) -> None:
    try:
        if installed:
            _installed.add(tracer_provider)
        else:
            _installed.discard(tracer_provider)
    except TypeError:
        setattr(tracer_provider, _MARKER, installed)  # raises if it cannot be marked either


def _install(tracer_provider: object) -> bool:
    add = getattr(tracer_provider, "add_span_processor", None)
    if not callable(add):
        return False  # the API's no-op or proxy provider: nothing to join (yet)
    with _install_lock:
        if _is_marked(tracer_provider):
            return True
        # Marked first: a provider we could not mark would get a second processor (and
        # count every write twice) on the next call.
        _mark(tracer_provider, True)
        try:
            add(DbWriteSpanProcessor())
        except BaseException:
            _mark(tracer_provider, False)
            raise
    return True


def install(tracer_provider: object) -> bool:
    """Add the processor to *tracer_provider* once; whether it is installed. Never raises.

    Only an SDK ``TracerProvider`` (anything with ``add_span_processor``) can take it.
    """
    return safe_call(_install, tracer_provider) is True
