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

from stripe_otel import semconv
from stripe_otel._guard import safe_call

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["WRITE_VERBS", "install"]

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
MAX_OPEN: Final = 4096

Owner = tuple[int, int]


def verb(text: object) -> str:
    if not isinstance(text, str):
        return ""
    match = _VERB_RE.match(text)
    return match.group(1).upper() if match else ""


@functools.lru_cache(maxsize=256)
def _is_db_scope(scope_name: str) -> bool:
    lowered = scope_name.lower()
    return any(part in lowered for part in _DB_SCOPES)


def is_ours(span: ReadableSpan) -> bool:
    """One of stripe-otel's own spans: never a DB write, nothing to count."""
    scope = span.instrumentation_scope
    return scope is not None and scope.name == semconv.INSTRUMENTATION_NAME


def is_db_span(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    if scope is not None and _is_db_scope(scope.name):
        return True
    attributes = span.attributes or {}
    return _DB_SYSTEM in attributes or _DB_SYSTEM_NAME in attributes


def shows_write(attributes: Mapping[str, Any]) -> bool:
    return any(verb(attributes.get(key)) in WRITE_VERBS for key in _WRITE_EVIDENCE)


def owner() -> Owner:
    # The unit of "one statement at a time": a thread, or an asyncio task within it.
    loop = asyncio._get_running_loop()
    task = asyncio.current_task(loop) if loop is not None else None
    return threading.get_ident(), id(task)


def duration(span: ReadableSpan) -> int:
    start, end = span.start_time, span.end_time
    return max(0, end - start) if start is not None and end is not None else 0


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
        # Imported only now: the processor subclasses the SDK's, and a provider that takes
        # processors means the SDK is loaded already; importing it earlier would add its
        # import time to every app's start-up.
        try:
            from stripe_otel._db_processor import DbWriteSpanProcessor  # noqa: PLC0415

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
