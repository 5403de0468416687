"""Attempt spans: one child of the operation span per HTTP try of the SDK's retry loop.

The SDK's loop (``HTTPClient._request_with_retries_internal``) calls ``self.request*``
once per attempt, then ``self._should_retry`` and, when it retries,
``self._sleep_time_seconds``. Running the loop with an :class:`AttemptingClient` in place
of ``self`` lets us see each of those calls, on any client class, including an app's own
subclass. An attempt span ends when the attempt's HTTP exchange ends; it stays open (not
yet ended, with its end time noted) until the SDK has decided whether to retry and how
long to back off, so that both facts land on the attempt they belong to.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import wrapt
from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from stripe_otel import _operation, _phase_spans, _phases, _rtt, _runtime, _timing, semconv
from stripe_otel._guard import safe_call
from stripe_otel._headers import header
from stripe_otel._redact import error_type_name, scrub_label, stripe_id


class Attempt:
    """One HTTP try: its span (None when not recorded) and its timeline."""

    __slots__ = ("end_ns", "number", "pending", "span", "timeline", "timeline_token", "token")

    def __init__(
        self,
        number: int,
        span: Span | None,
        token: object = None,
        timeline: _timing.Timeline | None = None,
        timeline_token: object = None,
    ) -> None:
        self.number = number
        self.span = span
        self.token = token
        self.end_ns: int | None = None
        self.timeline = timeline
        self.timeline_token = timeline_token
        #: Attributes learnt after the start (response, retry verdict, backoff), set in one
        #: call as the span ends: the SDK locks and cleans once per call, not per fact.
        self.pending: dict[str, Any] | None = None


def effective_client_name(client: Any, is_async: bool) -> str | None:
    """The transport that really carries the call.

    ``RequestsClient.request_async`` hands the call to an internal ``HTTPXClient``; name
    that one, not the class the app configured.
    """
    if is_async:
        # Imported here: stripe is loaded by now, and this module must not load it.
        from stripe._http_client import HTTPClient  # noqa: PLC0415

        for _ in range(3):
            fallback = getattr(client, "_async_fallback_client", None)
            if fallback is None or type(client).request_async is not HTTPClient.request_async:
                break
            client = fallback
    name = getattr(client, "name", None)
    return name if isinstance(name, str) else type(client).__name__


def begin_loop(client: Any, op: _operation.Operation, headers: Any, is_async: bool) -> Any:
    """Note the request's facts on *op* and return the stand-in client for the loop.

    Runs for unsampled operations too (attempts are counted for the retry metric), but
    only a recording operation has its transport and key looked at.
    """
    if op.recording:
        op.http_client = effective_client_name(client, is_async)
        if isinstance(headers, Mapping):
            op.idempotency_key = header(headers, "Idempotency-Key")
    return AttemptingClient(client, op)


def finish_loop(op: _operation.Operation) -> None:
    """The retry loop returned or raised: what follows is the SDK decoding the response."""
    op.loop_end_perf = time.perf_counter_ns()
    end_loop(op)


def end_loop(op: _operation.Operation) -> None:
    """The loop is over (returned or raised): end an attempt still waiting for a verdict."""
    attempt = op.pending_attempt
    op.pending_attempt = None
    if attempt is not None and attempt.span is not None:
        if attempt.pending:
            attempt.span.set_attributes(attempt.pending)
        attempt.span.end(end_time=attempt.end_ns)


def start_attempt(op: _operation.Operation) -> Attempt:
    end_loop(op)  # defensive: a previous attempt nobody decided on
    op.attempts += 1
    runtime = _runtime.current
    if runtime is None or not op.recording:
        return Attempt(op.attempts, None)  # counted for metrics, nothing recorded
    timeline, timeline_token = _timing.start() if runtime.settings.phases else (None, None)
    if not runtime.settings.attempt_spans:
        return Attempt(op.attempts, None, None, timeline, timeline_token)
    attributes: dict[str, Any] = {semconv.STRIPE_ATTEMPT: op.attempts}
    if op.attempts > 1:
        attributes[semconv.HTTP_REQUEST_RESEND_COUNT] = op.attempts - 1
    if runtime.datadog_names:
        attributes.update(_phase_spans.datadog_names(semconv.SPAN_ATTEMPT, op))
    span = runtime.tracer.start_span(
        semconv.SPAN_ATTEMPT,
        kind=SpanKind.INTERNAL,
        attributes=attributes,
        start_time=timeline.wall0 if timeline is not None else None,
    )
    # Current during the exchange, so transport-level spans nest under it.
    token = context.attach(trace.set_span_in_context(span))
    return Attempt(op.attempts, span, token, timeline, timeline_token)


def _close(op: _operation.Operation, attempt: Attempt, responded: bool) -> None:
    end_perf = time.perf_counter_ns()
    timeline = attempt.timeline
    if timeline is not None:
        attempt.timeline = None
        _timing.stop(attempt.timeline_token)
        attempt.end_ns = timeline.wall(end_perf)
    else:
        attempt.end_ns = time.time_ns()
    if attempt.token is not None:
        token, attempt.token = attempt.token, None
        context.detach(token)  # type: ignore[arg-type]
    op.pending_attempt = attempt
    if timeline is not None:
        safe_call(_account_phases, op, attempt, timeline, end_perf, responded)


def _account_phases(
    op: _operation.Operation,
    attempt: Attempt,
    timeline: _timing.Timeline,
    end_perf: int,
    responded: bool,
) -> None:
    """Add this attempt's phases to the operation and emit its phase spans."""
    runtime = _runtime.current
    if runtime is None:
        return
    if not responded:
        # No response (connection failed or reset): the attempt was all network.
        op.network_ns += end_perf - timeline.perf0
        return
    rtt_ns, source = _rtt_for(op.server, timeline)
    result = _phases.breakdown(timeline, end_perf, rtt_ns)
    if result is None:
        # A transport we cannot time (aiohttp, pycurl, a custom client).
        op.phases_available = False
        if attempt.span is not None:
            attempt.span.set_attribute(semconv.STRIPE_PHASE_AVAILABLE, False)
        return
    if op.phases_available is None:
        op.phases_available = True
    op.network_ns += result.total(semconv.PHASE_NETWORK)
    op.api_processing_ns += result.total(semconv.PHASE_API_PROCESSING)
    parent = attempt.span if attempt.span is not None else op.span
    _phase_spans.emit(
        runtime.tracer,
        parent,
        result,
        reused=not timeline.opened_connection,
        rtt_source=source,
        datadog_for=op if runtime.datadog_names else None,
    )


