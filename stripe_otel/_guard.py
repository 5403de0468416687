"""Fail-open: every hook runs through :func:`safe_call`, which never raises.

An exception in our own code is counted (a metric and :func:`internal_error_counts`)
and logged at most once per interval per hook, with the exception's type and frames
but never its message (a message could quote a value we were looking at).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry.metrics import Counter

from stripe_otel import semconv
from stripe_otel._redact import safe_stacktrace

_T = TypeVar("_T")
_logger = logging.getLogger("stripe_otel")

_lock = threading.Lock()
_counts: dict[str, int] = {}
_last_logged: dict[str, float] = {}
_log_interval = 60.0
_counter: Counter | None = None


def configure(log_interval: float, counter: Counter | None) -> None:
    """Set the log interval and the metric counter (called by the instrumentor)."""
    global _log_interval, _counter
    with _lock:
        _log_interval = log_interval
        _counter = counter
        _last_logged.clear()  # a new configuration starts a new rate-limit window


def internal_error_counts() -> dict[str, int]:
    """How many times each hook has failed since start (a copy)."""
    with _lock:
        return dict(_counts)


def report(hook: str, exc: BaseException) -> None:
    """Count and (rate-limited) log a failure of our own code. Never raises."""
    try:
        now = time.monotonic()
        with _lock:
            _counts[hook] = _counts.get(hook, 0) + 1
            last = _last_logged.get(hook)
            should_log = last is None or now - last >= _log_interval
            if should_log:
                _last_logged[hook] = now
        if _counter is not None:
            _counter.add(1, {semconv.STRIPE_OTEL_HOOK: hook})
        if should_log:
            _logger.warning(
                "stripe-otel: internal error in %s (%s); the Stripe call is unaffected. "
                "Further errors here are counted and logged at most every %.0fs.\n%s",
                hook,
                type(exc).__name__,
                _log_interval,
                safe_stacktrace(exc),
            )
    except Exception:  # noqa: BLE001, S110 - reporting must not fail the payment path either
        pass


def safe_call(fn: Callable[..., _T], *args: Any) -> _T | None:
    """Call ``fn(*args)``; on any exception report it and return None."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - fail open is the point
        report(getattr(fn, "__qualname__", repr(fn)), exc)
        return None
