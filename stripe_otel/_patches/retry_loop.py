"""The SDK's retry loop, run with a stand-in client so each attempt gets its own span.

Inside a recording Stripe operation only; an unsampled one runs the loop untouched, its
retries counted for the metric where the SDK computes each backoff (unless the client class
overrides that method: then the stand-in counts them).
"""

from __future__ import annotations

from typing import Any

from stripe_otel import _attempts, _operation
from stripe_otel._guard import safe_call
from stripe_otel._patching import Patch


def _headers_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # _request_with_retries_internal(method, url, headers, post_data, is_streaming, ...)
    return args[2] if len(args) > 2 else kwargs.get("headers")


def _prepare(wrapped: Any, instance: Any, args: Any, kwargs: Any, is_async: bool) -> Any:
    op = _operation.current()
    loop = getattr(wrapped, "__func__", None)
    if op is None or loop is None:
        return None
    if not op.recording and not _runs_own_backoff(type(instance)):
        return None  # unsampled: no attempt spans; retries are counted by _note_retry
    # Recording, or an unsampled call on a client whose own backoff method bypasses
    # _note_retry: the stand-in counts its attempts for the retry metric.
    stand_in = safe_call(_attempts.begin_loop, instance, op, _headers_arg(args, kwargs), is_async)
    return None if stand_in is None else (op, loop, stand_in)


def _note_retry(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The SDK asks how long to back off once per retry: count it for the retry metric.

    This costs nothing on calls that are not retried, unlike running an unsampled call's
    loop with the attempt-watching stand-in just to count its attempts.
    """
    seconds = wrapped(*args, **kwargs)
    safe_call(_count_retry)
    return seconds


def _count_retry() -> None:
    op = _operation.current()
    if op is not None:
        op.retries += 1


_own_backoff: dict[type, bool] = {}


def _runs_own_backoff(client_class: type) -> bool:
    """The class (an app's HTTPClient subclass) overrides ``_sleep_time_seconds``, so the
    SDK's backoff, where _note_retry counts retries, may never be called."""
    known = _own_backoff.get(client_class)
    if known is None:
        known = False
        for klass in client_class.__mro__:
            if "_sleep_time_seconds" in vars(klass):
                known = not (
                    klass.__name__ == "HTTPClient" and klass.__module__ == "stripe._http_client"
                )
                break
        if len(_own_backoff) < 64:  # a few client classes per app; bounded all the same
            _own_backoff[client_class] = known
    return known


def _watched(instance: Any) -> bool:
    # Decided from the ContextVar first (no call that could raise): most loops run for
    # unsampled calls or outside Stripe operations, and pass straight through.
    op = _operation.current_var.get()
    if op is None or op.done:
        return False
    # The class lookup is guarded: nothing here may raise into the payment call.
    return op.recording or safe_call(_runs_own_backoff, type(instance)) is True


def _sync_loop(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if not _watched(instance):
        return wrapped(*args, **kwargs)
    prepared = safe_call(_prepare, wrapped, instance, args, kwargs, False)
    if prepared is None:
        return wrapped(*args, **kwargs)
    op, loop, stand_in = prepared
    try:
        return loop(stand_in, *args, **kwargs)
    finally:
        safe_call(_attempts.finish_loop, op)


async def _async_loop(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if not _watched(instance):
        return await wrapped(*args, **kwargs)
    prepared = safe_call(_prepare, wrapped, instance, args, kwargs, True)
    if prepared is None:
        return await wrapped(*args, **kwargs)
    op, loop, stand_in = prepared
    try:
        return await loop(stand_in, *args, **kwargs)
    finally:
        safe_call(_attempts.finish_loop, op)


def patches() -> list[Patch]:
    owner = ("stripe._http_client", "HTTPClient")
    return [
        Patch(*owner, "_request_with_retries_internal", _sync_loop),
        Patch(*owner, "_request_with_retries_internal_async", _async_loop),
        Patch(*owner, "_sleep_time_seconds", _note_retry),
    ]