def _rtt_for(
    server: tuple[str, int] | None, timeline: _timing.Timeline
) -> tuple[int | None, str | None]:
    if server is None:
        return None, None
    source = "earlier_connections"
    if timeline.opened_connection:
        _dns, connect, tls = _phases.handshake_durations(timeline)
        if tls is not None and timeline.tls_cpu_ns:
            tls = max(0, tls - timeline.tls_cpu_ns)
        sample = _rtt.sample_from_handshakes(connect, tls, timeline.tls_version)
        if sample is not None:
            _rtt.record(server, sample)
            source = "this_connection"
    estimate = _rtt.estimate(server)
    return estimate, source if estimate is not None else None


def attempt_returned(op: _operation.Operation, attempt: Attempt, response: Any) -> None:
    _close(op, attempt, responded=True)
    status, headers = None, None
    if isinstance(response, tuple) and len(response) == 3:
        status, headers = response[1], response[2]
    op.status_code = status if isinstance(status, int) else None
    op.response_headers = headers
    if attempt.span is None:
        return
    should_retry = header(headers, "Stripe-Should-Retry")
    attributes = {
        semconv.HTTP_RESPONSE_STATUS_CODE: op.status_code,
        semconv.STRIPE_REQUEST_ID: stripe_id(header(headers, "Request-Id")),
        semconv.STRIPE_SHOULD_RETRY: should_retry == "true" if should_retry else None,
        semconv.STRIPE_RATE_LIMITED_REASON: scrub_label(
            header(headers, "Stripe-Rate-Limited-Reason")
        )
        if status == 429
        else None,
    }
    if isinstance(status, int) and status >= 400:
        attributes[semconv.ERROR_TYPE] = str(status)
        attempt.span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
    attempt.pending = {k: v for k, v in attributes.items() if v is not None}


