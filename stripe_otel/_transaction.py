"""Business transactions: where the time of one payment flow went.

``with transaction("checkout"):`` opens an INTERNAL span and a :class:`TransactionTotals`
accumulator. Stripe operations finishing inside it add their phase totals
(:func:`add_operation`); DB writes add theirs (:func:`db_write`, or the span processor in
:mod:`stripe_otel._db_spans`). On exit the span gets the totals in ms, and ``app_ms``.

The accumulator rides in the OpenTelemetry context (a contextvar underneath), like the
operation record, so it goes wherever OTel context is propagated: gathered asyncio tasks,
threads started with a copied context, executor instrumentations.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Tracer

# _operation imports this module: reach it through the module, at call time.
from stripe_otel import _db_spans, _operation, _runtime, semconv
from stripe_otel._guard import safe_call
from stripe_otel.version import __version__

__all__ = ["TransactionTotals", "add_operation", "db_write", "transaction"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_NS_PER_MS = 1_000_000

# Plain ContextVars, not OpenTelemetry context values: ddtrace's OTel bridge replaces the
# runtime context with one that keeps only the active span.
_totals: ContextVar[TransactionTotals | None] = ContextVar("stripe_otel_totals", default=None)
_in_db_write: ContextVar[bool] = ContextVar("stripe_otel_in_db_write", default=False)


class TransactionTotals:
    """Nanoseconds per phase and the operation count of one transaction.

    Gathered tasks and threads started with a copied context share one instance, hence
    the lock. Every addition also goes to the enclosing transactions (``parent``), live,
    so an outer transaction's totals are the whole even if an inner one fails to close.
    """

    __slots__ = (
        "_lock",
        "api_processing",
        "db_write",
        "network",
        "operations",
        "parent",
        "sdk_decode",
    )

    def __init__(self, parent: TransactionTotals | None = None) -> None:
        self.parent = parent
        self.network = 0
        self.api_processing = 0
        self.sdk_decode = 0
        self.db_write = 0
        self.operations = 0
        self._lock = threading.Lock()

    def add_operation(self, network: int, api_processing: int, sdk_decode: int) -> None:
        self._add(network, api_processing, sdk_decode, 0, 1)

    def add_db_write(self, duration_ns: int) -> None:
        self._add(0, 0, 0, duration_ns, 0)

    def _add(self, network: int, api: int, decode: int, db_write: int, operations: int) -> None:
        totals: TransactionTotals | None = self
        while totals is not None:
            with totals._lock:
                totals.network += network
                totals.api_processing += api
                totals.sdk_decode += decode
                totals.db_write += db_write
                totals.operations += operations
            totals = totals.parent

    def snapshot(self) -> tuple[int, int, int, int, int]:
        """(network, api_processing, sdk_decode, db_write, operations), read consistently."""
        with self._lock:
            return (
                self.network,
                self.api_processing,
                self.sdk_decode,
                self.db_write,
                self.operations,
            )


def current_totals() -> TransactionTotals | None:
    """The innermost transaction's accumulator in the current context."""
    value = _totals.get()
    return value if isinstance(value, TransactionTotals) else None


def in_db_write() -> bool:
    """True inside a :func:`db_write` block, whose own span already counts the time."""
    return _in_db_write.get()


def add_operation(network_ns: int, api_processing_ns: int, sdk_decode_ns: int) -> None:
    """Add one finished Stripe operation's phase totals to the current transaction.

    A no-op outside a transaction. Called by the operation code when a call ends.
    """
    totals = current_totals()
    if totals is not None:
        safe_call(totals.add_operation, network_ns, api_processing_ns, sdk_decode_ns)


_fallback_tracer: Tracer | None = None
_global_processor_installed = False


def _tracer() -> Tracer:
    global _fallback_tracer
    runtime = _runtime.current
    if runtime is not None:
        return runtime.tracer
    if _fallback_tracer is None:
        # Before a global provider is set this is a proxy that follows it once set.
        _fallback_tracer = trace.get_tracer(semconv.INSTRUMENTATION_NAME, __version__)
    return _fallback_tracer


def _ensure_db_processor() -> None:
    # Lazily, so `import stripe_otel.auto` users (global provider) count DB spans too.
    # Retried until it works: the global provider may be set after the first transaction.
    global _global_processor_installed
    if not _global_processor_installed:
        _global_processor_installed = _db_spans.install(trace.get_tracer_provider())


def _phase_attributes(totals: TransactionTotals, duration_ns: int) -> dict[str, float | int]:
    """The transaction span's totals, in ms.

    ``app_ms`` is the duration minus every other phase, clamped at 0: Stripe calls (or DB
    writes) running concurrently inside one transaction overlap in time, so their sum can
    exceed the transaction's duration, and then no time is left for the app.
    """
    network, api_processing, sdk_decode, db_write, operations = totals.snapshot()
    app = max(0, duration_ns - (network + api_processing + sdk_decode + db_write))
    return {
        semconv.STRIPE_PHASE_NETWORK_MS: network / _NS_PER_MS,
        semconv.STRIPE_PHASE_API_PROCESSING_MS: api_processing / _NS_PER_MS,
        semconv.STRIPE_PHASE_SDK_DECODE_MS: sdk_decode / _NS_PER_MS,
        semconv.STRIPE_PHASE_DB_WRITE_MS: db_write / _NS_PER_MS,
        semconv.STRIPE_PHASE_APP_MS: app / _NS_PER_MS,
        semconv.STRIPE_TRANSACTION_OPERATIONS: operations,
    }


