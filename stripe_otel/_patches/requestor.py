"""Operation entry points: every way the SDK issues an API call.

``_APIRequestor.request*`` covers global style (``stripe.PaymentIntent.create``),
instance methods, ``StripeClient`` services, v1 and v2, list pages and streaming; it
includes error interpretation and decoding into ``StripeObject``. ``request_raw*`` is
the inner step every call passes through: wrapped too, it is a no-op when an operation
is already open and the entry point for anything that calls it directly.
``StripeClient.raw_request*`` calls ``request_raw`` and then interprets the response
itself, so it is an entry point of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context

from stripe_otel import _metadata_link, _operation, _runtime
from stripe_otel._guard import safe_call
from stripe_otel._patching import Patch
from stripe_otel._suppression import instrumentation_suppressed

_Extracted = tuple[Any, str, str, Mapping[str, Any] | None, str]
_Extractor = Callable[[Any, tuple[Any, ...], dict[str, Any]], _Extracted]

# RequestOptions keys that StripeClient.raw_request takes among its params.
_REQUEST_OPTION_KEYS = frozenset(
    {"api_key", "stripe_account", "stripe_context", "stripe_version", "idempotency_key"}
)


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _from_requestor(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Extracted:
    # request*(method, url, params=None, options=None, ..., *, base_address, ...)
    return (
        instance,
        _arg(args, kwargs, 0, "method"),
        _arg(args, kwargs, 1, "url"),
        _arg(args, kwargs, 3, "options"),
        kwargs.get("base_address") or "api",
    )


def _from_raw_request(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Extracted:
    # StripeClient.raw_request(method_, url_, **params): options travel among params.
    options = {k: v for k, v in kwargs.items() if k in _REQUEST_OPTION_KEYS}
    return (
        instance._requestor,
        _arg(args, kwargs, 0, "method_"),
        _arg(args, kwargs, 1, "url_"),
        options,
        kwargs.get("base") or "api",
    )


def _start(
    extract: _Extractor, instance: Any, args: Any, kwargs: Any, streaming: bool
) -> _operation.Operation | None:
    requestor, method, url, options, base_address = extract(instance, args, kwargs)
    return _operation.start(requestor, method, url, options, base_address, streaming)


def _end(op: _operation.Operation, result: Any, exc: BaseException | None) -> None:
    op.done = True
    safe_call(_operation.detach, op)
    if op.token is not None:  # detach failed: restore the caller's context directly
        safe_call(context.detach, op.token)
    # (a stale op.var_token is harmless: op.done keeps the operation from being current)
    safe_call(_operation.finish, op, result, exc)
    if op.recording:  # a non-recording span has nothing to end
        safe_call(_ensure_ended, op)


def _ensure_ended(op: _operation.Operation) -> None:
    # If finish failed part-way, still end the span: a span never ended is a span lost,
    # and its children would point at a parent the backend never receives.
    if op.span.is_recording():
        op.span.end()


def _with_traceparent(op: _operation.Operation, args: Any, kwargs: Any) -> Any:
    """(args, kwargs) with the opt-in traceparent in the params' metadata, or None."""
    runtime = _runtime.current
    if runtime is None or not runtime.settings.webhook_metadata_link or not op.recording:
        return None
    params = args[2] if len(args) > 2 else kwargs.get("params")
    options = args[3] if len(args) > 3 else kwargs.get("options")
    key = options.get("idempotency_key") if isinstance(options, dict) else None
    new = _metadata_link.with_traceparent(
        op.verb, op.template, params, op.span.get_span_context(), key
    )
    if new is None:
        return None
    if len(args) > 2:
        return (*args[:2], new, *args[3:]), kwargs
    return args, {**kwargs, "params": new}


def _should_start() -> bool:
    return _operation.current() is None and not instrumentation_suppressed()


def _sync_entry(extract: _Extractor, streaming: bool) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        op = (
            safe_call(_start, extract, instance, args, kwargs, streaming)
            if _should_start()
            else None
        )
        if op is None:
            return wrapped(*args, **kwargs)
        if op.recording and extract is _from_requestor:
            args, kwargs = safe_call(_with_traceparent, op, args, kwargs) or (args, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _end(op, None, exc)
            raise
        _end(op, result, None)
        return result

    return wrapper


def _async_entry(extract: _Extractor, streaming: bool) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        op = (
            safe_call(_start, extract, instance, args, kwargs, streaming)
            if _should_start()
            else None
        )
        if op is None:
            return await wrapped(*args, **kwargs)
        if op.recording and extract is _from_requestor:
            args, kwargs = safe_call(_with_traceparent, op, args, kwargs) or (args, kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _end(op, None, exc)
            raise
        _end(op, result, None)
        return result

    return wrapper


def _raw_entry(sync: bool) -> Callable[..., Any]:
    """request_raw*(..., is_streaming=False, ...): there, streaming is an argument."""
    make = _sync_entry if sync else _async_entry
    plain, streaming = make(_from_requestor, False), make(_from_requestor, True)

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        chosen = streaming if _arg(args, kwargs, 4, "is_streaming") else plain
        return chosen(wrapped, instance, args, kwargs)

    return wrapper


def patches() -> list[Patch]:
    requestor = ("stripe._api_requestor", "_APIRequestor")
    client = ("stripe._stripe_client", "StripeClient")
    return [
        Patch(*requestor, "request", _sync_entry(_from_requestor, False)),
        Patch(*requestor, "request_async", _async_entry(_from_requestor, False)),
        Patch(*requestor, "request_stream", _sync_entry(_from_requestor, True)),
        Patch(*requestor, "request_stream_async", _async_entry(_from_requestor, True)),
        Patch(*requestor, "request_raw", _raw_entry(sync=True)),
        Patch(*requestor, "request_raw_async", _raw_entry(sync=False)),
        Patch(*client, "raw_request", _sync_entry(_from_raw_request, False)),
        Patch(*client, "raw_request_async", _async_entry(_from_raw_request, False)),
    ]