def attempt_raised(op: _operation.Operation, attempt: Attempt, exc: BaseException) -> None:
    _close(op, attempt, responded=False)
    if attempt.span is not None:
        attempt.span.set_attribute(semconv.ERROR_TYPE, error_type_name(exc))
        _operation.record_exception(attempt.span, exc)


def retry_decided(op: _operation.Operation, will_retry: bool) -> None:
    attempt = op.pending_attempt
    if attempt is not None and attempt.span is not None:
        _pending(attempt)[semconv.STRIPE_RETRY_WILL_RETRY] = bool(will_retry)
    if not will_retry:
        end_loop(op)


def backoff_chosen(op: _operation.Operation, seconds: float) -> None:
    attempt = op.pending_attempt
    if attempt is not None and attempt.span is not None:
        _pending(attempt)[semconv.STRIPE_RETRY_BACKOFF_MS] = float(seconds) * 1000.0
    end_loop(op)


def _pending(attempt: Attempt) -> dict[str, Any]:
    if attempt.pending is None:
        attempt.pending = {}
    return attempt.pending


class AttemptingClient(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The SDK's HTTP client, as seen by its own retry loop while we watch the attempts.

    Every other attribute (``_thread_local``, ``_add_telemetry_header``, ...) reaches the
    real client unchanged.
    """

    def __init__(self, client: Any, op: _operation.Operation) -> None:
        super().__init__(client)
        self._self_op = op

    def _self_attempt(self, send: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        op = self._self_op
        attempt = safe_call(start_attempt, op)
        if attempt is None:
            return send(*args, **kwargs)
        try:
            response = send(*args, **kwargs)
        except BaseException as exc:
            safe_call(attempt_raised, op, attempt, exc)
            raise
        safe_call(attempt_returned, op, attempt, response)
        return response

    async def _self_attempt_async(
        self, send: Callable[..., Awaitable[Any]], args: Any, kwargs: Any
    ) -> Any:
        op = self._self_op
        attempt = safe_call(start_attempt, op)
        if attempt is None:
            return await send(*args, **kwargs)
        try:
            response = await send(*args, **kwargs)
        except BaseException as exc:
            safe_call(attempt_raised, op, attempt, exc)
            raise
        safe_call(attempt_returned, op, attempt, response)
        return response

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_attempt(self.__wrapped__.request, args, kwargs)

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_attempt(self.__wrapped__.request_stream, args, kwargs)

    async def request_async(self, *args: Any, **kwargs: Any) -> Any:
        return await self._self_attempt_async(self.__wrapped__.request_async, args, kwargs)

    async def request_stream_async(self, *args: Any, **kwargs: Any) -> Any:
        return await self._self_attempt_async(self.__wrapped__.request_stream_async, args, kwargs)

    def _should_retry(self, *args: Any, **kwargs: Any) -> Any:
        will_retry = self.__wrapped__._should_retry(*args, **kwargs)
        safe_call(retry_decided, self._self_op, will_retry)
        return will_retry

    def _sleep_time_seconds(self, *args: Any, **kwargs: Any) -> Any:
        seconds = self.__wrapped__._sleep_time_seconds(*args, **kwargs)
        safe_call(backoff_chosen, self._self_op, seconds)
        return seconds