class _Active:
    """One entered scope: its span, when it started, and how to restore the context."""

    __slots__ = (
        "counts_db_write",
        "recording",
        "span",
        "start_ns",
        "token",
        "totals",
        "var",
        "var_token",
    )

    def __init__(
        self,
        span: Span,
        recording: bool,
        start_ns: int,
        token: object,
        totals: TransactionTotals | None,
        var: ContextVar[Any],
        var_token: Token[Any],
    ) -> None:
        self.span = span
        self.recording = recording
        self.start_ns = start_ns
        self.token = token
        self.totals = totals
        self.var = var
        self.var_token = var_token
        self.counts_db_write = False


def _open(
    name: str,
    attributes: dict[str, Any],
    var: ContextVar[Any],
    value: object,
    totals: TransactionTotals | None,
) -> _Active:
    start_ns = time.time_ns()
    span = _tracer().start_span(
        name, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start_ns
    )
    # The span's own start (SDK spans expose it), so totals and span agree exactly.
    span_start = getattr(span, "start_time", None)
    if isinstance(span_start, int):
        start_ns = span_start
    var_token = var.set(value)
    token = context.attach(trace.set_span_in_context(span))  # last: nothing after can fail
    return _Active(span, span.is_recording(), start_ns, token, totals, var, var_token)


class _Scope:
    """A context manager (sync and async) that is also a decorator.

    Each decorated call enters a fresh scope, so one decorator serves concurrent calls;
    an object used with ``with`` belongs to one thread or task (it keeps a stack).
    Our own work runs through :func:`safe_call`: if it fails the body still runs exactly
    once and its result or exception reaches the caller unchanged.
    """

    __slots__ = ("_name", "_stack")

    def __init__(self, name: str | None) -> None:
        self._name = name
        # Per context, not per object: one module-level `CHECKOUT = transaction("checkout")`
        # entered by concurrent tasks or threads must keep each one's scope apart.
        self._stack: ContextVar[tuple[_Active | None, ...]] = ContextVar(
            "stripe_otel_scope_stack", default=()
        )

    def _start(self) -> _Active:
        raise NotImplementedError

    def _finish(self, active: _Active, exc: BaseException | None, end_ns: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> None:
        self._stack.set((*self._stack.get(), safe_call(self._start)))

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        end_ns = time.time_ns()  # before our own work, so the span covers the body only
        stack = self._stack.get()
        active = stack[-1] if stack else None
        self._stack.set(stack[:-1])
        if active is not None:
            # Separate calls: a failure while finishing must not leave the context attached.
            safe_call(active.var.reset, active.var_token)
            safe_call(context.detach, active.token)
            safe_call(self._finish, active, exc, end_ns)
        # Returning None never suppresses: the body's exception propagates as it was.

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with type(self)(self._name):
                    return await func(*args, **kwargs)

            return cast(Callable[_P, _R], run_async)

        @functools.wraps(func)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with type(self)(self._name):
                return func(*args, **kwargs)

        return run


class Transaction(_Scope):
    """See :func:`transaction`."""

    __slots__ = ()

    def _start(self) -> _Active:
        safe_call(_ensure_db_processor)  # on its own: a failure must not cost the span
        name = cast(str, self._name)
        totals = TransactionTotals(parent=current_totals())
        attributes: dict[str, Any] = {semconv.STRIPE_TRANSACTION: name}
        runtime = _runtime.current
        if runtime is not None and runtime.datadog_names:
            attributes[semconv.DD_OPERATION_NAME] = semconv.DD_OPNAME_TRANSACTION
            attributes[semconv.DD_RESOURCE_NAME] = name
            attributes[semconv.DD_SPAN_TYPE] = semconv.DD_TYPE_CUSTOM
        return _open(name, attributes, _totals, totals, totals)

    def _finish(self, active: _Active, exc: BaseException | None, end_ns: int) -> None:
        try:
            if active.recording and active.totals is not None:
                if exc is not None:
                    _operation.record_exception(active.span, exc)
                duration = end_ns - active.start_ns
                active.span.set_attributes(_phase_attributes(active.totals, duration))
        finally:
            # The same end time as the duration above, so app_ms matches the span exactly.
            active.span.end(end_time=end_ns)


class DbWrite(_Scope):
    """See :func:`db_write`."""

    __slots__ = ()

    def _start(self) -> _Active:
        # Inside another db_write() block the outer one already counts this time.
        counts = not in_db_write()
        active = _open(
            self._name or semconv.SPAN_DB_WRITE,
            {semconv.STRIPE_PHASE: semconv.PHASE_DB_WRITE},
            _in_db_write,
            True,
            current_totals(),
        )
        active.counts_db_write = counts
        return active

    def _finish(self, active: _Active, exc: BaseException | None, end_ns: int) -> None:
        try:
            if active.counts_db_write and active.totals is not None:
                active.totals.add_db_write(max(0, end_ns - active.start_ns))
            if active.recording and exc is not None:
                _operation.record_exception(active.span, exc)
        finally:
            active.span.end(end_time=end_ns)


def transaction(name: str) -> Transaction:
    """A business transaction: ``with``, ``async with``, or a decorator on (async) functions.

    *name* is the span name and ``stripe.transaction``: keep it low-cardinality
    ("checkout", not an order id). On exit the span carries the phase totals of the Stripe
    operations and DB writes made inside it, in ms, and ``stripe.phase.app_ms``: the
    duration minus the other phases, clamped at 0 (concurrent calls inside one transaction
    overlap, so the phases can add up to more than the duration). A nested transaction
    keeps its own totals and adds them to the enclosing one's.
    """
    return Transaction(name)


def db_write(name: str | None = None) -> DbWrite:
    """Time the app's own persistence as the ``db_write`` phase (``with`` or ``async with``).

    For DB code no OpenTelemetry DB instrumentation covers. Its span (named *name*, by
    default ``stripe.db_write``) counts once: DB-instrumentation spans inside the block are
    not counted again.
    """
    return DbWrite(name)
