"""Flush finished spans and metrics when the process is told to stop with SIGTERM.

The OpenTelemetry SDK flushes at a normal interpreter exit (``atexit``), but SIGTERM with
its default disposition kills the process without running ``atexit``: whatever the batch
processor still held is lost. That is how most processes are stopped (``docker stop``,
Kubernetes, systemd) unless a server installs its own handler.

:func:`install` puts in a handler only when SIGTERM still has its default disposition and
only from the main thread; it never replaces an app's or a server's handler (gunicorn's
and uvicorn's workers exit through ``SystemExit``, so ``atexit`` flushes there). The
handler flushes the tracer and meter providers in a helper thread, waits for it at most
the timeout, then restores the default disposition and sends SIGTERM to the process
again, so it still dies by SIGTERM (exit status -15) exactly as before. A second SIGTERM
during the flush kills at once. Nothing here raises.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from opentelemetry import metrics, trace

from stripe_otel._guard import report

__all__ = ["DEFAULT_TIMEOUT_S", "install", "installed", "uninstall"]

#: Seconds the flush may take in all (Kubernetes waits 30 s before SIGKILL by default).
DEFAULT_TIMEOUT_S = 5.0
_MAX_PROVIDERS = 8

_lock = threading.Lock()
# Providers handed to instrument()/configure(); the global ones are looked up at signal
# time, as they may be set after instrumentation starts.
_providers: list[Any] = []
_timeout_s = DEFAULT_TIMEOUT_S


def _after_fork_in_child() -> None:
    # The parent may have held the lock in another thread at fork time.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def installed() -> bool:
    """True while our handler is the process's SIGTERM handler."""
    try:
        return signal.getsignal(signal.SIGTERM) is _on_sigterm
    except Exception:  # noqa: BLE001 - platforms without SIGTERM
        return False


def install(
    tracer_provider: Any = None,
    meter_provider: Any = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """Flush these (and the global) providers on SIGTERM, if nobody else handles it.

    Returns whether our handler is in place. Safe to call again (from a re-instrument or
    a second ``configure()``): the providers are added, the handler installed once.
    """
    global _timeout_s
    try:
        with _lock:
            for provider in (tracer_provider, meter_provider):
                if provider is not None and not any(p is provider for p in _providers):
                    _providers.append(provider)
                    del _providers[:-_MAX_PROVIDERS]
            _timeout_s = timeout_s
        if installed():
            return True
        if threading.current_thread() is not threading.main_thread():
            return False  # signal.signal() only works there
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False  # the app's, a server's, SIG_IGN, or set outside Python
        signal.signal(signal.SIGTERM, _on_sigterm)
        return True
    except Exception as exc:  # noqa: BLE001 - fail open: no flush on SIGTERM, nothing else
        report("shutdown.install", exc)
        return False


def uninstall() -> None:
    """Put the default disposition back if our handler is still the one in place."""
    try:
        with _lock:
            _providers.clear()
        if installed() and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except Exception as exc:  # noqa: BLE001
        report("shutdown.uninstall", exc)


def _flushables() -> list[Callable[..., Any]]:
    with _lock:
        candidates = [*_providers]
    candidates += [trace.get_tracer_provider(), metrics.get_meter_provider()]
    flushes: list[Callable[..., Any]] = []
    seen: list[Any] = []
    for provider in candidates:
        flush = getattr(provider, "force_flush", None)
        if callable(flush) and not any(p is provider for p in seen):
            seen.append(provider)
            flushes.append(flush)
    return flushes


def flush(timeout_s: float) -> None:
    """Flush every known provider, all within *timeout_s*; never raises."""
    deadline = time.monotonic() + timeout_s
    for flush_one in _flushables():
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            return
        try:
            flush_one(timeout_millis=left_ms)
        except Exception as exc:  # noqa: BLE001
            report("shutdown.flush", exc)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    try:
        # A second SIGTERM during the flush kills at once, as it would have before.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        timeout = _timeout_s
        # In a helper thread: the signal interrupted the main thread somewhere, maybe
        # holding a lock the flush needs; then the wait times out instead of hanging.
        worker = threading.Thread(
            target=flush, args=(timeout,), name="stripe-otel-sigterm-flush", daemon=True
        )
        worker.start()
        worker.join(timeout + 0.5)
    except BaseException as exc:  # noqa: BLE001 - the process must still die
        report("shutdown.sigterm", exc if isinstance(exc, Exception) else Exception(repr(exc)))
    finally:
        _die(signum)


def _die(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    # Delivered before kill() returns (it is unblocked in this thread); should it not
    # be, exit with the status a shell reports for death by that signal.
    time.sleep(1.0)
    os._exit(128 + signum)
